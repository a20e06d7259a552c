"""The price collar in the ingest (issue 10, defect 8).

Mark 21000 and a 5 % collar allow 19950..22050: a leader entry at 22050.25
is not copied (every follower decision BLOCKED, the reason journaled with
price, mark and band), one at 22050 is; without a mark the first fill
passes. A leader *exit* at a collared price is still copied (exits are never
blocked), at market: the leader's price is not the orders' reference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import override_settings

from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import order_request

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
REASON = (
    "PRICE_COLLAR: leader price 22050.25 is outside 19950..22050 "
    "(5% of last mark 21000); not copied"
)


def _fill(event_id: str, price: str) -> LeaderFill:
    return LeaderFill(event_id, "lead", "MNQH5", Side.BUY, 2, Decimal(price), T0)


def _mark(route: Route, price: str) -> None:
    Position.objects.create(
        account=route.leader,
        symbol="MNQH5",
        qty=1,
        avg_price=Decimal(price),
        mark_price=Decimal(price),
    )


@override_settings(PRICE_COLLAR_PCT=Decimal(5))
def test_a_price_one_tick_outside_the_collar_is_blocked_for_every_follower(route: Route) -> None:
    _mark(route, "21000")

    result = leader_event_ingest(account=route.leader, fill=_fill("f1", "22050.25"), source="t")

    assert result.orders
    assert {(o.status, o.qty) for o in result.orders} == {(CopyOrder.Status.BLOCKED, 0)}
    assert {o.reason for o in result.orders} == {REASON}
    journaled = JournalEntry.objects.filter(event_type=EventType.COPY_ORDER_BLOCKED)
    assert journaled.count() == len(result.orders)
    assert all(REASON in entry.message for entry in journaled)


@override_settings(PRICE_COLLAR_PCT=Decimal(5))
def test_a_price_on_the_edge_of_the_collar_is_copied(route: Route) -> None:
    _mark(route, "21000")

    result = leader_event_ingest(account=route.leader, fill=_fill("f1", "22050"), source="t")

    assert {o.status for o in result.orders} == {CopyOrder.Status.PENDING}


@override_settings(PRICE_COLLAR_PCT=Decimal(5))
def test_without_a_mark_the_first_fill_is_copied(route: Route) -> None:
    result = leader_event_ingest(account=route.leader, fill=_fill("f1", "22050.25"), source="t")

    assert {o.status for o in result.orders} == {CopyOrder.Status.PENDING}


@override_settings(PRICE_COLLAR_PCT=Decimal(5))
def test_an_exit_outside_the_collar_is_still_copied_at_market(route: Route) -> None:
    # Leader +2 at 21000: followers +1 (ratio 0.5) and +6 (ratio 3).
    leader_event_ingest(account=route.leader, fill=_fill("f1", "21000"), source="t")
    exit_fill = LeaderFill("f2", "lead", "MNQH5", Side.SELL, 2, Decimal("22050.25"), T0)

    result = leader_event_ingest(account=route.leader, fill=exit_fill, source="t")

    sent = {(o.account.name, o.status, o.side, o.qty, o.target) for o in result.orders}
    assert sent == {
        ("Eval 25K", CopyOrder.Status.PENDING, "sell", 1, 0),
        ("Funded 150K", CopyOrder.Status.PENDING, "sell", 6, 0),
    }
    assert {o.reason for o in result.orders} == {
        "PRICE_COLLAR: leader price 22050.25 is outside 19950..22050 "
        "(5% of last mark 21000); exit sent at market"
    }
    assert {order_request(o).reference_price for o in result.orders} == {None}
