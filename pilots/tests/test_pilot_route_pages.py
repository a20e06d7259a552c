"""A subscriber's pages never show the pilot's account name.

The pilot publishes an account under a display name; the route mirroring it
belongs to the subscriber, whose group, budget, edit and dashboard pages name
its leader "a published pilot" (issue 11, "Privacy").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import broker_account_create
from pilots.models import Plan
from pilots.subscriptions import (
    WATCH_PERIOD,
    pilot_publish,
    subscription_mirror,
    subscription_start,
    user_plan_set,
)
from routing.models import CopyGroup
from routing.services.contracts import contract_specs_sync

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SECRET = "APEX-4977960000002"  # the pilot's account name: the pilot's to show


def test_the_subscribers_pages_name_the_leader_a_published_pilot(alice: User, bob: User) -> None:
    # Arrange: Alice publishes her account SECRET; Bob mirrors it.
    contract_specs_sync()
    account = broker_account_create(owner=alice, name=SECRET, balance=Decimal(50_000))
    pilot = pilot_publish(
        owner=alice,
        account=account,
        display_name="Alice NQ",
        markets=["NQ"],
        nominal_balance=Decimal(50_000),
        at=T0,
    )
    user_plan_set(
        user=bob,
        plan=Plan.objects.create(name="M", term="monthly", max_pilots=1),
        at=T0,
        actor=bob,
    )
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    personal = broker_account_create(owner=bob, name="Bob personal", balance=Decimal(40_000))
    group = subscription_mirror(
        subscription=subscription, account=personal, ratio=Decimal(1), at=T0 + WATCH_PERIOD
    )
    client = Client()
    client.force_login(bob)
    # Act: every page of Bob's that names a route's leader.
    pages = {
        "/": client.get("/"),
        "group": client.get(f"/groups/{group.pk}/"),
        "edit": client.get(f"/groups/{group.pk}/edit/"),
        "budget": client.get(f"/groups/{group.pk}/budget/"),
        "delete": client.get(f"/groups/{group.pk}/delete/"),
    }
    # Assert
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert SECRET not in response.content.decode(), name
    assert "a published pilot" in pages["group"].content.decode()
    assert CopyGroup.objects.filter(owner=bob, pilot_route=True).count() == 2  # watch + mirror
    assert not CopyGroup.objects.filter(owner=alice, pilot_route=True).exists()
