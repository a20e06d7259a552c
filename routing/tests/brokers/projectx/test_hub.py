"""The user hub: fills, order changes and positions pushed by ProjectX."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.engine.types import LeaderFill, OrderType, Side
from routing.tests.brokers.projectx.conftest import ENQ, FOLLOWER_A, LEADER, MNQ, Setup, eventually

T = datetime(2026, 1, 28, 15, 0, tzinfo=UTC)


@pytest.mark.asyncio
async def test_working_order_when_filled_at_projectx_then_update_streamed(px: Setup) -> None:
    # Arrange: a resting limit order.
    seen: list[OrderResult] = []

    async def consume() -> None:
        async for update in px.adapter.order_updates():
            seen.append(update)

    task = asyncio.create_task(consume())
    order = OrderRequest(
        str(FOLLOWER_A), "co-lim", "MNQH6", Side.SELL, 2, OrderType.LIMIT,
        limit_price=Decimal("21560.00"), time=T,
    )  # fmt: skip
    placed = await px.adapter.place_order(order)
    assert placed.status is OrderStatus.WORKING
    # Act: the market reaches it at ProjectX.
    await px.fake.fill_working(int(placed.broker_order_id or 0), Decimal("21560.00"))
    # Assert: the hub's trade and order events became a FILLED result with the fill.
    await eventually(lambda: any(u.status is OrderStatus.FILLED for u in seen))
    filled = next(u for u in seen if u.status is OrderStatus.FILLED)
    assert filled.client_order_id == "co-lim"
    assert (filled.filled_qty, filled.avg_price) == (2, Decimal("21560.0"))
    assert filled.fills[0].account == str(FOLLOWER_A)
    assert (await px.adapter.query_order(str(FOLLOWER_A), "co-lim")) == filled
    await px.adapter.disconnect()
    await asyncio.wait_for(task, 5)  # the stream ends with the adapter


@pytest.mark.asyncio
async def test_positions_when_filled_then_signed_with_realized_pnl(px: Setup) -> None:
    buy = OrderRequest(str(FOLLOWER_A), "b1", "MNQH6", Side.BUY, 3, time=T)
    await px.adapter.place_order(buy)
    px.fake.prices[MNQ] = Decimal("21549.50")
    sell = OrderRequest(str(FOLLOWER_A), "s1", "MNQH6", Side.SELL, 1, time=T)
    await px.adapter.place_order(sell)
    await px.adapter.place_order(OrderRequest(str(FOLLOWER_A), "s2", "NQH6", Side.SELL, 1, time=T))
    rows = await px.adapter.positions(str(FOLLOWER_A))
    assert [(r.symbol, r.qty) for r in rows] == [("MNQH6", 2), ("NQH6", -1)]
    assert rows[0].avg_price == Decimal("21539.5")
    # ProjectX reports each closing trade's profitAndLoss in dollars: 10 points x 1 x $2.
    assert rows[0].realized_pnl == Decimal("20.0")
    assert rows[0].mark is None  # ProjectX gives no mark: unknown, not zero
    # The hub's position events told the adapter the sizes: a sell now reduces.
    assert px.adapter._book.held[(str(FOLLOWER_A), MNQ)] == 2
    assert px.adapter._book.held[(str(FOLLOWER_A), ENQ)] == -1


@pytest.mark.asyncio
async def test_flatten_when_positions_and_working_orders_then_all_closed(px: Setup) -> None:
    account = str(FOLLOWER_A)
    await px.adapter.place_order(OrderRequest(account, "b1", "MNQH6", Side.BUY, 3, time=T))
    await px.adapter.place_order(OrderRequest(account, "s1", "NQH6", Side.SELL, 1, time=T))
    resting = OrderRequest(
        account, "l1", "MNQH6", Side.BUY, 1, OrderType.LIMIT, limit_price=Decimal(21000), time=T
    )
    await px.adapter.place_order(resting)
    results = await px.adapter.flatten(account, "MNQH6", time=T)
    assert [(r.status, r.filled_qty) for r in results] == [(OrderStatus.FILLED, 3)]
    assert px.fake.position(FOLLOWER_A, MNQ) == 0
    assert px.fake.position(FOLLOWER_A, ENQ) == -1  # another symbol: untouched
    assert px.fake.orders_of(FOLLOWER_A)[2]["status"] == 3  # the resting buy cancelled first
    assert await px.adapter.flatten(account, "MNQH6", time=T) == []
    everything = await px.adapter.flatten(account, time=T)
    assert [r.fills[0].side for r in everything] == [Side.BUY]
    assert px.fake.position(FOLLOWER_A, ENQ) == 0


@pytest.mark.asyncio
async def test_leader_trade_when_pushed_then_leader_fill_keyed_on_trade_id(px: Setup) -> None:
    events: list[LeaderFill] = []

    async def consume() -> None:
        async for event in px.adapter.leader_events(str(LEADER)):
            assert isinstance(event, LeaderFill)
            events.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    order_id = await px.fake.trade_on(LEADER, MNQ, side=0, size=4)
    await eventually(lambda: len(events) == 1)
    trade = px.fake.trades[-1]
    fill = events[0]
    assert fill.event_id == str(trade["id"]) and fill.order_id == str(order_id)
    assert (fill.account, fill.symbol, fill.side, fill.qty) == (str(LEADER), "MNQH6", Side.BUY, 4)
    assert fill.price == Decimal("21539.5") and fill.time.tzinfo is not None
    await px.adapter.disconnect()
    await asyncio.wait_for(task, 5)


@pytest.mark.asyncio
async def test_order_updates_when_adapter_reconnected_then_new_stream_gets_updates(
    px: Setup,
) -> None:
    # The engine worker reads order_updates again after a stream ends.
    first = [u async for u in _ended_stream(px)]
    assert first == []
    # The next stream starts while the adapter is still down, then it reconnects.
    stream = px.adapter.order_updates()
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    await px.adapter.connect()
    await px.adapter.place_order(OrderRequest(str(FOLLOWER_A), "after", "MNQH6", Side.BUY, 1))
    update = await asyncio.wait_for(waiting, 5)
    assert update.client_order_id == "after"
    await stream.aclose()


async def _ended_stream(px: Setup) -> AsyncIterator[OrderResult]:
    stream = px.adapter.order_updates()
    task = asyncio.ensure_future(anext(stream, None))
    await asyncio.sleep(0.01)
    await px.adapter.disconnect()
    item = await asyncio.wait_for(task, 5)
    if item is not None:
        yield item
