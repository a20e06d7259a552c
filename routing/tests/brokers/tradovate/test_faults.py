"""Tradovate adapter under faults: lost answers, dropped sockets, penalties, 429,
bad credentials, token renewal."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState
from routing.brokers.tradovate import TradovateAdapter
from routing.engine.types import Side
from routing.tests.brokers.tradovate.conftest import (
    PASSWORD,
    SYMBOL,
    AdapterFactory,
    RecordingBudget,
    Venue,
    until,
)


def _order(account: str, coid: str, qty: int = 1) -> OrderRequest:
    return OrderRequest(account, coid, SYMBOL, Side.BUY, qty)


async def _place_with_retries(adapter: TradovateAdapter, order: OrderRequest) -> OrderResult:
    """What the engine worker does: retry temporary errors with backoff."""
    for _ in range(40):
        try:
            return await adapter.place_order(order)
        except BrokerTemporaryError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"{order.client_order_id} never placed")


@pytest.mark.asyncio
async def test_fan_out_when_socket_drops_and_answers_lost_then_no_duplicate_at_broker(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: the first 3 orders' answers are lost, the socket drops at the 10th.
    adapter = make_adapter()
    await adapter.connect()
    venue.fake.lose_answers = 3
    venue.fake.drop_after_orders = 10
    accounts = list(venue.accounts)
    orders = [_order(accounts[i % 3], f"fan-{i}") for i in range(20)]
    # Act
    results = await asyncio.gather(*(_place_with_retries(adapter, o) for o in orders))
    # Assert: exactly one order per client order id at the fake, all filled.
    placed = [body["clOrdId"] for body in venue.fake.placeorders()]
    assert sorted(placed) == sorted(o.client_order_id for o in orders)
    assert all(r.status == OrderStatus.FILLED for r in results), results
    for order, result in zip(orders, results, strict=True):
        assert venue.fake.exchange.orders_with_client_id(order.client_order_id) == [
            int(result.broker_order_id or 0)
        ]
    # The faults happened: 3 answers lost, the socket dropped.
    assert (venue.fake.lose_answers, venue.fake.drop_after_orders) == (0, None)
    # The three uncertain ones were looked up by clOrdId before anything else.
    assert venue.fake.count("/command/list") >= 3
    assert adapter.login_states()[0].state == ConnectionState.CONNECTED


@pytest.mark.asyncio
async def test_order_when_answer_lost_then_looked_up_not_resent(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    venue.fake.lose_answers = 1
    # Act
    with pytest.raises(BrokerTemporaryError, match="outcome unknown"):
        await adapter.place_order(_order("DEMO2", "lost-1", qty=2))
    lookups_before = venue.fake.count("/command/list")
    found = await adapter.place_order(_order("DEMO2", "lost-1", qty=2))
    # Assert
    assert venue.fake.count("/command/list") == lookups_before + 1
    assert len(venue.fake.placeorders()) == 1
    assert found.status == OrderStatus.FILLED and found.filled_qty == 2


@pytest.mark.asyncio
async def test_order_when_lost_answer_never_reached_broker_then_sent_after_lookup(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: a request lost on the way (no answer, nothing stored at the broker).
    adapter = make_adapter()
    await adapter.connect()
    venue.fake.lose_requests = 1
    with pytest.raises(BrokerTemporaryError, match="outcome unknown"):
        await adapter.place_order(_order("DEMO3", "lost-2"))
    assert venue.fake.exchange.orders_with_client_id("lost-2") == []
    # Act
    result = await adapter.place_order(_order("DEMO3", "lost-2"))
    # Assert: looked up (not found), then sent once more.
    assert venue.fake.count("/command/list") == 1
    assert len(venue.fake.placeorders()) == 2
    assert result.status == OrderStatus.FILLED


@pytest.mark.asyncio
async def test_requests_when_websocket_down_then_temporary_and_reconnected(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(reconnect_delay=0.3)
    await adapter.connect()
    # Act
    await venue.fake.drop_websockets()
    await asyncio.sleep(0.1)
    down = adapter.login_states()[0]
    with pytest.raises(BrokerTemporaryError, match="down"):
        await adapter.place_order(_order("DEMO1", "while-down"))
    await until(lambda: adapter.login_states()[0].state == ConnectionState.CONNECTED)
    result = await adapter.place_order(_order("DEMO1", "while-down"))
    # Assert
    assert down.state == ConnectionState.DOWN and "reconnecting" in down.detail
    assert result.status == OrderStatus.FILLED
    assert len(venue.fake.placeorders()) == 1


@pytest.mark.asyncio
async def test_request_when_penalty_ticket_then_waited_and_repeated_with_ticket(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    budget = RecordingBudget()
    adapter = make_adapter(budgets=lambda login_id: budget)
    await adapter.connect()
    venue.fake.penalise_after(requests=2, window=30.0, p_time=0.3)
    # Act
    started = time.monotonic()
    results = [await adapter.place_order(_order("DEMO1", f"pen-{i}")) for i in range(3)]
    elapsed = time.monotonic() - started
    # Assert: penalties answered, each redeemed after p-time, never a 429.
    assert venue.fake.penalties and venue.fake.redeemed == venue.fake.penalties
    assert venue.fake.answered_429 == 0
    assert budget.penalties == [0.3] * len(venue.fake.penalties)
    assert elapsed >= 0.3 * len(venue.fake.penalties)
    assert [r.status for r in results] == [OrderStatus.FILLED] * 3
    assert len(venue.fake.exchange.orders) == 3
    with_ticket = [b["p-ticket"] for _, _, b in venue.fake.requests if "p-ticket" in b]
    assert with_ticket == venue.fake.penalties
    assert (Priority.ENTRY, None) in budget.spent


@pytest.mark.asyncio
async def test_login_when_penalty_asks_captcha_then_failed_without_repeating(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    venue.fake.penalise_after(requests=0, window=30.0, p_time=0.1, captcha=True)
    adapter = make_adapter()
    # Act
    await adapter.connect()
    # Assert
    [state] = adapter.login_states()
    assert state.state == ConnectionState.FAILED and "captcha" in state.detail
    assert venue.fake.redeemed == [] and venue.fake.count("/auth/accesstokenrequest") == 1


@pytest.mark.asyncio
async def test_request_when_429_then_login_down_long_and_never_retried(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    venue.fake.answer_429 = True
    # Act
    with pytest.raises(BrokerTemporaryError, match="429"):
        await adapter.place_order(_order("DEMO1", "locked-1"))
    requests_after_429 = len(venue.fake.requests)
    with pytest.raises(BrokerTemporaryError, match="paused"):
        await adapter.place_order(_order("DEMO1", "locked-2"))
    # Assert: nothing more reached Tradovate; the login says why and until when.
    assert len(venue.fake.requests) == requests_after_429
    [state] = adapter.login_states()
    assert state.state == ConnectionState.DOWN and "429" in state.detail
    assert not adapter.account_connected("DEMO1")
    assert venue.fake.answered_429 == 1


@pytest.mark.asyncio
async def test_connect_when_credentials_wrong_then_failed_and_orders_fatal(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    good = venue.login(1, accounts=("DEMO1",))
    bad = venue.login(2, password="wrong-password-42", accounts=("DEMO2",))
    adapter = make_adapter(good, bad)
    # Act
    await adapter.connect()
    # Assert: one refused login does not stop the other.
    states = {s.login_id: s for s in adapter.login_states()}
    assert states[1].state == ConnectionState.CONNECTED
    assert states[2].state == ConnectionState.FAILED
    assert "Incorrect username or password" in states[2].detail
    assert "wrong-password-42" not in states[2].detail and PASSWORD not in repr(bad)
    with pytest.raises(BrokerFatal, match="failed"):
        await adapter.place_order(_order("DEMO2", "bad-1"))
    with pytest.raises(BrokerFatal, match="no Tradovate login holds"):
        await adapter.place_order(_order("NOT-MINE", "bad-2"))
    assert (await adapter.place_order(_order("DEMO1", "ok-1"))).status == OrderStatus.FILLED
    assert venue.fake.token_requests == 2  # the refused login is not retried


@pytest.mark.asyncio
async def test_token_when_near_expiry_then_renewed_and_requests_use_new_token(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    venue.fake.token_seconds = 2.0
    adapter = make_adapter(renew_margin=timedelta(seconds=1.7))
    await adapter.connect()
    first_tokens = set(venue.fake.tokens)
    # Act: past the first token's life.
    await asyncio.sleep(2.2)
    result = await adapter.place_order(_order("DEMO1", "after-renewal"))
    # Assert
    assert venue.fake.renewals >= 2
    assert set(venue.fake.tokens) - first_tokens
    assert result.status == OrderStatus.FILLED
    assert venue.fake.token_requests == 1


@pytest.mark.asyncio
async def test_set_logins_when_login_removed_then_its_accounts_unknown(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(venue.login(1, accounts=("DEMO1",)))
    await adapter.connect()
    # Act: the second login is added, the first removed.
    await adapter.set_logins([venue.login(2, accounts=("DEMO2",))])
    # Assert
    assert [s.login_id for s in adapter.login_states()] == [2]
    assert adapter.account_connected("DEMO2")
    with pytest.raises(BrokerFatal):
        await adapter.place_order(_order("DEMO1", "gone"))


@pytest.mark.asyncio
async def test_leader_fill_when_made_while_socket_down_then_delivered_after_reconnect(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: a fill from before the adapter started is history, not an event.
    user_id = venue.fake.exchange.users["trader"].user_id
    market = {"accountId": venue.accounts["DEMO3"], "accountSpec": "DEMO3", "action": "Buy",
              "symbol": SYMBOL, "orderQty": 1, "orderType": "Market"}  # fmt: skip
    venue.fake.exchange.place(user_id, market)
    adapter = make_adapter(reconnect_delay=0.3)
    await adapter.connect()
    adapter.watch_leader("DEMO3")
    events = adapter.leader_events("DEMO3")
    # Act: the leader trades while the socket is down (the push is lost).
    await venue.fake.drop_websockets()
    await until(lambda: adapter.login_states()[0].state == ConnectionState.DOWN)
    venue.fake.exchange.place(user_id, market | {"action": "Sell", "orderQty": 2})
    async with asyncio.timeout(3):
        event = await anext(events)
    # Assert: only the new fill, from the reconnect's snapshot.
    assert (event.side, event.qty) == (Side.SELL, 2)
    assert event.event_id == str(venue.fake.exchange.fills[-1]["id"])
    assert len(venue.fake.exchange.fills) == 2


@pytest.mark.asyncio
async def test_request_when_token_revoked_then_temporary_and_logged_in_again(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    venue.fake.tokens.clear()  # Tradovate forgot every token (revoked, expired early)
    # Act
    with pytest.raises(BrokerTemporaryError, match="401"):
        await adapter.place_order(_order("DEMO1", "revoked"))
    await until(lambda: venue.fake.token_requests == 2)
    await until(lambda: bool(venue.fake.tokens))
    result = await _place_with_retries(adapter, _order("DEMO1", "revoked"))
    # Assert: renewal refused (401), so a fresh login; the order went once.
    assert venue.fake.count("/auth/renewaccesstoken") == 1
    assert result.status == OrderStatus.FILLED
    assert len(venue.fake.exchange.orders) == 1
