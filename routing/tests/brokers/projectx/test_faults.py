"""Faults: drops, lost answers, 429s, bad credentials, a login that is down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState
from routing.brokers.projectx.adapter import ProjectXAdapter
from routing.engine.types import LeaderFill, OrderType, Side
from routing.tests.brokers.projectx.conftest import (
    FOLLOWER_A,
    FOLLOWER_B,
    LEADER,
    MNQ,
    Setup,
    eventually,
    login,
    states,
)
from routing.tests.brokers.projectx.fake_server import FakeGateway

T = datetime(2026, 1, 28, 15, 0, tzinfo=UTC)


async def _with_retries(adapter: ProjectXAdapter, order: OrderRequest) -> OrderResult:
    """What the engine worker does (routing.runtime.faults: SEND_RETRIES = 3)."""
    for attempt in range(3):
        try:
            return await adapter.place_order(order)
        except BrokerTemporaryError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


@pytest.mark.asyncio
async def test_drop_in_middle_of_fan_out_when_retried_then_no_duplicate(px: Setup) -> None:
    # Arrange: the hub drops after the 8th order and 4 answers are lost.
    px.fake.drop_after, px.fake.lose_on_drop = 8, 4
    orders = [
        OrderRequest(
            str(FOLLOWER_A if i % 2 else FOLLOWER_B), f"fan-{i}", "MNQH6", Side.BUY, 1, time=T
        )
        for i in range(20)
    ]
    # Act
    results = await asyncio.gather(*(_with_retries(px.adapter, o) for o in orders))
    # Assert: every order once at ProjectX, every result filled.
    tags = px.fake.tags(FOLLOWER_A) + px.fake.tags(FOLLOWER_B)
    assert sorted(tags) == sorted(o.client_order_id for o in orders)
    assert [r.status for r in results] == [OrderStatus.FILLED] * 20
    assert [r.client_order_id for r in results] == [o.client_order_id for o in orders]
    # The uncertain ones were found by customTag, not sent again.
    assert px.fake.requests.count("/Order/place") == 20
    assert px.fake.requests.count("/Order/search") >= 4
    assert ConnectionState.DOWN in px.adapter._sessions[2].history
    await eventually(lambda: states(px.adapter)[2] is ConnectionState.CONNECTED)


@pytest.mark.asyncio
async def test_lost_answer_when_placed_again_then_queried_not_resent(px: Setup) -> None:
    # Arrange: the answer is lost and the hub brings no event either.
    px.fake.lose_answers, px.fake.silent_hub = 1, True
    order = OrderRequest(str(FOLLOWER_A), "co-lost", "MNQH6", Side.BUY, 2, time=T)
    with pytest.raises(BrokerTemporaryError, match="looked up by customTag"):
        await px.adapter.place_order(order)
    assert px.fake.tags(FOLLOWER_A) == ["co-lost"]  # it did reach ProjectX
    before = len(px.fake.requests)
    # Act
    result = await px.adapter.place_order(order)
    # Assert: found by customTag (orders, then its trades), never sent again.
    assert result.status is OrderStatus.FILLED and result.filled_qty == 2
    assert px.fake.requests[before:] == ["/Order/search", "/Trade/search"]
    assert len(px.fake.orders_of(FOLLOWER_A)) == 1


@pytest.mark.asyncio
async def test_lost_answer_when_hub_saw_order_then_repeat_sends_nothing(px: Setup) -> None:
    px.fake.lose_answers = 1
    order = OrderRequest(str(FOLLOWER_A), "co-lost", "MNQH6", Side.BUY, 2, time=T)
    with pytest.raises(BrokerTemporaryError):
        await px.adapter.place_order(order)
    result = await px.adapter.place_order(order)
    assert result.status is OrderStatus.FILLED
    assert px.fake.requests.count("/Order/place") == 1


@pytest.mark.asyncio
async def test_rate_limit_when_exceeded_then_temporary_and_order_sent_once_later(
    px: Setup,
) -> None:
    # Arrange: spend the 200 requests of the window on reads.
    account = str(FOLLOWER_A)
    for _ in range(98):  # 2 reads each, after the 4 of the two logins
        await px.adapter.positions(account)
    with pytest.raises(BrokerTemporaryError, match="429"):
        await px.adapter.positions(account)
    assert len(px.fake._times) == 200 and px.fake.requests.count("/Position/searchOpen") == 99
    order = OrderRequest(account, "co-429", "MNQH6", Side.BUY, 1, time=T)
    # Act: an order answered 429 is not at ProjectX.
    with pytest.raises(BrokerTemporaryError):
        await px.adapter.place_order(order)
    assert px.fake.orders_of(FOLLOWER_A) == []
    px.fake._times.clear()  # the window passes
    result = await px.adapter.place_order(order)
    # Assert: looked up first (the 429 left it uncertain), then sent once.
    assert result.status is OrderStatus.FILLED
    assert px.fake.tags(FOLLOWER_A) == ["co-429"]


@pytest.mark.asyncio
async def test_bad_credentials_when_connecting_then_failed_and_fatal(fake: FakeGateway) -> None:
    adapter = ProjectXAdapter(
        [
            login(fake.url, 1, "lead-trader", "wrong-key", [LEADER]),
            login(fake.url, 2, "copy-trader", "key-copy", [FOLLOWER_A]),
        ]
    )
    await adapter.connect()
    try:
        state = adapter.login_states()[0]
        assert state.state is ConnectionState.FAILED
        assert "Invalid credentials" in state.detail and "wrong-key" not in state.detail
        assert states(adapter)[2] is ConnectionState.CONNECTED
        assert not adapter.account_connected(str(LEADER))
        with pytest.raises(BrokerFatal, match="failed"):
            await adapter.place_order(OrderRequest(str(LEADER), "x", "MNQH6", Side.BUY, 1))
        await asyncio.sleep(0.6)  # no retry of refused credentials
        assert fake.requests.count("/Auth/loginKey") == 2
    finally:
        await adapter.disconnect()


@pytest.mark.asyncio
async def test_login_down_when_requested_then_temporary_then_back_with_catch_up(
    px: Setup,
) -> None:
    # Arrange: the hub is refused and dropped: the login goes down.
    events: list[LeaderFill] = []

    async def consume() -> None:
        async for event in px.adapter.leader_events(str(LEADER)):
            assert isinstance(event, LeaderFill)
            events.append(event)

    # A trade before the stream began is never copied, not even by the catch-up.
    await px.fake.trade_on(LEADER, MNQ, side=0, size=5)
    await asyncio.sleep(0.01)
    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    px.fake.refuse_hub = True
    await px.fake.drop()
    await eventually(lambda: states(px.adapter)[1] is ConnectionState.DOWN)
    down = px.adapter.login_states()[0]
    assert "hub" in down.detail
    # Act / Assert: a request while down is a temporary error, nothing sent.
    with pytest.raises(BrokerTemporaryError, match="login 1 is down"):
        await px.adapter.place_order(OrderRequest(str(LEADER), "d1", "MNQH6", Side.BUY, 1))
    assert px.fake.tags(LEADER) == []
    # The leader trades while the hub is down; the login comes back with backoff.
    await px.fake.trade_on(LEADER, MNQ, side=1, size=2)
    px.fake.refuse_hub = False
    await eventually(lambda: states(px.adapter)[1] is ConnectionState.CONNECTED, 10)
    await eventually(lambda: len(events) == 1)  # read back after the reconnect
    await asyncio.sleep(0.1)
    assert [(e.event_id, e.side, e.qty) for e in events] == [
        (str(px.fake.trades[-1]["id"]), Side.SELL, 2)
    ]
    await px.adapter.disconnect()
    await asyncio.wait_for(task, 5)


@pytest.mark.asyncio
async def test_order_filled_while_hub_down_when_back_then_update_streamed(px: Setup) -> None:
    # Arrange: a resting order; the hub goes down and stays refused.
    seen: list[OrderResult] = []

    async def consume() -> None:
        async for update in px.adapter.order_updates():
            seen.append(update)

    task = asyncio.create_task(consume())
    resting = OrderRequest(
        str(FOLLOWER_A), "co-rest", "MNQH6", Side.BUY, 1, OrderType.LIMIT,
        limit_price=Decimal("21500.00"), time=T,
    )  # fmt: skip
    placed = await px.adapter.place_order(resting)
    px.fake.refuse_hub = True
    await px.fake.drop()
    await eventually(lambda: states(px.adapter)[2] is ConnectionState.DOWN)
    # Act: it fills at ProjectX while no event can reach the adapter.
    await px.fake.fill_working(int(placed.broker_order_id or 0), Decimal("21500.00"))
    px.fake.refuse_hub = False
    # Assert: read back after the reconnect and streamed.
    await eventually(lambda: any(u.status is OrderStatus.FILLED for u in seen), 10)
    assert seen[-1].client_order_id == "co-rest" and seen[-1].filled_qty == 1
    await px.adapter.disconnect()
    await asyncio.wait_for(task, 5)


@pytest.mark.asyncio
async def test_set_logins_when_changed_then_only_that_login_reopened(px: Setup) -> None:
    logins_before = px.fake.requests.count("/Auth/loginKey")
    lead = login(px.fake.url, 1, "lead-trader", "key-lead", [LEADER])
    copy = login(px.fake.url, 2, "copy-trader", "key-copy", [FOLLOWER_A])  # B dropped
    await px.adapter.set_logins([lead, copy])
    assert px.fake.requests.count("/Auth/loginKey") == logins_before + 1
    assert px.adapter.account_connected(str(FOLLOWER_A))
    with pytest.raises(BrokerFatal, match=str(FOLLOWER_B)):
        await px.adapter.place_order(OrderRequest(str(FOLLOWER_B), "x", "MNQH6", Side.BUY, 1))
    await px.adapter.set_logins([copy])
    assert [s.login_id for s in px.adapter.login_states()] == [2]
    assert not px.adapter.account_connected(str(LEADER))
    await eventually(lambda: px.fake.hub_count() == 1)


@pytest.mark.asyncio
async def test_token_near_expiry_when_requesting_then_renewed_first(px: Setup) -> None:
    session = px.adapter._sessions[2]
    assert session._client is not None and session._client.token_expiry is not None
    old = session._client.session_token
    session._client.token_expiry = datetime.now(UTC)  # about to expire
    await px.adapter.positions(str(FOLLOWER_A))
    assert px.fake.requests[-3:] == ["/Auth/validate", "/Position/searchOpen", "/Trade/search"]
    assert session._client.session_token != old
    assert session._client.token_expiry > datetime.now(UTC)
