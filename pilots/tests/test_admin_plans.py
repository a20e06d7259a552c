"""Staff assign plans in the admin, through the plan rules and the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry
from pilots.models import Plan, UserPlan
from pilots.subscriptions import pilot_publish, subscription_start, user_plan_set

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_staff_assign_a_plan_and_the_journal_says_who_and_why(
    staff: User, staff_client: Client, bob: User
) -> None:
    yearly = Plan.objects.create(name="Yearly", term="yearly", max_pilots=1)
    url = "/admin/pilots/userplan/add/"
    # Act 1: no reason.
    refused = staff_client.post(url, {"user": bob.pk, "plan": yearly.pk})
    # Assert 1: refused, nothing held, nothing journaled.
    assert refused.status_code == 200
    assert not UserPlan.objects.filter(user=bob).exists()
    # Act 2
    response = staff_client.post(url, {"user": bob.pk, "plan": yearly.pk, "reason": "paid by wire"})
    assert response.status_code == 302, response.content.decode()[:2000]
    held = UserPlan.objects.get(user=bob)
    assert held.plan == yearly
    assert held.ends_at is not None and (held.ends_at - held.started_at).days in (365, 366)
    entry = JournalEntry.objects.get(owner_id=bob.pk, event_type=EventType.PLAN_CHANGED)
    assert (entry.actor_label, entry.actor_user_id) == ("staff", staff.pk)
    assert entry.message == "Plan set to Yearly (by staff staff: paid by wire)"
    assert entry.extra_data == {"reason": "paid by wire"}


def test_a_plan_smaller_than_the_users_subscriptions_is_refused_in_the_form(
    staff_client: Client, route: Route, bob: User
) -> None:
    lifetime = Plan.objects.create(name="Lifetime", term="lifetime", max_pilots=3)
    monthly = Plan.objects.create(name="Monthly", term="monthly", max_pilots=1)
    user_plan_set(user=bob, plan=lifetime, at=T0, actor=bob)
    alice = route.owner
    second = broker_account_create(owner=alice, name="Lead Two", balance=Decimal(0))
    for name, account in (("One", route.leader), ("Two", second)):
        pilot = pilot_publish(
            owner=alice,
            account=account,
            display_name=name,
            markets=["NQ"],
            nominal_balance=Decimal(50_000),
            at=T0,
        )
        subscription_start(subscriber=bob, pilot=pilot, at=T0)
    held = UserPlan.objects.get(user=bob)
    # Act
    response = staff_client.post(
        f"/admin/pilots/userplan/{held.pk}/change/",
        {"user": bob.pk, "plan": monthly.pk, "reason": "downgrade asked"},
    )
    # Assert: the form comes back with the reason; nothing changed.
    assert response.status_code == 200
    assert "bob follows 2: end 1 subscription(s) first" in response.content.decode()
    assert UserPlan.objects.get(user=bob).plan == lifetime
