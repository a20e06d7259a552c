"""IB market data: watched contracts' last trades, over the fake gateway's socket."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.budget import Priority
from routing.brokers.ib import IBAdapter
from routing.brokers.ib.contracts import ib_contract
from routing.tests.brokers.ib.conftest import ACCOUNTS, login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway
from routing.tests.brokers.ib.test_budget import CountingBudget
from routing.tests.brokers.ib.test_connection import _until

MNQ, ES = "MNQH7", "ESH7"
pytestmark = pytest.mark.asyncio


def _month(symbol: str) -> str:
    """The contract month the adapter asks for (its year read from now)."""
    return ib_contract(symbol, datetime.now(UTC)).lastTradeDateOrContractMonth


def _subscribed(gateway: FakeGateway) -> list[str]:
    return [c.trading_class for c in gateway.live_subscriptions()]


def _sent(gateway: FakeGateway, request: str) -> list[str]:
    return [tc for r, tc in gateway.market_requests if r == request]


async def test_watch_when_trades_published_then_last_price_follows(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange
    await adapter.watch_prices([MNQ])
    await _until(lambda: _subscribed(gateway) == ["MNQ"])
    before = datetime.now(UTC)
    # Act
    gateway.publish("MNQ", _month(MNQ), Decimal("21540.25"))
    await _until(lambda: adapter.last_price(MNQ) is not None)
    # Assert: the price in points as Decimal, its aware UTC arrival time.
    price, at = adapter.last_price(MNQ)  # type: ignore[misc]
    assert price == Decimal("21540.25")
    assert before <= at <= datetime.now(UTC)
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    # Act again: a later trade replaces it.
    gateway.publish("MNQ", _month(MNQ), Decimal("21538.50"))
    await _until(lambda: adapter.last_price(MNQ)[0] == Decimal("21538.50"))  # type: ignore[index]
    assert adapter.last_price(ES) is None  # not watched


async def test_quotes_and_no_data_ticks_when_sent_then_last_price_is_still_the_last_trade(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange
    await adapter.watch_prices([MNQ, ES])
    await _until(lambda: _subscribed(gateway) == ["ES", "MNQ"])
    gateway.publish("MNQ", _month(MNQ), Decimal("21540"))
    await _until(lambda: adapter.last_price(MNQ) is not None)
    # Act: MNQ's bid and ask move, IB's no-data LAST (-1, size 0) arrives;
    # then an ES trade, sent after them.
    gateway.quote("MNQ", _month(MNQ), Decimal("21400"), Decimal("21400.25"))
    gateway.publish("MNQ", _month(MNQ), Decimal(-1), size=0)
    gateway.publish("ES", _month(ES), Decimal("6000"))
    await _until(lambda: adapter.last_price(ES) is not None)
    # Assert: neither is a trade.
    assert adapter.last_price(MNQ)[0] == Decimal("21540")  # type: ignore[index]


async def test_two_symbols_when_watched_again_then_one_subscription_each(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange: a trade already printed before the watch reaches it on subscribing.
    gateway.publish("ES", _month(ES), Decimal("6012.75"))
    # Act: the worker calls watch every pass.
    await adapter.watch_prices([MNQ, ES])
    await adapter.watch_prices([ES, MNQ])
    gateway.publish("MNQ", _month(MNQ), Decimal("21541"))
    await _until(lambda: None not in (adapter.last_price(MNQ), adapter.last_price(ES)))
    # Assert: each contract's own price, each subscribed once.
    assert adapter.last_price(MNQ)[0] == Decimal("21541")  # type: ignore[index]
    assert adapter.last_price(ES)[0] == Decimal("6012.75")  # type: ignore[index]
    assert sorted(_sent(gateway, "reqMktData")) == ["ES", "MNQ"]
    assert _subscribed(gateway) == ["ES", "MNQ"]


async def test_symbol_when_no_longer_watched_then_cancelled_and_unknown(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange
    await adapter.watch_prices([MNQ, ES])
    gateway.publish("MNQ", _month(MNQ), Decimal("21540"))
    await _until(lambda: adapter.last_price(MNQ) is not None)
    # Act
    await adapter.watch_prices([ES])
    await _until(lambda: _subscribed(gateway) == ["ES"])
    gateway.publish("MNQ", _month(MNQ), Decimal("21000"))
    gateway.publish("ES", _month(ES), Decimal("6000"))
    await _until(lambda: adapter.last_price(ES) is not None)
    # Assert: MNQ cancelled at the gateway, its price forgotten.
    assert _sent(gateway, "cancelMktData") == ["MNQ"]
    assert adapter.last_price(MNQ) is None
    assert adapter.last_price(ES)[0] == Decimal("6000")  # type: ignore[index]


async def test_connection_when_lost_then_unknown_and_resubscribed_on_reconnect(
    adapter: IBAdapter, gateway: FakeGateway
) -> None:
    # Arrange
    await adapter.watch_prices([MNQ])
    gateway.publish("MNQ", _month(MNQ), Decimal("21540"))
    await _until(lambda: adapter.last_price(MNQ) is not None)
    # Act: the gateway drops every connection; the login reconnects.
    gateway.drop()
    await _until(lambda: adapter.last_price(MNQ) is None)
    await _until(lambda: gateway.connects == 2 and _subscribed(gateway) == ["MNQ"])
    gateway.publish("MNQ", _month(MNQ), Decimal("21520.75"))
    # Assert: subscribed again without another watch call; new prices arrive.
    await _until(lambda: (adapter.last_price(MNQ) or (None,))[0] == Decimal("21520.75"))
    assert _sent(gateway, "reqMktData") == ["MNQ", "MNQ"]


async def test_unknown_symbols_when_watched_then_logged_once_and_others_served(
    adapter: IBAdapter, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: XYZ is no product of the adapter; GC is, but this gateway
    # (account) has no such contract; "junk" is no contract code at all.
    symbols = ["XYZH7", "GCG7", "junk", MNQ]
    caplog.set_level(logging.WARNING, logger="routing.brokers.ib.market_data")
    # Act: watched on two passes; nothing raises.
    await adapter.watch_prices(symbols)
    await adapter.watch_prices(symbols)
    gateway.publish("MNQ", _month(MNQ), Decimal("21540"))
    await _until(lambda: adapter.last_price(MNQ) is not None)
    # Assert: unknown stay unknown, each logged once, the gateway asked once.
    assert [adapter.last_price(s) for s in symbols[:3]] == [None, None, None]
    logged = [r.getMessage() for r in caplog.records]
    for symbol in symbols[:3]:
        assert len([m for m in logged if f" {symbol} " in m]) == 1, logged
    assert _sent(gateway, "reqContractDetails") == ["GC", "MNQ"]
    assert _sent(gateway, "reqMktData") == ["MNQ"]


async def test_gateway_when_silent_then_watch_returns_at_once_and_retries_later(
    adapter: IBAdapter, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: the gateway does not answer contract look-ups (timeout 2 s).
    gateway.silent_details = True
    caplog.set_level(logging.WARNING, logger="routing.brokers.ib.market_data")
    loop = asyncio.get_running_loop()
    # Act
    began = loop.time()
    await adapter.watch_prices([MNQ])
    returned = loop.time() - began
    # Assert: the risk pass is not held up; the look-up times out, logged.
    assert returned < 0.5
    await _until(lambda: any("not subscribed yet" in r.getMessage() for r in caplog.records), 4)
    assert adapter.last_price(MNQ) is None
    # Act again: the gateway answers; the next pass subscribes.
    gateway.silent_details = False
    await adapter.watch_prices([MNQ])
    await _until(lambda: _subscribed(gateway) == ["MNQ"])
    assert _sent(gateway, "reqContractDetails") == ["MNQ", "MNQ"]


async def test_account_without_realtime_data_when_watched_then_delayed_price_kept(
    adapter: IBAdapter, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    gateway.delayed_only = True
    caplog.set_level(logging.WARNING, logger="routing.brokers.ib.market_data")
    # Act
    await adapter.watch_prices([MNQ])
    await _until(lambda: _subscribed(gateway) == ["MNQ"])
    gateway.publish("MNQ", _month(MNQ), Decimal("21530"))
    gateway.publish("MNQ", _month(MNQ), Decimal("21531"))
    # Assert: DELAYED_LAST ticks are kept, and said once to be delayed.
    await _until(lambda: (adapter.last_price(MNQ) or (None,))[0] == Decimal("21531"))
    delayed = [r for r in caplog.records if "delayed" in r.getMessage()]
    assert len(delayed) == 1


async def test_realtime_only_when_account_has_no_subscription_then_price_unknown(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: delayed data turned off; the account has no real-time data.
    gateway.delayed_only = True
    caplog.set_level(logging.WARNING, logger="routing.brokers.ib.market_data")
    adapter = IBAdapter([login_config(gateway.port)], timeout=2.0, delayed_market_data=False)
    await adapter.connect()
    try:
        # Act
        await adapter.watch_prices([MNQ])
        await _until(lambda: _sent(gateway, "reqMktData") == ["MNQ"])
        gateway.publish("MNQ", _month(MNQ), Decimal("21530"))
        await adapter.watch_prices([MNQ])
        # Assert: refused (error 354, said once) and never marked.
        assert _subscribed(gateway) == []
        assert adapter.last_price(MNQ) is None

        def refused() -> list[str]:
            return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]

        await _until(lambda: bool(refused()))
        assert refused() == [f"IB market data for {MNQ} refused: error 354: "
                           "Requested market data is not subscribed."]  # fmt: skip
    finally:
        await adapter.disconnect()


async def test_subscription_requests_when_sent_then_query_budget_spent_first(
    gateway: FakeGateway,
) -> None:
    budget = CountingBudget(gateway)
    adapter = IBAdapter([login_config(gateway.port)], budgets=lambda login_id: budget)
    await adapter.connect()
    try:
        budget.spent.clear()
        # Act: data type + contract look-up + subscription, then a cancel.
        await adapter.watch_prices([MNQ])
        await _until(lambda: _subscribed(gateway) == ["MNQ"])
        await adapter.watch_prices([])
        await _until(lambda: _sent(gateway, "cancelMktData") == ["MNQ"])
        # Assert
        assert [(p, c) for p, _, c, _ in budget.spent] == [(Priority.QUERY, 1)] * 4
    finally:
        await adapter.disconnect()


async def test_two_logins_when_the_serving_one_goes_then_the_other_serves(
    gateway: FakeGateway,
) -> None:
    # Arrange: two logins on the gateway (client ids 7 and 8), one account each.
    first = replace(login_config(gateway.port, login_id=1, client_id=7), accounts=ACCOUNTS[:1])
    second = replace(login_config(gateway.port, login_id=2, client_id=8), accounts=ACCOUNTS[1:])
    adapter = IBAdapter([first, second], reconnect_delays=(0.05,), timeout=2.0)
    await adapter.connect()
    try:
        await adapter.watch_prices([MNQ])
        await _until(lambda: _subscribed(gateway) == ["MNQ"])
        gateway.publish("MNQ", _month(MNQ), Decimal("21540"))
        await _until(lambda: adapter.last_price(MNQ) is not None)
        # Act: the first login is removed; the worker's next pass watches again.
        await adapter.set_logins([second])
        stale = adapter.last_price(MNQ)
        await adapter.watch_prices([MNQ])
        await _until(
            lambda: _subscribed(gateway) == ["MNQ"] and len(_sent(gateway, "reqMktData")) == 2
        )
        gateway.publish("MNQ", _month(MNQ), Decimal("21550"))
        # Assert: one subscription for both logins, moved to the one still up.
        assert stale is None
        await _until(lambda: (adapter.last_price(MNQ) or (None,))[0] == Decimal("21550"))
        assert _subscribed(gateway) == ["MNQ"]
    finally:
        await adapter.disconnect()
