"""Rithmic faults: a lost answer, a dropped connection mid fan-out, reconnects."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState
from routing.brokers.rithmic import RithmicAdapter
from routing.engine.types import LeaderFill, OrderType, Side
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
    assert adapter.connected  # the adapter runs on; only its accounts are down
    assert not adapter.account_connected("ACC-2")


@pytest.mark.asyncio
async def test_answer_lost_when_history_replays_351_then_still_found(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: the server replays orders as RithmicOrderNotification (351).
    fake.snapshot_template = 351
    fake.lose_answers = 1
    with pytest.raises(BrokerTemporaryError):
        await adapter.place_order(_market("ct-lost351"))
    # Act
    found = await adapter.query_order("ACC-1", "ct-lost351")
    # Assert: found filled in the day's history by its user tag; nothing resent.
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_qty == 1 and found.avg_price == Decimal("21500.25")
    assert len(fake.orders) == 1
    assert fake.history_requests


@pytest.mark.asyncio
async def test_fill_while_disconnected_when_reconnected_then_on_both_streams(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: a resting order on the leader account ACC-3, streams consumed.
    updates: list[OrderResult] = []
    leader: list[LeaderFill] = []

    async def collect_updates() -> None:
        async for update in adapter.order_updates():
            updates.append(update)

    async def collect_leader() -> None:
        async for event in adapter.leader_events("ACC-3"):
            assert isinstance(event, LeaderFill)
            leader.append(event)

    tasks = [asyncio.create_task(collect_updates()), asyncio.create_task(collect_leader())]
    await asyncio.sleep(0)
    order = OrderRequest(
        account="ACC-3",
        client_order_id="ct-rest",
        symbol="MNQH6",
        side=Side.SELL,
        qty=2,
        order_type=OrderType.LIMIT,
        limit_price=Decimal("21600.00"),
    )
    await adapter.place_order(order)
    # Act: the socket is cut and the order fills before the adapter is back.
    fake.drop_connections()
    await fake.trade("MNQH6", 21601.0)
    await _until(lambda: any(u.status is OrderStatus.FILLED for u in updates))
    # Assert: the catch-up fill at the reported average, on both streams.
    final = updates[-1]
    assert (final.client_order_id, final.filled_qty) == ("ct-rest", 2)
    assert final.avg_price == Decimal("21600.0")
    [event] = leader
    assert event.event_id == final.fills[0].fill_id
    assert (event.side, event.qty, event.price) == (Side.SELL, 2, Decimal("21600.0"))
    for task in tasks:
        task.cancel()


@pytest.mark.asyncio
async def test_password_changed_when_reconnecting_then_failed_and_fatal(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: the trader changed the password at Rithmic.
    fake.users["trader"] = ("new-password", fake.users["trader"][1])
    # Act
    fake.drop_connections()
    await _until(lambda: adapter.login_states()[0].state is ConnectionState.FAILED)
    # Assert: no retry loop; its accounts are fatal until the trader acts.
    [state] = adapter.login_states()
    assert "permission denied" in state.detail
    with pytest.raises(BrokerFatal, match="failed"):
        await adapter.place_order(_market("ct-after"))
    assert fake.orders == {}
