"""ProjectX adapter orders against the fake Gateway: place, query, modify, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.logins import ConnectionState
from routing.engine.types import OrderType, Side
from routing.tests.brokers.projectx.conftest import (
    FOLLOWER_A,
    FOLLOWER_B,
    LEADER,
    MNQ,
    Setup,
    states,
)

T = datetime(2026, 1, 28, 15, 0, tzinfo=UTC)


def _market(coid: str, account: int = FOLLOWER_A, qty: int = 2) -> OrderRequest:
    return OrderRequest(str(account), coid, "MNQH6", Side.BUY, qty, time=T)


@pytest.mark.asyncio
async def test_login_when_connected_then_both_logins_up_and_accounts_known(px: Setup) -> None:
    assert states(px.adapter) == {1: ConnectionState.CONNECTED, 2: ConnectionState.CONNECTED}
    assert px.adapter.account_connected(str(FOLLOWER_A))
    assert px.adapter.account_connected(str(LEADER))
    assert not px.adapter.account_connected("999")
    # One auth per login, one account search per login.
    assert px.fake.requests.count("/Auth/loginKey") == 2
    assert px.fake.requests.count("/Account/search") == 2
    assert px.fake.hub_count() == 2


@pytest.mark.asyncio
async def test_market_order_when_placed_then_filled_with_custom_tag(px: Setup) -> None:
    result = await px.adapter.place_order(_market("co-1"))
    assert result.status is OrderStatus.FILLED
    assert (result.filled_qty, result.avg_price) == (2, Decimal("21539.5"))
    assert [f.qty for f in result.fills] == [2]
    assert result.fills[0].symbol == "MNQH6"
    assert px.fake.tags(FOLLOWER_A) == ["co-1"]
    assert px.fake.orders_of(FOLLOWER_A)[0]["contractId"] == MNQ
    assert px.fake.position(FOLLOWER_A, MNQ) == 2


@pytest.mark.asyncio
async def test_place_when_repeated_then_one_order_at_projectx(px: Setup) -> None:
    first = await px.adapter.place_order(_market("co-1"))
    again = await px.adapter.place_order(_market("co-1", qty=5))
    assert again == first
    assert len(px.fake.orders_of(FOLLOWER_A)) == 1


@pytest.mark.asyncio
async def test_place_when_adapter_forgot_then_duplicate_tag_answered_with_first(
    px: Setup,
) -> None:
    # Arrange: the order exists at ProjectX; a fresh adapter knows nothing of it.
    await px.adapter.place_order(_market("co-1"))
    px.adapter._book.known.clear()
    px.adapter._book.by_id.clear()
    # Act
    again = await px.adapter.place_order(_market("co-1"))
    # Assert: ProjectX refused the repeated customTag; the first order is returned.
    assert again.status is OrderStatus.FILLED
    assert len(px.fake.orders_of(FOLLOWER_A)) == 1


@pytest.mark.asyncio
async def test_unknown_root_when_placed_then_rejected_naming_symbol(px: Setup) -> None:
    order = OrderRequest(str(FOLLOWER_A), "co-x", "ZBH6", Side.BUY, 1, time=T)
    result = await px.adapter.place_order(order)
    assert result.status is OrderStatus.REJECTED
    assert "'ZBH6'" in result.reason and "ZB" in result.reason
    assert px.fake.orders_of(FOLLOWER_A) == []


@pytest.mark.asyncio
async def test_bad_size_when_placed_then_rejected_without_request(px: Setup) -> None:
    sent = len(px.fake.requests)
    result = await px.adapter.place_order(_market("co-0", qty=0))
    assert result.status is OrderStatus.REJECTED and "positive" in result.reason
    assert len(px.fake.requests) == sent


@pytest.mark.asyncio
async def test_account_of_no_login_when_placed_then_fatal(px: Setup) -> None:
    from routing.brokers.errors import BrokerFatal

    with pytest.raises(BrokerFatal, match="'999'"):
        await px.adapter.place_order(_market("co-1", account=999))


@pytest.mark.asyncio
async def test_limit_order_when_modified_then_cancelled(px: Setup) -> None:
    order = OrderRequest(
        str(FOLLOWER_B),
        "co-lim",
        "MNQH6",
        Side.BUY,
        3,
        order_type=OrderType.LIMIT,
        limit_price=Decimal("21500.00"),
        time=T,
    )
    placed = await px.adapter.place_order(order)
    assert placed.status is OrderStatus.WORKING
    modified = await px.adapter.modify_order(
        str(FOLLOWER_B), "co-lim", qty=4, limit_price=Decimal("21510.25")
    )
    assert modified is not None and modified.reason == ""
    at_fake = px.fake.orders_of(FOLLOWER_B)[0]
    assert (at_fake["size"], at_fake["limitPrice"]) == (4, 21510.25)
    refused = await px.adapter.modify_order(str(FOLLOWER_B), "co-lim", stop_price=Decimal(1))
    assert refused is not None and "stop_price" in refused.reason
    cancelled = await px.adapter.cancel_order(str(FOLLOWER_B), "co-lim")
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert px.fake.orders_of(FOLLOWER_B)[0]["status"] == 3
    again = await px.adapter.cancel_order(str(FOLLOWER_B), "co-lim")
    assert again == cancelled
    assert await px.adapter.cancel_order(str(FOLLOWER_B), "never-sent") is None


@pytest.mark.asyncio
async def test_query_when_never_sent_then_none(px: Setup) -> None:
    assert await px.adapter.query_order(str(FOLLOWER_A), "nope") is None
    await px.adapter.place_order(_market("co-q"))
    px.adapter._book.known.clear()
    found = await px.adapter.query_order(str(FOLLOWER_A), "co-q")
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_qty == 2 and len(found.fills) == 1


@pytest.mark.asyncio
async def test_cancel_when_filled_unseen_then_final_result_unchanged(px: Setup) -> None:
    # Arrange: a resting order fills at ProjectX while the hub tells nothing.
    order = OrderRequest(
        str(FOLLOWER_A), "co-f", "MNQH6", Side.BUY, 1, OrderType.LIMIT,
        limit_price=Decimal("21500.00"), time=T,
    )  # fmt: skip
    placed = await px.adapter.place_order(order)
    px.fake.silent_hub = True
    await px.fake.fill_working(int(placed.broker_order_id or 0), Decimal("21500.00"))
    # Act: ProjectX refuses the cancel (not open).
    result = await px.adapter.cancel_order(str(FOLLOWER_A), "co-f")
    # Assert
    assert result is not None and result.status is OrderStatus.FILLED
    assert (result.filled_qty, result.reason) == (1, "")
    modified = await px.adapter.modify_order(str(FOLLOWER_A), "co-f", qty=3)
    assert modified == result


@pytest.mark.asyncio
async def test_account_not_a_number_when_placed_then_fatal(px: Setup) -> None:
    from routing.brokers.errors import BrokerFatal

    with pytest.raises(BrokerFatal, match="numbers"):
        await px.adapter.place_order(OrderRequest("PRAC-1", "x", "MNQH6", Side.BUY, 1))
