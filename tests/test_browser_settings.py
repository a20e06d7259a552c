"""Settings in headless Chromium: a trader maps NQ to MNQ on a group, fills
an evaluation account's risk limits from the Topstep 50K preset (in place,
no reload), edits one figure and saves; then writes the day's session
review from the journal. Screenshots of each page go to test-artifacts/
(git-ignored). Runs with ``-m browser`` (see ``test_browser_live_feed``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.services import broker_account_create
from journal.models import SessionReview
from routing.models import ContractMapping, RiskLimit
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from tests.browser import ChromiumLiveServerTestCase

SHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "settings"


@pytest.mark.browser
class SettingsPagesTests(ChromiumLiveServerTestCase):
    def setUp(self) -> None:
        contract_specs_sync()  # the flush between transactional tests empties it
        self.user = User.objects.create_user("trader", password="trader-password-1")
        leader = broker_account_create(owner=self.user, name="Lead", balance=Decimal(150_000))
        self.group = copy_group_create(owner=self.user, name="Evals", leader=leader)
        self.eval = broker_account_create(
            owner=self.user, name="Eval 50K", balance=Decimal(50_000), kind="evaluation"
        )
        follower_add(group=self.group, account=self.eval, ratio=Decimal("0.5"))
        self.errors: list[str] = []

    def _page(self) -> Page:
        page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        # Script errors, and any answer of ours that failed (the browser's
        # own favicon request aside: the site has none).
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        return page

    def _shot(self, page: Page, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def test_map_a_contract_apply_a_preset_edit_it_and_save(self) -> None:
        page = self._page()
        # The group's settings, then its contract mappings.
        page.get_by_role("link", name="Settings").click()
        expect(page.get_by_test_id("mappings-summary")).to_contain_text("None")
        page.get_by_test_id("mappings-link").click()
        page.select_option('select[name="mappings-0-leader_root"]', "NQ")
        page.select_option('select[name="mappings-0-follower_root"]', "MNQ")
        self._shot(page, "1-mappings-filled")
        page.get_by_role("button", name="Save mappings").click()
        expect(page.locator(".messages")).to_contain_text("Saved the contract mappings of Evals.")
        expect(page.get_by_test_id("mappings-stored")).to_contain_text("NQ \u2192 MNQ")
        self._shot(page, "2-mappings-saved")
        assert list(ContractMapping.objects.values_list("leader_root", "follower_root")) == [
            ("NQ", "MNQ")
        ]

        # The evaluation account's risk limits: the Topstep 50K preset fills
        # the form in place (same document: the marker survives).
        page.get_by_role("link", name="Back to the settings").click()
        expect(page.get_by_test_id("mappings-summary")).to_contain_text("NQ \u2192 MNQ")
        page.get_by_role("link", name="Risk limits").click()
        page.evaluate("window.__marker = 'same page'")
        page.get_by_test_id("preset-topstep-50k").click()
        expect(page.get_by_test_id("preset-note")).to_contain_text(
            "Filled from Topstep 50K Trading Combine"
        )
        assert page.evaluate("window.__marker") == "same page"
        for field, value in {
            "daily_loss": "1000",
            "max_drawdown": "2000",
            "drawdown_mode": "trailing_eod",
            "max_position": "5",
            "profit_target": "3000",
            "consistency_pct": "50",
        }.items():
            expect(page.locator(f"#id_{field}")).to_have_value(value)
        # The trader tightens the daily loss and adds a daily profit target.
        page.fill("#id_daily_loss", "800")
        page.fill("#id_daily_profit_target", "600")
        self._shot(page, "3-limits-preset-applied")
        page.get_by_role("button", name="Save risk limits").click()
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        expect(page.locator(".messages")).to_contain_text("Saved the risk limits of Eval 50K.")
        self._shot(page, "4-group-after-save")
        limit = RiskLimit.objects.get(account=self.eval)
        assert (limit.daily_loss, limit.max_drawdown, limit.drawdown_mode) == (
            Decimal(800),
            Decimal(2000),
            "trailing_eod",
        )
        assert (limit.max_position, limit.profit_target, limit.consistency_pct) == (
            5,
            Decimal(3000),
            Decimal(50),
        )
        assert limit.daily_profit_target == Decimal(600)
        assert self.errors == []

    def test_write_the_days_review_from_the_journal(self) -> None:
        page = self._page()
        page.goto(f"{self.live_server_url}/journal/")
        page.get_by_test_id("review-write").click()
        page.fill("#id_went_well", "Waited for the open drive")
        page.fill("#id_to_change", "No trades after 14:30")
        page.get_by_role("button", name="Save review").click()
        review = page.get_by_test_id("review")
        expect(review).to_contain_text("No trades after 14:30")
        self._shot(page, "5-journal-review")
        assert SessionReview.objects.get().went_well == "Waited for the open drive"
        assert self.errors == []
