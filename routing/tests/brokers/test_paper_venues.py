"""Paper exchange venues (issue 10, defect 2): each venue has its own prices.

Accounts "a" (venue route-1) and "b" (venue route-2) trade MNQH5 (tick 0.25,
$2/pt). A print on one venue values, fills and flattens only that venue's
accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.types import LeaderFill, OrderType, Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
pytestmark = pytest.mark.asyncio


async def _broker() -> PaperBroker:
    broker = PaperBroker(SPECS_BY_ROOT, fill_id_prefix="v")
    await broker.connect()
    broker.assign_venue("a", "route-1")
    broker.assign_venue("b", "route-2")
    return broker


def _buy(account: str, coid: str, price: str) -> OrderRequest:
    return OrderRequest(
        account=account,
        client_order_id=coid,
        symbol="MNQH5",
        side=Side.BUY,
        qty=2,
        reference_price=D(price),
        time=T0,
    )


async def test_mark_on_one_venue_values_only_its_accounts() -> None:
    broker = await _broker()
    await broker.place_order(_buy("a", "a1", "21000.00"))
    await broker.place_order(_buy("b", "b1", "21000.00"))

    broker.mark("MNQH5", D("1.00"), T0 + timedelta(seconds=1), venue="route-1")

    [a] = await broker.positions("a")
    [b] = await broker.positions("b")
    # a: (1.00 - 21000.00) x 2 x $2 = -83,996.00; b has seen no print on its venue.
    assert (a.mark, a.unrealized_pnl) == (D("1.00"), D("-83996.00"))
    assert (b.mark, b.unrealized_pnl) == (None, D("0"))
    assert broker.last_mark("MNQH5", venue="route-1") == D("1.00")
    assert broker.last_mark("MNQH5", venue="route-2") is None
    assert broker.last_mark("MNQH5") is None  # the shared venue saw nothing either


async def test_print_on_one_venue_never_triggers_another_venues_stop() -> None:
    broker = await _broker()
    stop = OrderRequest(
        account="b",
        client_order_id="b-stop",
        symbol="MNQH5",
        side=Side.SELL,
        qty=1,
        order_type=OrderType.STOP,
        stop_price=D("20990.00"),
        time=T0,
    )
    assert (await broker.place_order(stop)).status is OrderStatus.WORKING

    broker.mark("MNQH5", D("1.00"), T0 + timedelta(seconds=1), venue="route-1")
    assert (await broker.query_order("b", "b-stop")).status is OrderStatus.WORKING

    broker.mark("MNQH5", D("20989.00"), T0 + timedelta(seconds=2), venue="route-2")
    filled = await broker.query_order("b", "b-stop")
    assert (filled.status, filled.avg_price) == (OrderStatus.FILLED, D("20989.00"))


async def test_flatten_closes_at_the_accounts_own_venue_price() -> None:
    broker = await _broker()
    await broker.place_order(_buy("b", "b1", "21000.00"))
    broker.mark("MNQH5", D("1.00"), T0 + timedelta(seconds=1), venue="route-1")
    broker.mark("MNQH5", D("21004.00"), T0 + timedelta(seconds=2), venue="route-2")

    [close] = await broker.flatten("b")

    assert (close.status, close.avg_price) == (OrderStatus.FILLED, D("21004.00"))


async def test_market_order_without_reference_on_an_unpriced_venue_is_refused() -> None:
    broker = await _broker()
    broker.mark("MNQH5", D("21000.00"), T0, venue="route-1")
    order = OrderRequest(
        account="b", client_order_id="b1", symbol="MNQH5", side=Side.BUY, qty=1, time=T0
    )

    result = await broker.place_order(order)

    assert result.status is OrderStatus.REJECTED
    assert result.reason.startswith("NO_PRICE")


async def test_leader_fill_prints_on_the_leaders_venue_only() -> None:
    broker = await _broker()
    broker.assign_venue("lead", "route-1")

    broker.publish_leader_fill(
        LeaderFill("x1", "lead", "MNQH5", Side.BUY, 1, D("1.00"), T0 + timedelta(seconds=1))
    )

    assert broker.last_mark("MNQH5", venue="route-1") == D("1.00")
    assert broker.last_mark("MNQH5", venue="route-2") is None


async def test_reassigned_account_keeps_its_position_and_sees_its_new_venue() -> None:
    broker = await _broker()
    await broker.place_order(_buy("a", "a1", "21000.00"))
    broker.mark("MNQH5", D("21010.00"), T0 + timedelta(seconds=1), venue="route-2")

    broker.assign_venue("a", "route-2")

    [a] = await broker.positions("a")
    assert (a.qty, a.mark, a.unrealized_pnl) == (2, D("21010.00"), D("40.00"))
    assert broker.venue_of("a") == "route-2"
    broker.assign_venue("a", "")
    assert broker.venue_of("a") == ""
