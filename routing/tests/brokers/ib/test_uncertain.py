"""Orders whose answer was lost: found again by orderRef, never sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from routing.brokers.base import OrderResult, OrderStatus
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.ib import IBAdapter
from routing.brokers.logins import ConnectionState
from routing.tests.brokers.ib.conftest import ACCOUNTS, login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway
from routing.tests.brokers.ib.test_connection import _until
from routing.tests.brokers.ib.test_orders import _order


@pytest.mark.asyncio
async def test_fan_out_when_connection_drops_midway_then_no_duplicate_at_gateway(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange: 20 follower orders over two accounts; the gateway drops every
    # connection right after booking the 10th, before answering it.
    orders = [_order(f"fan-{i:02d}", 1 + i % 3, account=ACCOUNTS[i % 2]) for i in range(20)]
    gateway.drop_after = 10
    # Act: all at once, as the engine worker sends them.
    first = await asyncio.gather(*(adapter.place_order(o) for o in orders), return_exceptions=True)
    # Assert: each is either answered or a temporary error (outcome unknown).
    lost = [o for o, r in zip(orders, first, strict=True) if not isinstance(r, OrderResult)]
    assert lost, "the drop should leave some orders without an answer"
    assert all(isinstance(first[orders.index(o)], BrokerTemporaryError) for o in lost)
    # Act: back online, the caller retries the unanswered ones (query first, as
    # the worker's recovery does, then place with the same client order id).
    await _until(lambda: adapter.login_states()[0].state is ConnectionState.CONNECTED)
    for o in lost:
        found = await adapter.query_order(o.account, o.client_order_id)
        if found is None:
            await adapter.place_order(o)
    # ...and, being careless, places all 20 once more.
    final = await asyncio.gather(*(adapter.place_order(o) for o in orders))
    # Assert: exactly one order per client order id at the gateway, all filled.
    refs = Counter(o.order_ref for o in gateway.orders)
    assert sorted(refs) == sorted(o.client_order_id for o in orders)
    assert set(refs.values()) == {1}
    assert [r.status for r in final] == [OrderStatus.FILLED] * 20
    assert [r.filled_qty for r in final] == [o.qty for o in orders]
    by_ref = {o.order_ref: o for o in gateway.orders}
    assert all(by_ref[o.client_order_id].account == o.account for o in orders)


@pytest.mark.asyncio
async def test_unanswered_order_when_queried_then_found_by_order_ref(
    gateway: FakeGateway,
) -> None:
    # Arrange: the gateway books the order but its answer never comes.
    adapter = IBAdapter([login_config(gateway.port)], timeout=0.3, fill_wait=0.3)
    await adapter.connect()
    gateway.silent_refs.add("quiet-1")
    try:
        with pytest.raises(BrokerTemporaryError, match="outcome unknown"):
            await adapter.place_order(_order("quiet-1", 2))
        # Act: the recovery path asks by client order id.
        found = await adapter.query_order(ACCOUNTS[0], "quiet-1")
        # Assert: the gateway's order (filled there), not a resend.
        assert found is not None
        assert (found.status, found.filled_qty) == (OrderStatus.FILLED, 2)
        assert found.broker_order_id == str(gateway.orders[0].perm_id)
        assert await adapter.place_order(_order("quiet-1", 2)) == found
        assert len(gateway.orders) == 1
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_unanswered_order_when_placed_again_then_looked_up_not_resent(
    gateway: FakeGateway,
) -> None:
    adapter = IBAdapter([login_config(gateway.port)], timeout=0.3, fill_wait=0.3)
    await adapter.connect()
    gateway.silent_refs.add("quiet-2")
    try:
        with pytest.raises(BrokerTemporaryError):
            await adapter.place_order(_order("quiet-2", 1))
        # Act: a blind retry with the same client order id.
        again = await adapter.place_order(_order("quiet-2", 1))
        # Assert
        assert again.status is OrderStatus.FILLED
        assert len(gateway.orders) == 1
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_order_never_received_when_placed_again_then_sent_once(
    gateway: FakeGateway,
) -> None:
    # Arrange: the connection drops as the first order is booked: the order
    # after it in the burst never reaches the gateway.
    adapter = IBAdapter([login_config(gateway.port)], reconnect_delays=(0.05,), timeout=1.0)
    await adapter.connect()
    gateway.drop_after = 1
    try:
        results = await asyncio.gather(
            adapter.place_order(_order("d-1", 1)),
            adapter.place_order(_order("d-2", 1)),
            return_exceptions=True,
        )
        assert all(isinstance(r, BrokerTemporaryError) for r in results)
        await _until(lambda: adapter.login_states()[0].state is ConnectionState.CONNECTED)
        # Act
        assert await adapter.query_order(ACCOUNTS[0], "d-2") is None
        d2 = await adapter.place_order(_order("d-2", 1))
        d1 = await adapter.place_order(_order("d-1", 1))
        # Assert
        assert (d1.status, d2.status) == (OrderStatus.FILLED, OrderStatus.FILLED)
        assert sorted(o.order_ref for o in gateway.orders) == ["d-1", "d-2"]
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_burst_when_above_ib_pacing_then_queued_not_timed_out(
    gateway: FakeGateway,
) -> None:
    # Arrange: answers due within 0.5 s, but 100 orders at once exceed the 45
    # messages a second ib_async lets out (IB paces at 50): ~2 s of queueing.
    adapter = IBAdapter([login_config(gateway.port)], timeout=0.5, fill_wait=0.5)
    await adapter.connect()
    try:
        orders = [_order(f"burst-{i:03d}", 1) for i in range(100)]
        # Act
        results = await asyncio.gather(*(adapter.place_order(o) for o in orders))
        # Assert: every one answered, none timed out, one each at the gateway.
        assert [r.status for r in results] == [OrderStatus.FILLED] * 100
        assert len({o.order_ref for o in gateway.orders}) == len(gateway.orders) == 100
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_lookups_when_many_at_once_then_all_answered(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # ib_async answers open / completed orders and positions through one
    # pending request each: concurrent look-ups must share, not strand, them.
    await adapter.place_order(_order("known", 1))
    queries = [adapter.query_order(ACCOUNTS[0], f"unknown-{i}") for i in range(8)]
    positions = [adapter.positions(ACCOUNTS[0]) for _ in range(4)]
    found = await asyncio.wait_for(asyncio.gather(*queries, *positions), 3)
    assert found[:8] == [None] * 8
    assert all(p[0].qty == 1 for p in found[8:])  # type: ignore[index, union-attr]
