"""Dollars in the live pages' JSON round as the pages' own figures do.

Defect (found reviewing issue 13's payloads): the cockpit snapshot and the
performance page's equity sent dollars rounded half to even, while every
page prints money rounded half up (:func:`copytrade.core.numbers.money`).
A ZN tick is 1/64 point x $1000 = $15.625: the trades page showed
``+$15.63`` and the cockpit and the equity table ``+$15.62`` for the same
position. One helper now rounds both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client

from conftest import Route
from copytrade.core.numbers import cents, money
from journal.models import Position
from routing.equity import AccountCurve, DayRow, GroupEquity, group_equity_payload

ZN_TICK_DOLLARS = Decimal("15.625")  # 0.015625 points x $1,000 per point


def _curve(value: Decimal) -> AccountCurve:
    return AccountCurve(1, "ZN", [Decimal(0), value], value, -value, Decimal(0))


def test_equity_dollars_round_as_the_pages_print_money() -> None:
    equity = GroupEquity(
        first=date(2026, 3, 9),
        last=date(2026, 3, 9),
        resolution="fill",
        includes_now=False,
        times=[datetime(2026, 3, 9, 14, tzinfo=UTC), datetime(2026, 3, 9, 15, tzinfo=UTC)],
        leader=_curve(ZN_TICK_DOLLARS),
        followers=[_curve(ZN_TICK_DOLLARS * 3)],
        group=_curve(ZN_TICK_DOLLARS * 3),
        variance=[],
        days=[DayRow(date(2026, 3, 9), ZN_TICK_DOLLARS, -ZN_TICK_DOLLARS)],
    )
    payload = group_equity_payload(equity)
    assert money(ZN_TICK_DOLLARS) == "+$15.63"
    assert (payload["leader"]["realized"], payload["leader"]["open"]) == ("15.63", "-15.63")
    assert payload["followers"][0]["realized"] == "46.88"  # 46.875
    assert payload["days"] == [{"day": "2026-03-09", "leader": "15.63", "followers": "-15.63"}]


@pytest.mark.django_db
def test_the_cockpit_positions_round_as_the_pages_print_money(route: Route) -> None:
    # Funded 150K holds 1 ZN bought at 110.000000, marked one tick up.
    Position.objects.create(
        account=route.large,
        symbol="ZNH6",
        qty=1,
        avg_price=Decimal("110.000000"),
        mark_price=Decimal("110.015625"),
        unrealized_pnl=ZN_TICK_DOLLARS,
    )
    client = Client()
    client.force_login(route.owner)
    snap = client.get(f"/api/groups/{route.group.pk}/snapshot/").json()
    [row] = [f for f in snap["followers"] if f["account_id"] == route.large.pk]
    [position] = row["positions"]
    assert (position["mark"], position["pnl"]) == ("110.015625", "15.63")
    assert row["unrealized_pnl"] == "15.63"


def test_the_shared_helper_rounds_half_up_and_keeps_none() -> None:
    assert cents(ZN_TICK_DOLLARS) == "15.63"
    assert cents(Decimal("-0.005")) == "-0.01"
    assert cents(None) is None
