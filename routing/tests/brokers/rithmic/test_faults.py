"""Rithmic faults: a lost answer, a dropped connection mid fan-out, reconnects."""

from __future__ import annotations

import asyncio

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.logins import ConnectionState
from routing.brokers.rithmic import RithmicAdapter
from routing.engine.types import Side
from routing.tests.brokers.rithmic.fake_server import FakeRithmic


def _market(coid: str, account: str = "ACC-1") -> OrderRequest:
    return OrderRequest(account=account, client_order_id=coid, symbol="MNQH6", side=Side.BUY, qty=1)


async def _until(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def _send_like_worker(
    adapter: RithmicAdapter, order: OrderRequest, unknown: list[str] | None = None
) -> OrderResult:
    """The engine worker's rule: on an unknown outcome, look the order up by
    its client order id once the account is back; resend only if unseen."""
    for _ in range(50):
        try:
            return await adapter.place_order(order)
        except BrokerTemporaryError:
            if unknown is not None:
                unknown.append(order.client_order_id)
            await _until(lambda: adapter.account_connected(order.account))
            found = await adapter.query_order(order.account, order.client_order_id)
            if found is not None:
                return found
    raise AssertionError(f"{order.client_order_id} never placed")


@pytest.mark.asyncio
async def test_answer_lost_when_placing_then_looked_up_not_resent(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: Rithmic accepts (and fills) the order but its answer never comes.
    fake.lose_answers = 1
    # Act
    with pytest.raises(BrokerTemporaryError, match="outcome unknown"):
        await adapter.place_order(_market("ct-lost"))
    again = await adapter.place_order(_market("ct-lost"))
    # Assert: the repeat looked it up by its user tag and found it filled; one order.
    assert again.status is OrderStatus.FILLED
    assert again.broker_order_id == fake.orders_for("ACC-1")[0].basket_id
    assert len(fake.orders_for("ACC-1")) == 1


@pytest.mark.asyncio
async def test_connection_dropped_mid_fan_out_then_reconnected_and_no_duplicate(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: the socket is cut right after Rithmic takes the 7th order.
    fake.drop_after_orders = 7
    orders = [_market(f"ct-fan-{i:02d}", account=f"ACC-{1 + i % 3}") for i in range(20)]
    # Act: 20 orders at once, as the worker hands an event's orders out.
    unknown: list[str] = []
    results = await asyncio.gather(*(_send_like_worker(adapter, o, unknown) for o in orders))
    # Assert: exactly one order per client order id at Rithmic, all filled.
    tags = sorted(o.user_tag for o in fake.orders.values())
    assert tags == sorted(o.client_order_id for o in orders)
    assert all(r.status is OrderStatus.FILLED for r in results)
    assert [r.client_order_id for r in results] == [o.client_order_id for o in orders]
    # The cut left orders in doubt (the 7th taken, its answer lost), and the
    # login logged in again.
    assert "ct-fan-06" in unknown
    assert fake.logins.count(("trader", 2)) == 2


@pytest.mark.asyncio
async def test_connection_dropped_then_down_with_detail_then_connected_again(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: watch the state while the socket is cut.
    seen: list[tuple[ConnectionState, str]] = []

    async def watch() -> None:
        while True:
            [state] = adapter.login_states()
            if not seen or seen[-1][0] is not state.state:
                seen.append((state.state, state.detail))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.02)
    # Act
    fake.drop_connections()
    await _until(lambda: len(seen) >= 3 and seen[-1][0] is ConnectionState.CONNECTED)
    watcher.cancel()
    # Assert
    states = [s for s, _ in seen]
    assert states[0] is ConnectionState.CONNECTED
    assert ConnectionState.DOWN in states
    down_detail = next(d for s, d in seen if s is ConnectionState.DOWN)
    assert "lost" in down_detail
    result = await adapter.place_order(_market("ct-after"))
    assert result.status is OrderStatus.FILLED


@pytest.mark.asyncio
async def test_request_while_down_then_temporary_error_and_nothing_sent(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: the server is gone for good.
    await fake.stop()
    fake.drop_connections()
    await _until(lambda: not adapter.account_connected("ACC-1"))
    # Act / Assert
    with pytest.raises(BrokerTemporaryError):
        await adapter.place_order(_market("ct-down"))
    assert fake.orders == {}
    assert not adapter.connected
