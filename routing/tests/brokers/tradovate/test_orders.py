"""Tradovate adapter against the fake: login, accounts, orders, stream, positions."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.budget import Priority
from routing.brokers.logins import ConnectionState
from routing.engine.types import OrderType, Side
from routing.tests.brokers.tradovate.conftest import (
    PRICE,
    SYMBOL,
    AdapterFactory,
    RecordingBudget,
    Venue,
)


def _buy(account: str, coid: str, qty: int = 2, **fields: object) -> OrderRequest:
    return OrderRequest(account=account, client_order_id=coid, symbol=SYMBOL, side=Side.BUY,
                        qty=qty, **fields)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.asyncio
async def test_connect_when_credentials_good_then_connected_and_accounts_listed(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange
    adapter = make_adapter()
    # Act
    await adapter.connect()
    # Assert
    [state] = adapter.login_states()
    assert state.state == ConnectionState.CONNECTED, state.detail
    assert adapter.connected
    assert all(adapter.account_connected(name) for name in venue.accounts)
    assert not adapter.account_connected("NOT-MINE")
    assert venue.fake.token_requests == 1
    assert venue.fake.count("/account/list") == 1


@pytest.mark.asyncio
async def test_market_order_when_placed_then_filled_at_fake_price_once(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    # Act: placed, then repeated with the same client order id.
    first = await adapter.place_order(_buy("DEMO1", "co-1"))
    again = await adapter.place_order(_buy("DEMO1", "co-1", qty=9))
    # Assert
    assert first.status == OrderStatus.FILLED, first
    assert (first.filled_qty, first.avg_price) == (2, PRICE)
    assert first.fills[0].account == "DEMO1" and first.fills[0].symbol == SYMBOL
    assert again == first
    [body] = venue.fake.placeorders()
    assert body["clOrdId"] == "co-1" and body["accountSpec"] == "DEMO1"
    assert body["action"] == "Buy" and body["orderType"] == "Market" and body["isAutomated"]
    assert await adapter.query_order("DEMO1", "co-1") == first
    assert await adapter.query_order("DEMO1", "never-sent") is None


@pytest.mark.asyncio
async def test_order_when_root_unknown_or_contract_missing_then_rejected_not_sent(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    unknown_root = OrderRequest("DEMO1", "co-zz", "ZZH7", Side.BUY, 1)
    no_contract = OrderRequest("DEMO1", "co-nq", "MNQM9", Side.BUY, 1)
    # Act
    refused = await adapter.place_order(unknown_root)
    missing = await adapter.place_order(no_contract)
    zero = await adapter.place_order(_buy("DEMO1", "co-0", qty=0))
    # Assert
    assert refused.status == OrderStatus.REJECTED and "UNKNOWN_SYMBOL" in refused.reason
    assert missing.status == OrderStatus.REJECTED and "UNKNOWN_CONTRACT" in missing.reason
    assert zero.status == OrderStatus.REJECTED and "QTY_INVALID" in zero.reason
    assert venue.fake.placeorders() == []


@pytest.mark.asyncio
async def test_limit_order_when_modified_then_cancelled_then_fake_agrees(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    budget = RecordingBudget()
    adapter = make_adapter(budgets=lambda login_id: budget)
    await adapter.connect()
    limit = _buy("DEMO2", "co-lim", qty=3, order_type=OrderType.LIMIT,
                 limit_price=Decimal("21400.00"))  # fmt: skip
    # Act
    placed = await adapter.place_order(limit)
    moved = await adapter.modify_order("DEMO2", "co-lim", qty=4, limit_price=Decimal("21410.5"))
    bad = await adapter.modify_order("DEMO2", "co-lim", stop_price=Decimal("21000"))
    cancelled = await adapter.cancel_order("DEMO2", "co-lim")
    twice = await adapter.cancel_order("DEMO2", "co-lim")
    # Assert
    assert placed.status == OrderStatus.WORKING
    assert moved is not None and moved.status == OrderStatus.WORKING and not moved.reason
    order_id = int(placed.broker_order_id or 0)
    version = venue.fake.exchange.version_of(order_id)
    assert (version["orderQty"], version["price"]) == (4, 21410.5)
    assert bad is not None and bad.reason.startswith("MODIFY_PRICE_NOT_APPLICABLE")
    assert cancelled is not None and cancelled.status == OrderStatus.CANCELLED
    assert twice == cancelled
    assert venue.fake.exchange.orders[order_id]["ordStatus"] == "Canceled"
    assert venue.fake.count("/order/cancelorder") == 1
    # Budget: the modification keyed by its client order id, the cancel as an exit.
    assert (Priority.MODIFY, "co-lim") in budget.spent
    assert budget.spent.count((Priority.EXIT, None)) == 1


@pytest.mark.asyncio
async def test_working_order_when_filled_at_broker_then_update_streamed_and_position_read(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    updates = adapter.order_updates()
    limit = _buy("DEMO3", "co-w", qty=3, order_type=OrderType.LIMIT,
                 limit_price=Decimal("21490.00"))  # fmt: skip
    placed = await adapter.place_order(limit)
    order_id = int(placed.broker_order_id or 0)
    # Act: the exchange fills 1 then 2 (pushed through the websocket).
    venue.fake.exchange.fill_working(order_id, Decimal("21490.00"), qty=1)
    venue.fake.exchange.fill_working(order_id, Decimal("21489.75"))
    seen = []
    async with asyncio.timeout(3):
        async for result in updates:
            seen.append(result)
            if result.client_order_id == "co-w" and result.status == OrderStatus.FILLED:
                break
    positions = await adapter.positions("DEMO3")
    # Assert
    statuses = [(r.status, r.filled_qty) for r in seen if r.client_order_id == "co-w"]
    # Each distinct state once: acknowledged, 1 filled, all filled.
    assert statuses == [
        (OrderStatus.WORKING, 0),
        (OrderStatus.PARTIALLY_FILLED, 1),
        (OrderStatus.FILLED, 3),
    ]
    final = seen[-1]
    assert final.filled_qty == 3
    assert final.avg_price == (Decimal("21490.00") + 2 * Decimal("21489.75")) / 3
    [position] = positions
    assert (position.symbol, position.qty) == (SYMBOL, 3)
    assert position.realized_pnl == Decimal(0) and position.mark is None


@pytest.mark.asyncio
async def test_round_trip_when_flattened_then_flat_with_realized_dollars(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    budget = RecordingBudget()
    adapter = make_adapter(budgets=lambda login_id: budget)
    await adapter.connect()
    await adapter.place_order(_buy("DEMO1", "co-open", qty=2))
    venue.fake.exchange.prices[SYMBOL] = PRICE + 10
    # Act
    budget.spent.clear()
    closes = await adapter.flatten("DEMO1")
    again = await adapter.flatten("DEMO1")
    # Assert: 10 points x 2 contracts x $2 (MNQ) = $40.
    [close] = closes
    assert close.status == OrderStatus.FILLED and close.fills[0].side == Side.SELL
    assert again == []
    [position] = await adapter.positions("DEMO1")
    assert (position.qty, position.realized_pnl) == (0, Decimal("40.00"))
    # The close went as FLATTEN, ahead of entries and exits.
    assert (Priority.FLATTEN, None) in budget.spent
    assert (Priority.ENTRY, None) not in budget.spent
