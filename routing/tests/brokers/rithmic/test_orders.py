"""Rithmic orders against the fake server: place, query, modify, cancel, pushes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.rithmic import RithmicAdapter
from routing.engine.types import LeaderFill, OrderType, Side
from routing.tests.brokers.rithmic.fake_server import FakeRithmic


def _market(coid: str, account: str = "ACC-1", qty: int = 2, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(account=account, client_order_id=coid, symbol="MNQH6", side=side, qty=qty)


def _limit(coid: str, price: str, account: str = "ACC-1") -> OrderRequest:
    return OrderRequest(
        account=account,
        client_order_id=coid,
        symbol="MNQH6",
        side=Side.BUY,
        qty=3,
        order_type=OrderType.LIMIT,
        limit_price=Decimal(price),
    )


@pytest.mark.asyncio
async def test_market_order_when_placed_then_filled_with_client_order_id_at_rithmic(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Act
    result = await adapter.place_order(_market("ct-aaa"))
    again = await adapter.place_order(_market("ct-aaa", qty=9))
    # Assert: filled at the fake's price, once; the repeat sent nothing.
    assert result.status is OrderStatus.FILLED
    assert (result.filled_qty, result.avg_price) == (2, Decimal("21500.25"))
    assert result.fills[0].fill_id.startswith("X")
    assert again == result
    [order] = fake.orders_for("ACC-1")
    assert (order.user_tag, order.symbol, order.exchange) == ("ct-aaa", "MNQH6", "CME")
    assert order.qty == 2
    assert await adapter.query_order("ACC-1", "ct-aaa") == result
    assert await adapter.query_order("ACC-1", "ct-none") is None


@pytest.mark.asyncio
async def test_bad_orders_when_placed_then_rejected_with_reason_and_nothing_sent(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Act
    unknown = await adapter.place_order(
        OrderRequest(account="ACC-1", client_order_id="ct-x1", symbol="ZZZH6", side=Side.BUY, qty=1)
    )
    zero = await adapter.place_order(_market("ct-x2", qty=0))
    no_price = await adapter.place_order(
        OrderRequest(
            account="ACC-1",
            client_order_id="ct-x3",
            symbol="MNQH6",
            side=Side.BUY,
            qty=1,
            order_type=OrderType.LIMIT,
        )
    )
    # Assert
    assert unknown.status is OrderStatus.REJECTED and "ZZZ" in unknown.reason
    assert zero.status is OrderStatus.REJECTED and "quantity" in zero.reason
    assert no_price.status is OrderStatus.REJECTED and "limit_price" in no_price.reason
    assert fake.orders == {}


@pytest.mark.asyncio
async def test_limit_order_when_modified_then_cancelled_then_cancelled_at_rithmic(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange
    placed = await adapter.place_order(_limit("ct-lim", "21400.00"))
    # Act
    modified = await adapter.modify_order("ACC-1", "ct-lim", qty=5, limit_price=Decimal("21410.5"))
    refused = await adapter.modify_order("ACC-1", "ct-lim", stop_price=Decimal("21000"))
    cancelled = await adapter.cancel_order("ACC-1", "ct-lim")
    twice = await adapter.cancel_order("ACC-1", "ct-lim")
    # Assert
    assert placed.status is OrderStatus.WORKING and placed.broker_order_id
    assert modified is not None and modified.status is OrderStatus.WORKING
    [order] = fake.orders_for("ACC-1")
    assert (order.qty, order.price) == (5, 21410.5)
    assert refused is not None and "no stop price" in refused.reason
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert twice == cancelled
    assert order.completion == "cancelled"
    assert await adapter.cancel_order("ACC-1", "ct-never") is None


@pytest.mark.asyncio
async def test_resting_order_when_market_trades_through_then_fill_and_position_pushed(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: a leader stream on ACC-2 and the order updates stream.
    updates: list[OrderResult] = []
    leader: list[LeaderFill] = []

    async def collect_updates() -> None:
        async for update in adapter.order_updates():
            updates.append(update)

    async def collect_leader() -> None:
        async for event in adapter.leader_events("ACC-2"):
            assert isinstance(event, LeaderFill)
            leader.append(event)

    tasks = [asyncio.create_task(collect_updates()), asyncio.create_task(collect_leader())]
    await asyncio.sleep(0)
    await adapter.place_order(_limit("ct-rest", "21450.00", account="ACC-2"))
    # Act: the market prints through the limit.
    await fake.trade("MNQH6", 21449.0)
    await asyncio.sleep(0.3)
    # Assert: the fill came on both streams, keyed by Rithmic's fill id.
    final = [u for u in updates if u.client_order_id == "ct-rest"][-1]
    assert final.status is OrderStatus.FILLED
    assert (final.filled_qty, final.avg_price) == (3, Decimal("21450.0"))
    [event] = leader
    assert event.event_id == final.fills[0].fill_id
    assert (event.account, event.symbol, event.side, event.qty) == ("ACC-2", "MNQH6", Side.BUY, 3)
    assert event.price == Decimal("21450.0")
    [pushed] = adapter.last_positions("ACC-2")
    assert (pushed.symbol, pushed.qty, pushed.avg_price) == ("MNQH6", 3, Decimal("21450.0"))
    [queried] = await adapter.positions("ACC-2")
    assert queried == pushed
    for task in tasks:
        task.cancel()


@pytest.mark.asyncio
async def test_flatten_when_long_with_resting_order_then_cancelled_and_closed(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: long 2, a resting buy limit.
    await adapter.place_order(_market("ct-open"))
    await adapter.place_order(_limit("ct-rest2", "21000.00"))
    # Act
    results = await adapter.flatten("ACC-1")
    # Assert
    [close] = results
    assert close.status is OrderStatus.FILLED and close.filled_qty == 2
    rest = await adapter.query_order("ACC-1", "ct-rest2")
    assert rest is not None and rest.status is OrderStatus.CANCELLED
    [position] = await adapter.positions("ACC-1")
    assert position.qty == 0
    assert position.realized_pnl == Decimal(0)


@pytest.mark.asyncio
async def test_order_when_refused_by_rithmic_then_rejected_with_its_reason(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange
    fake.refuse_orders = "max position exceeded"
    # Act
    result = await adapter.place_order(_market("ct-ref"))
    again = await adapter.place_order(_market("ct-ref"))
    # Assert
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "max position exceeded"
    assert again == result
    assert fake.orders == {}


@pytest.mark.asyncio
async def test_reads_when_refused_then_temporary_error_never_none_or_flat(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: an order exists; then the order list and PnL snapshot fail.
    fake.lose_answers = 1
    with pytest.raises(BrokerTemporaryError):
        await adapter.place_order(_market("ct-hidden"))
    fake.refuse = {320, 324, 402}
    # Act / Assert: a refused read is not "never seen" (which would resend).
    with pytest.raises(BrokerTemporaryError, match="refused"):
        await adapter.query_order("ACC-1", "ct-hidden")
    with pytest.raises(BrokerTemporaryError, match="refused"):
        await adapter.place_order(_market("ct-hidden"))
    with pytest.raises(BrokerTemporaryError, match="refused"):
        await adapter.positions("ACC-1")
    assert len(fake.orders) == 1
    fake.refuse = set()
    found = await adapter.query_order("ACC-1", "ct-hidden")
    assert found is not None and found.status is OrderStatus.FILLED
