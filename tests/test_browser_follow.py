"""Following a pilot in headless Chromium: log in, pick a plan on the plan
page, and (once subscribed, as the profile's subscribe button does) see the
watch period on the subscriptions page with mirroring still closed.
Runs with ``-m browser``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import broker_account_create
from pilots.models import Plan, UserPlan
from pilots.subscriptions import pilot_publish, subscription_start
from routing.services.contracts import contract_specs_sync
from tests.browser import ChromiumLiveServerTestCase


@pytest.mark.browser
class FollowTests(ChromiumLiveServerTestCase):
    def setUp(self) -> None:
        contract_specs_sync()  # the flush between transactional tests empties it
        alice = User.objects.create_user("alice", password="alice-password-1")
        self.pilot = pilot_publish(
            owner=alice,
            account=broker_account_create(owner=alice, name="Lead", balance=Decimal(50_000)),
            display_name="Alice NQ",
            markets=["NQ"],
            nominal_balance=Decimal(50_000),
            at=timezone.now() - timedelta(days=40),
        )
        self.bob = User.objects.create_user("bob", password="bob-password-1")
        Plan.objects.create(name="Monthly", term="monthly", max_pilots=1)

    def test_pick_a_plan_then_see_the_watch_period(self) -> None:
        page = self.browser.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "bob")
        page.fill("#id_password", "bob-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")
        # Pick a plan from the nav's plan page.
        page.click("nav >> text=Plans")
        expect(page.locator('[data-testid="current-plan"]')).to_contain_text("no plan yet")
        page.click("text=Pick Monthly")
        expect(page.locator(".messages")).to_contain_text("You are on the Monthly plan until")
        expect(page.locator('[data-testid="current-plan"]')).to_contain_text("Monthly")
        assert UserPlan.objects.get(user=self.bob).plan.name == "Monthly"
        # Subscribed (what the pilot profile's subscribe button does).
        subscription = subscription_start(subscriber=self.bob, pilot=self.pilot, at=timezone.now())
        page.click("nav >> text=Subscriptions")
        card = page.locator(f'[data-testid="subscription-{subscription.pk}"]')
        expect(card).to_contain_text("Alice NQ")
        expect(card.locator('[data-testid="watch-period"]')).to_contain_text(
            f"Watching until {subscription.watch_ends_at:%Y-%m-%d %H:%M} UTC"
        )
        expect(card).to_contain_text("Watch: Alice NQ")
        expect(card.locator('[data-testid="mirror-disabled"]')).to_be_disabled()
        expect(card.locator('[data-testid="no-trades"]')).to_be_visible()
