"""The IB adapter's orders against the fake gateway, through ib_async's socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.ib import IBAdapter
from routing.brokers.logins import ConnectionState
from routing.engine.types import OrderType, Side
from routing.tests.brokers.ib.fake_gateway import FakeGateway

T0 = datetime(2026, 1, 28, 15, 0, tzinfo=UTC)
ACCOUNT = "DU1234567"


def _order(cid: str, qty: int = 2, **kw: object) -> OrderRequest:
    return OrderRequest(
        account=kw.pop("account", ACCOUNT),  # type: ignore[arg-type]
        client_order_id=cid,
        symbol=kw.pop("symbol", "MNQH6"),  # type: ignore[arg-type]
        side=kw.pop("side", Side.BUY),  # type: ignore[arg-type]
        qty=qty,
        time=T0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_connect_when_gateway_up_then_connected_with_managed_accounts(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    (state,) = adapter.login_states()
    assert state.state is ConnectionState.CONNECTED
    assert adapter.connected
    assert adapter.account_connected("DU1234567")
    assert adapter.account_connected("DU7654321")
    assert not adapter.account_connected("DU0000000")
    assert gateway.connects == 1


@pytest.mark.asyncio
async def test_market_order_when_placed_then_filled_with_order_ref_and_account(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    result = await adapter.place_order(_order("c-1", 3))
    assert result.status is OrderStatus.FILLED
    assert (result.filled_qty, result.avg_price) == (3, Decimal("21539.25"))
    (fill,) = result.fills
    assert (fill.account, fill.symbol, fill.side, fill.qty) == (ACCOUNT, "MNQH6", Side.BUY, 3)
    (sent,) = gateway.orders
    assert (sent.order_ref, sent.account, sent.contract.local_symbol) == ("c-1", ACCOUNT, "MNQH6")
    assert (sent.contract.month, sent.contract.exchange, sent.order_type) == (
        "202603",
        "CME",
        "MKT",
    )
    assert fill.fill_id == gateway.executions[0][1].exec_id


@pytest.mark.asyncio
async def test_place_when_repeated_then_one_order_at_gateway(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    first = await adapter.place_order(_order("c-1"))
    again = await adapter.place_order(_order("c-1", qty=9, side=Side.SELL))
    assert again == first
    assert len(gateway.orders) == 1


@pytest.mark.asyncio
async def test_query_when_known_then_result_and_unknown_then_none(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    placed = await adapter.place_order(_order("c-1"))
    assert await adapter.query_order(ACCOUNT, "c-1") == placed
    assert await adapter.query_order(ACCOUNT, "never-sent") is None
    assert await adapter.query_order("DU7654321", "c-1") is None


@pytest.mark.asyncio
async def test_limit_when_modified_then_cancelled_then_gateway_agrees(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    resting = await adapter.place_order(
        _order("lim-1", 2, order_type=OrderType.LIMIT, limit_price=Decimal("21400.25"))
    )
    assert resting.status is OrderStatus.WORKING
    (sent,) = gateway.orders
    assert (sent.order_type, Decimal(sent.lmt), sent.tif) == ("LMT", Decimal("21400.25"), "GTC")

    modified = await adapter.modify_order(ACCOUNT, "lim-1", qty=4, limit_price=Decimal("21410"))
    assert modified is not None and modified.status is OrderStatus.WORKING
    assert modified.reason == ""
    assert (sent.qty, Decimal(sent.lmt)) == (4, Decimal("21410"))
    assert len(gateway.orders) == 1

    gateway.fill("lim-1", 1, Decimal("21410"))
    cancelled = await adapter.cancel_order(ACCOUNT, "lim-1")
    assert cancelled is not None
    assert (cancelled.status, cancelled.filled_qty) == (OrderStatus.CANCELLED, 1)
    assert sent.status == "Cancelled"
    assert await adapter.cancel_order(ACCOUNT, "lim-1") == cancelled


@pytest.mark.asyncio
async def test_modify_when_refused_then_reason_and_order_unchanged(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.place_order(
        _order("stp-1", 3, order_type=OrderType.STOP, stop_price=Decimal("21300"))
    )
    gateway.fill("stp-1", 2, Decimal("21300"))
    await asyncio.sleep(0.1)
    refused = await adapter.modify_order(ACCOUNT, "stp-1", qty=2)
    assert refused is not None and "not above the 2 filled" in refused.reason
    no_limit = await adapter.modify_order(ACCOUNT, "stp-1", limit_price=Decimal("1"))
    assert no_limit is not None and "has no limit price" in no_limit.reason
    assert gateway.orders[0].qty == 3


@pytest.mark.asyncio
async def test_bad_requests_when_placed_then_rejected_with_reason_and_nothing_sent(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    unknown_root = await adapter.place_order(_order("r-1", symbol="XYZH6"))
    zero = await adapter.place_order(_order("r-2", 0))
    no_price = await adapter.place_order(_order("r-3", order_type=OrderType.LIMIT))
    assert unknown_root.status is OrderStatus.REJECTED
    assert "IB_UNKNOWN_ROOT" in unknown_root.reason
    assert "IB_BAD_QTY" in zero.reason
    assert "IB_BAD_PRICE" in no_price.reason
    assert gateway.orders == []
    assert await adapter.query_order(ACCOUNT, "r-1") == unknown_root


@pytest.mark.asyncio
async def test_gateway_rejection_when_contract_unknown_there_then_rejected(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    result = await adapter.place_order(_order("g-1", symbol="GCG6"))  # no price at the fake
    assert result.status is OrderStatus.REJECTED
    assert "No security definition" in result.reason


@pytest.mark.asyncio
async def test_positions_when_filled_then_net_avg_and_realized(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.place_order(_order("p-1", 3))
    gateway.prices["MNQ"] = Decimal("21549.25")
    await adapter.place_order(_order("p-2", 1, side=Side.SELL))
    (pos,) = await adapter.positions(ACCOUNT)
    assert (pos.symbol, pos.qty, pos.avg_price) == ("MNQH6", 2, Decimal("21539.25"))
    # (21549.25 - 21539.25) x 1 x $2 = $20
    assert pos.realized_pnl == Decimal("20")
    assert pos.mark is None
    assert await adapter.positions("DU7654321") == []


@pytest.mark.asyncio
async def test_flatten_when_long_and_resting_then_cancelled_and_closed(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.place_order(_order("f-1", 3))
    await adapter.place_order(
        _order("f-2", 1, order_type=OrderType.LIMIT, limit_price=Decimal("21000"))
    )
    (close,) = await adapter.flatten(ACCOUNT, time=T0)
    assert (close.status, close.filled_qty) == (OrderStatus.FILLED, 3)
    assert close.fills[0].side is Side.SELL
    assert gateway.orders_by_ref("f-2")[0].status == "Cancelled"
    (pos,) = await adapter.positions(ACCOUNT)
    assert pos.qty == 0


@pytest.mark.asyncio
async def test_order_updates_when_resting_order_fills_then_streamed(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.place_order(
        _order("u-1", 2, order_type=OrderType.LIMIT, limit_price=Decimal("21500"))
    )
    updates = adapter.order_updates()
    gateway.fill("u-1", 2, Decimal("21500"))

    async def until_filled() -> None:
        async for result in updates:
            if result.client_order_id == "u-1" and result.status is OrderStatus.FILLED:
                assert result.filled_qty == 2
                return

    await asyncio.wait_for(until_filled(), 2)


@pytest.mark.asyncio
async def test_request_for_unknown_account_then_fatal(adapter: IBAdapter) -> None:
    from routing.brokers.errors import BrokerFatal

    with pytest.raises(BrokerFatal, match="DU0000000"):
        await adapter.place_order(_order("x", account="DU0000000"))


@pytest.mark.asyncio
async def test_partial_fill_when_queried_then_partially_filled_with_its_fill(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.place_order(
        _order("part-1", 3, order_type=OrderType.STOP_LIMIT, stop_price=Decimal("21600"),
               limit_price=Decimal("21601"))
    )  # fmt: skip
    (sent,) = gateway.orders
    assert (sent.order_type, Decimal(sent.aux), Decimal(sent.lmt)) == (
        "STP LMT",
        Decimal("21600"),
        Decimal("21601"),
    )
    gateway.fill("part-1", 1, Decimal("21600.75"))
    await asyncio.sleep(0.1)
    result = await adapter.query_order(ACCOUNT, "part-1")
    assert result is not None
    assert (result.status, result.filled_qty, result.avg_price) == (
        OrderStatus.PARTIALLY_FILLED,
        1,
        Decimal("21600.75"),
    )
    assert result.broker_order_id == str(sent.perm_id)
