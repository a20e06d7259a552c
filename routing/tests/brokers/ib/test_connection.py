"""IB logins: connect, lose the gateway, come back; refusals say why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from routing.brokers.base import OrderStatus
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.ib import IBAdapter
from routing.brokers.logins import ConnectionState, Environment, LoginConfig
from routing.engine.types import OrderType
from routing.tests.brokers.ib.conftest import ACCOUNTS, PRICES, login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway
from routing.tests.brokers.ib.fake_wire import FakeContract
from routing.tests.brokers.ib.test_orders import ACCOUNT, _order


async def _until(check: Callable[[], bool], seconds: float = 3.0) -> None:
    for _ in range(int(seconds * 100)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {seconds}s")


def _state(adapter: IBAdapter) -> ConnectionState:
    return adapter.login_states()[0].state


@pytest.mark.asyncio
async def test_gateway_lost_when_down_then_requests_temporary_and_reconnects(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange: an order before the gateway goes away.
    placed = await adapter.place_order(_order("before", 1))
    port = gateway.port
    # Act: the gateway stops listening and drops the connection.
    await gateway.stop()
    await _until(lambda: _state(adapter) is ConnectionState.DOWN)
    down = adapter.login_states()[0]
    # Assert: down with a reason, requests refused as temporary.
    assert "refused" in down.detail or "lost" in down.detail
    assert adapter.connected  # the adapter is up; this login is not
    assert not adapter.account_connected(ACCOUNT)
    with pytest.raises(BrokerTemporaryError):
        await adapter.place_order(_order("while-down", 1))
    with pytest.raises(BrokerTemporaryError):
        await adapter.positions(ACCOUNT)
    # Act: the gateway is back on the same port.
    await gateway.start(port)
    await _until(lambda: _state(adapter) is ConnectionState.CONNECTED)
    # Assert: the earlier order is found again by its orderRef, nothing resent.
    assert await adapter.query_order(ACCOUNT, "before") == placed
    assert await adapter.place_order(_order("before", 1)) == placed
    assert len(gateway.orders) == 1
    assert gateway.connects == 2


@pytest.mark.asyncio
async def test_connect_when_nothing_listens_then_down_with_reason() -> None:
    gateway = FakeGateway(ACCOUNTS, PRICES)
    await gateway.start()
    port = gateway.port
    await gateway.stop()
    adapter = IBAdapter([login_config(port)], reconnect_delays=(0.05,), timeout=0.5)
    await adapter.connect()
    try:
        (state,) = adapter.login_states()
        assert state.state is ConnectionState.DOWN
        assert "refused the connection" in state.detail
        assert str(port) not in state.detail and "127.0.0.1" not in state.detail
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_client_id_in_use_when_connecting_then_failed_with_reason(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    twin = IBAdapter([login_config(gateway.port)], reconnect_delays=(0.05,), timeout=2.0)
    await twin.connect()
    try:
        (state,) = twin.login_states()
        assert state.state is ConnectionState.FAILED
        assert "client id: already in use" in state.detail
        assert "7" not in state.detail
        await asyncio.sleep(0.2)
        assert gateway.connects == 1  # no retry until the trader changes the login
        assert _state(adapter) is ConnectionState.CONNECTED
    finally:
        await twin.disconnect()


@pytest.mark.asyncio
async def test_set_logins_when_login_removed_then_its_accounts_unserved(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    await adapter.set_logins([])
    assert adapter.login_states() == []
    assert not adapter.account_connected(ACCOUNT)
    await adapter.set_logins([login_config(gateway.port, client_id=8)])
    await _until(lambda: adapter.account_connected(ACCOUNT))
    result = await adapter.place_order(_order("after", 1))
    assert result.status is OrderStatus.FILLED
    assert gateway.orders[0].client_id == 8


@pytest.mark.asyncio
async def test_leader_fill_when_traded_elsewhere_then_streamed_and_redelivered_after_reconnect(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange: a leader stream on the second account.
    stream = adapter.leader_events("DU7654321")
    mnq = FakeContract("MNQ", "20260320", "2", "CME", "MNQH6", "MNQ", 551601561)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    # Act
    gateway.trade_elsewhere("DU7654321", mnq, "SELL", 4, Decimal("21544.75"))
    fill = await asyncio.wait_for(first, 2)
    # Assert
    exec_id = gateway.executions[-1][1].exec_id
    assert (fill.event_id, fill.account, fill.symbol) == (exec_id, "DU7654321", "MNQH6")
    assert (fill.side.value, fill.qty, fill.price) == ("sell", 4, Decimal("21544.75"))
    # Act: the connection drops and comes back.
    gateway.drop()
    again = await asyncio.wait_for(anext(stream), 3)
    # Assert: re-delivered with the same event id (consumers de-duplicate).
    assert again.event_id == exec_id
    await adapter.disconnect()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 1)


@pytest.mark.asyncio
async def test_fill_while_down_when_reconnected_then_streamed_and_queried(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange: a resting limit order, then the gateway goes away.
    await adapter.place_order(
        _order("rest-1", 2, order_type=OrderType.LIMIT, limit_price=Decimal("21500"))
    )
    updates = adapter.order_updates()
    port = gateway.port
    await gateway.stop()
    await _until(lambda: _state(adapter) is ConnectionState.DOWN)
    # Act: it fills while nobody listens; the gateway comes back.
    gateway.fill("rest-1", 2, Decimal("21500"))
    await gateway.start(port)

    async def until_filled() -> None:
        async for result in updates:
            if result.client_order_id == "rest-1" and result.status is OrderStatus.FILLED:
                return

    # Assert: the fill arrives on the update stream and in a query.
    await asyncio.wait_for(until_filled(), 3)
    found = await adapter.query_order(ACCOUNT, "rest-1")
    assert found is not None
    assert (found.status, found.filled_qty, found.avg_price) == (
        OrderStatus.FILLED,
        2,
        Decimal("21500"),
    )


@pytest.mark.asyncio
async def test_endpoint_when_given_then_overrides_host_and_port(gateway: FakeGateway) -> None:
    config = LoginConfig(
        login_id=3,
        platform="ib",
        environment=Environment.LIVE,
        credentials={"host": "gateway.invalid", "port": "1", "client_id": "11"},
        accounts=ACCOUNTS,
        endpoint=f"127.0.0.1:{gateway.port}",
    )
    adapter = IBAdapter([config], timeout=1.0)
    await adapter.connect()
    try:
        assert adapter.account_connected(ACCOUNTS[1])
        assert "gateway.invalid" not in repr(config)
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_bad_credentials_when_connecting_then_failed_naming_no_value() -> None:
    config = LoginConfig(
        login_id=4,
        platform="ib",
        environment=Environment.DEMO,
        credentials={"host": "127.0.0.1", "port": "four thousand", "client_id": "x"},
        accounts=ACCOUNTS,
    )
    adapter = IBAdapter([config], timeout=0.5)
    await adapter.connect()
    try:
        (state,) = adapter.login_states()
        assert state.state is ConnectionState.FAILED
        assert "numeric port and client_id" in state.detail
        assert "four thousand" not in state.detail
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_sdk_logs_when_connecting_then_no_host_port_or_client_id(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    port = gateway.port
    await gateway.stop()
    adapter = IBAdapter([login_config(port, client_id=4711)], timeout=0.3)
    with caplog.at_level("DEBUG"):
        await adapter.connect()
        await adapter.disconnect()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Connecting to <gateway> with clientId <hidden>" in text
    assert str(port) not in text and "4711" not in text
