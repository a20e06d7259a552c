"""Tradovate market data: watched contracts priced at their last trade from
the market-data websocket, unwatched ones dropped, subscriptions renewed
after a reconnect, unknown symbols left unpriced."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from routing.brokers.budget import Priority
from routing.tests.brokers.tradovate.conftest import (
    SYMBOL,
    AdapterFactory,
    RecordingBudget,
    Venue,
    until,
)

pytestmark = pytest.mark.asyncio
ES = "ESH7"
AT = datetime(2026, 12, 3, 16, 0, 1, 250_000, tzinfo=UTC)


async def test_watched_symbol_when_a_trade_prints_then_last_price_is_that_trade(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange
    budget = RecordingBudget()
    adapter = make_adapter(budgets=lambda login_id: budget)
    await adapter.connect()
    spent_before = len(budget.spent)
    # Act
    await adapter.watch_prices([SYMBOL])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    assert adapter.last_price(SYMBOL) is None  # nothing traded yet
    venue.fake.md.publish_trade(SYMBOL, Decimal("21510.75"), at=AT)
    await until(lambda: adapter.last_price(SYMBOL) is not None)
    # Assert: the exact price in points, at the quote's aware UTC time.
    assert adapter.last_price(SYMBOL) == (Decimal("21510.75"), AT)
    # A quote without a trade (a bid change) leaves the last trade.
    venue.fake.md.publish_bid(SYMBOL, Decimal("21509"))
    venue.fake.md.publish_trade(SYMBOL, Decimal("21511.5"), at=AT.replace(second=2))
    await until(lambda: adapter.last_price(SYMBOL) == (Decimal("21511.5"), AT.replace(second=2)))
    # The subscription went out once, with the budget spent at QUERY priority.
    assert venue.fake.md.count("md/subscribeQuote", SYMBOL) == 1
    assert (Priority.QUERY, None) in budget.spent[spent_before:]
    await adapter.watch_prices([SYMBOL])  # again: not subscribed twice
    venue.fake.md.publish_trade(SYMBOL, Decimal("21512"), at=AT.replace(second=3))
    await until(lambda: adapter.last_price(SYMBOL) == (Decimal("21512"), AT.replace(second=3)))
    assert venue.fake.md.count("md/subscribeQuote") == 1
    # Market data closed: the price is unknown, not stale.
    await adapter.disconnect()
    assert adapter.last_price(SYMBOL) is None


async def test_two_symbols_each_keep_their_own_last_trade(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    await adapter.watch_prices([SYMBOL, ES])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == venue.fake.md.subscribers(ES) == 1)
    venue.fake.md.publish_trade(SYMBOL, Decimal("21490.25"), at=AT)
    venue.fake.md.publish_trade(ES, Decimal("6101.75"), at=AT)
    await until(lambda: adapter.last_price(ES) is not None)
    assert adapter.last_price(SYMBOL) == (Decimal("21490.25"), AT)
    assert adapter.last_price(ES) == (Decimal("6101.75"), AT)
    # A quote older than the one kept (out of order) does not step the price back;
    # the ES trade after it on the same socket shows it was read.
    venue.fake.md.publish_trade(SYMBOL, Decimal("21400"), at=AT.replace(second=0))
    venue.fake.md.publish_trade(ES, Decimal("6102"), at=AT.replace(second=4))
    await until(lambda: adapter.last_price(ES) == (Decimal("6102"), AT.replace(second=4)))
    assert adapter.last_price(SYMBOL) == (Decimal("21490.25"), AT)


async def test_symbol_no_longer_watched_is_unsubscribed_and_its_price_dropped(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    await adapter.watch_prices([SYMBOL, ES])
    venue.fake.md.publish_trade(ES, Decimal("6100"), at=AT)
    venue.fake.md.publish_trade(SYMBOL, Decimal("21500"), at=AT)
    await until(lambda: adapter.last_price(ES) is not None)
    # Act: the last ES position closed.
    await adapter.watch_prices([SYMBOL])
    # Assert
    await until(lambda: venue.fake.md.count("md/unsubscribeQuote", ES) == 1)
    assert venue.fake.md.subscribers(ES) == 0
    assert adapter.last_price(ES) is None
    assert adapter.last_price(SYMBOL) == (Decimal("21500"), AT)
    venue.fake.md.publish_trade(ES, Decimal("6090"), at=AT.replace(second=5))
    venue.fake.md.publish_trade(SYMBOL, Decimal("21501"), at=AT.replace(second=5))
    await until(lambda: adapter.last_price(SYMBOL) == (Decimal("21501"), AT.replace(second=5)))
    assert adapter.last_price(ES) is None


async def test_market_data_socket_lost_then_reconnected_and_resubscribed(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    await adapter.watch_prices([SYMBOL, ES])
    await until(lambda: venue.fake.md.subscribers(ES) == 1)
    venue.fake.md.publish_trade(SYMBOL, Decimal("21500"), at=AT)
    await until(lambda: adapter.last_price(SYMBOL) is not None)
    # Act: Tradovate drops the market-data socket (the trading one stays).
    await venue.fake.md.drop()
    # Assert: both symbols subscribed again on a new socket; trades flow again.
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == venue.fake.md.subscribers(ES) == 1)
    assert venue.fake.md.count("md/subscribeQuote", SYMBOL) == 2
    assert venue.fake.md.count("md/subscribeQuote", ES) == 2
    assert venue.fake.md.count("authorize") == 2
    venue.fake.md.publish_trade(ES, Decimal("6095.5"), at=AT.replace(second=9))
    await until(lambda: adapter.last_price(ES) == (Decimal("6095.5"), AT.replace(second=9)))
    assert adapter.account_connected("DEMO1")


async def test_unknown_symbol_is_logged_once_and_left_unpriced(
    venue: Venue, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = make_adapter()
    await adapter.connect()
    caplog.set_level(logging.WARNING, logger="routing.brokers.tradovate.market_data")
    # Act: a contract Tradovate does not list, a code that is no contract, and one it lists.
    await adapter.watch_prices(["MNQZ9", "not-a-contract", SYMBOL])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    await adapter.watch_prices(["MNQZ9", "not-a-contract", SYMBOL])  # the next pass
    venue.fake.md.publish_trade(SYMBOL, Decimal("21499.5"), at=AT)
    await until(lambda: adapter.last_price(SYMBOL) is not None)
    # Assert: the known one priced, the others unknown, each logged once.
    assert adapter.last_price("MNQZ9") is None
    assert adapter.last_price("not-a-contract") is None
    assert venue.fake.md.count("md/subscribeQuote", "MNQZ9") == 0  # /contract/find said no
    unpriced = [r.getMessage() for r in caplog.records if "left unpriced" in r.getMessage()]
    assert len(unpriced) == 2, unpriced
    assert any("'MNQZ9'" in m for m in unpriced)
    assert any("'not-a-contract'" in m for m in unpriced)


async def test_contract_refused_by_the_market_data_socket_is_left_unpriced(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # A contract the REST API lists but market data refuses (no data licence).
    venue.fake.exchange.add_contract("MESH7")
    venue.fake.md.refused.add("MESH7")
    adapter = make_adapter()
    await adapter.connect()
    await adapter.watch_prices(["MESH7", SYMBOL])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    assert venue.fake.md.count("md/subscribeQuote", "MESH7") == 1
    assert adapter.last_price("MESH7") is None


async def test_serving_login_dropped_then_market_data_from_another_login(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    first, second = venue.login(1, accounts=("DEMO1",)), venue.login(2, accounts=("DEMO2",))
    adapter = make_adapter(first, second)
    await adapter.connect()
    await adapter.watch_prices([SYMBOL])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    # Act: the login serving market data is removed.
    await adapter.set_logins([second])
    # Assert: subscribed again, through the other login, and priced.
    await until(lambda: venue.fake.md.count("md/subscribeQuote", SYMBOL) == 2)
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    venue.fake.md.publish_trade(SYMBOL, Decimal("21477"), at=AT)
    await until(lambda: adapter.last_price(SYMBOL) == (Decimal("21477"), AT))


async def test_renewed_token_when_market_data_open_then_reauthorized_with_the_new_md_token(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: tokens live 2 s and are renewed 1.7 s early.
    venue.fake.token_seconds = 2.0
    adapter = make_adapter(renew_margin=timedelta(seconds=1.7))
    await adapter.connect()
    await adapter.watch_prices([SYMBOL])
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    # Act: the access token (and its md token) is renewed.
    await until(lambda: venue.fake.renewals >= 1)
    # Assert: market data authorized again with the renewed md token, subscribed again.
    await until(lambda: len(set(venue.fake.md.authorized_with)) >= 2)
    first, latest = venue.fake.md.authorized_with[0], venue.fake.md.authorized_with[-1]
    assert latest != first and latest in venue.fake.md.tokens
    await until(lambda: venue.fake.md.count("md/subscribeQuote", SYMBOL) >= 2)
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    venue.fake.md.publish_trade(SYMBOL, Decimal("21533"), at=AT)
    await until(lambda: adapter.last_price(SYMBOL) == (Decimal("21533"), AT))
