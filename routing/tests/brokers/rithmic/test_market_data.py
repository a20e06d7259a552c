"""Rithmic market data against the fake ticker plant: watch, prices,
unwatch, reconnect, unknown symbols, budgets, the login it runs on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.budget import Priority
from routing.brokers.rithmic import RithmicAdapter
from routing.tests.brokers.rithmic.conftest import PASSWORD, adapter_for, login
from routing.tests.brokers.rithmic.fake_server import FakeRithmic
from routing.tests.brokers.rithmic.test_budgets_logins import RecordingBudget

# Print times after the snapshot's (the fake stamps it now).
T1 = datetime(2030, 3, 4, 15, 30, 0, 250_000, tzinfo=UTC)
T2 = datetime(2030, 3, 4, 15, 30, 1, tzinfo=UTC)
TICKER = 1  # R|Protocol infra type TICKER_PLANT


async def _until(check: Callable[[], object], seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def _watching(adapter: RithmicAdapter, fake: FakeRithmic, *symbols: str) -> None:
    """Watch ``symbols`` (a worker's risk pass) until each is subscribed."""
    await adapter.watch_prices(symbols)
    await _until(lambda: all(fake.subscribers(s) for s in symbols))
    await adapter.watch_prices(symbols)  # the next pass: nothing more to send


def _subscriptions(fake: FakeRithmic) -> list[tuple[str, str, str]]:
    return [(sym, exch, kind) for _, sym, exch, kind in fake.market_data_requests]


@pytest.mark.asyncio
async def test_watch_when_trades_published_then_last_price_and_time(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: nothing known before watching.
    assert adapter.last_price("MNQH6") is None
    # Act
    await _watching(adapter, fake, "MNQH6")
    # Assert: Rithmic's snapshot gives the last price so far...
    await _until(lambda: adapter.last_price("MNQH6") is not None)
    assert adapter.last_price("MNQH6")[0] == Decimal("21500.25")  # type: ignore[index]
    # ...then each print replaces it, with its exchange time.
    await fake.publish("MNQH6", 21480.75, at=T1)
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21480.75"), T1))
    price, at = adapter.last_price("MNQ MAR26")  # type: ignore[misc]
    assert (price, at, at.utcoffset()) == (Decimal("21480.75"), T1, UTC.utcoffset(None))
    # One ticker login, one subscription to last trades, on CME.
    assert fake.logins.count(("trader", TICKER)) == 1
    assert _subscriptions(fake) == [("MNQH6", "CME", "subscribe")]


@pytest.mark.asyncio
async def test_trade_time_when_published_then_kept_and_an_older_print_ignored(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange
    await _watching(adapter, fake, "MNQH6")
    # Act: a print at T2, then a late one stamped T1.
    await fake.publish("MNQH6", 21501.0, at=T2)
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21501.0"), T2))
    await fake.publish("MNQH6", 21490.0, at=T1)
    await fake.publish("MNQH6", 21502.5, at=T2)
    # Assert: the print stamped before the price held never replaced it.
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21502.5"), T2))


@pytest.mark.asyncio
async def test_two_symbols_when_watched_then_each_has_its_own_price(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Act
    await _watching(adapter, fake, "MNQH6", "MCLJ6")
    await fake.publish("MCLJ6", 71.23, at=T1)
    await fake.publish("MNQH6", 21400.5, at=T2)
    # Assert
    await _until(lambda: adapter.last_price("MCLJ6") == (Decimal("71.23"), T1))
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21400.5"), T2))
    assert sorted(_subscriptions(fake)) == [
        ("MCLJ6", "NYMEX", "subscribe"),
        ("MNQH6", "CME", "subscribe"),
    ]


@pytest.mark.asyncio
async def test_symbol_no_longer_given_then_unsubscribed_and_forgotten(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange
    await _watching(adapter, fake, "MNQH6", "ESH6")
    await fake.publish("ESH6", 6010.25, at=T1)
    await _until(lambda: adapter.last_price("ESH6") is not None)
    # Act
    await adapter.watch_prices(["MNQH6"])
    # Assert: forgotten at once, unsubscribed at Rithmic, later prints ignored.
    assert adapter.last_price("ESH6") is None
    await _until(lambda: ("ESH6", "CME", "unsubscribe") in _subscriptions(fake))
    assert fake.subscribers("ESH6") == []
    await fake.publish("ESH6", 6020.0, at=T2)
    await fake.publish("MNQH6", 21555.0, at=T2)
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21555.0"), T2))
    assert adapter.last_price("ESH6") is None


@pytest.mark.asyncio
async def test_connection_lost_then_prices_forgotten_and_resubscribed(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange
    await _watching(adapter, fake, "MNQH6", "ESH6")
    await fake.publish("MNQH6", 21501.0, at=T1)
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21501.0"), T1))
    # Act: the network cuts every socket.
    fake.drop_connections()
    # Assert: a stale price is never served; once back, both contracts are
    # subscribed again (no further watch call needed) and prices flow.
    await _until(lambda: adapter.last_price("MNQH6") is None)
    await _until(lambda: fake.subscribers("MNQH6") and fake.subscribers("ESH6"))
    assert fake.logins.count(("trader", TICKER)) == 2
    assert _subscriptions(fake).count(("MNQH6", "CME", "subscribe")) == 2
    await fake.publish("MNQH6", 21470.0, at=T2)
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21470.0"), T2))


@pytest.mark.asyncio
async def test_unknown_symbols_then_no_error_logged_once_and_others_served(
    adapter: RithmicAdapter, fake: FakeRithmic, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: Rithmic does not list MESH6; "ZZZH6" has no known exchange;
    # "garbage" is no contract code.
    caplog.set_level(logging.WARNING, logger="routing.brokers.rithmic.market_data")
    fake.unlisted.add("MESH6")
    symbols = ["garbage", "ZZZH6", "MESH6", "MNQH6"]
    # Act: two risk passes.
    await adapter.watch_prices(symbols)
    await _until(lambda: fake.subscribers("MNQH6"))
    await adapter.watch_prices(symbols)
    await fake.publish("MNQH6", 21499.0, at=T2)
    # Assert: nothing raised; the known contract is served, the others unknown.
    await _until(lambda: adapter.last_price("MNQH6") == (Decimal("21499.0"), T2))
    for symbol in ("garbage", "ZZZH6", "MESH6"):
        assert adapter.last_price(symbol) is None
    # Rithmic was asked for MESH6 once (refused), never for the unreadable ones.
    assert sorted(_subscriptions(fake)) == [
        ("MESH6", "CME", "subscribe"),
        ("MNQH6", "CME", "subscribe"),
    ]
    lines = [r.getMessage() for r in caplog.records]
    for symbol in ("garbage", "ZZZH6", "MESH6"):
        assert len([line for line in lines if symbol in line]) == 1, (symbol, lines)
    assert "no such symbol MESH6" in next(line for line in lines if "MESH6" in line)


@pytest.mark.asyncio
async def test_subscriptions_spend_the_login_budget_at_query_priority(
    fake: FakeRithmic,
) -> None:
    # Arrange
    budgets: dict[int, RecordingBudget] = {}
    broker = adapter_for(fake, login(fake))
    broker._budget_for = lambda login_id: budgets.setdefault(login_id, RecordingBudget())
    await broker.connect()
    try:
        budgets[1].spent.clear()
        # Act: subscribe two, then drop one.
        await _watching(broker, fake, "MNQH6", "ESH6")
        await broker.watch_prices(["MNQH6"])
        await _until(lambda: fake.subscribers("ESH6") == [])
        # Assert: three requests, each spent as a query.
        assert budgets[1].spent == [(Priority.QUERY, None)] * 3
    finally:
        await broker.disconnect()
    assert fake.subscribers("MNQH6") == []  # disconnect closed market data too


@pytest.mark.asyncio
async def test_first_login_refused_then_market_data_on_a_connected_one(
    fake: FakeRithmic,
) -> None:
    # Arrange: login 1's password is wrong; login 2 ("lead") is fine.
    broker = adapter_for(
        fake,
        login(fake, password="wrong-" + PASSWORD),
        login(fake, login_id=2, user="lead", accounts=("LEAD-1",)),
    )
    await broker.connect()
    try:
        # Act
        await _watching(broker, fake, "MNQH6")
        await fake.publish("MNQH6", 21444.0, at=T2)
        # Assert: the ticker plant runs on the connected login.
        await _until(lambda: broker.last_price("MNQH6") == (Decimal("21444.0"), T2))
        assert fake.subscribers("MNQH6") == ["lead"]
        assert broker.market_data.login_id == 2
    finally:
        await broker.disconnect()


@pytest.mark.asyncio
async def test_watch_before_connect_then_nothing_and_no_error(fake: FakeRithmic) -> None:
    broker = adapter_for(fake, login(fake))
    await broker.watch_prices(["MNQH6"])
    assert broker.last_price("MNQH6") is None
    assert fake.market_data_requests == []


@pytest.mark.asyncio
async def test_ticker_login_when_logged_then_no_credential_in_any_line(
    adapter: RithmicAdapter, fake: FakeRithmic, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: the SDK's own debug dumps on.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="rithmic")
    # Act
    await _watching(adapter, fake, "MNQH6")
    # Assert: the ticker plant's login request was logged, its password masked.
    ticker = [r.getMessage() for r in caplog.records if r.name.startswith("rithmic.plant.ticker")]
    assert any("RequestLogin" in line or "'user'" in line for line in ticker)
    assert any("***" in line for line in ticker)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_market_data_down_then_watch_returns_at_once_and_prices_unknown(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Arrange: prices flowing, then Rithmic is gone for good.
    await _watching(adapter, fake, "MNQH6")
    await _until(lambda: adapter.last_price("MNQH6") is not None)
    await fake.stop()
    fake.drop_connections()
    await _until(lambda: adapter.last_price("MNQH6") is None)
    # Act / Assert: a risk pass is never held up by the dead connection.
    await asyncio.wait_for(adapter.watch_prices(["MNQH6", "ESH6"]), timeout=0.1)
    assert adapter.last_price("MNQH6") is None
    assert adapter.last_price("ESH6") is None
