"""Figures as traders write them: no scientific notation on any page or in
the live snapshot (Decimal's own str() writes 21520 as 2.152E+4 and a ratio
of 10 as 1E+1 once normalized)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.services import broker_account_create
from conftest import Route
from journal.models import Position
from routing.models import Follower

pytestmark = pytest.mark.django_db


def test_the_snapshot_writes_prices_and_ratios_without_exponents(route: Route) -> None:
    Follower.objects.filter(pk=route.large_follower.pk).update(ratio=Decimal(10))
    Position.objects.create(
        account=route.large, symbol="MNQH6", qty=3, avg_price=Decimal("21520.000000")
    )
    client = Client()
    client.force_login(route.owner)
    data = client.get(f"/api/groups/{route.group.pk}/snapshot/").json()
    text = str(data)
    assert "E+" not in text
    [large] = [f for f in data["followers"] if f["account_id"] == route.large.pk]
    assert large["ratio"] == "10"
    # MNQ ticks 0.25: prices to two decimals, never 2.152E+4.
    assert large["positions"] == [
        {
            "symbol": "MNQH6",
            "qty": 3,
            "avg_price": "21520.00",
            "mark": None,
            "pnl": "0.00",
            "tracked": 0,
            "untracked": 0,
            "closing": False,
        }
    ]


def test_the_follower_added_message_writes_ten_as_ten(route: Route) -> None:
    account = broker_account_create(owner=route.owner, name="Eval 50K", balance=Decimal(50_000))
    client = Client()
    client.force_login(route.owner)
    response = client.post(
        f"/groups/{route.group.pk}/followers/add/",
        {"account": account.pk, "ratio": "10"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Eval 50K now follows Evals at ratio 10." in response.text
    assert "1E+1" not in response.text
