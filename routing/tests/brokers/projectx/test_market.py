"""Market data: last traded prices from the Gateway's market hub."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from routing.brokers.budget import Priority
from routing.brokers.projectx.adapter import ProjectXAdapter
from routing.tests.brokers.projectx.conftest import ENQ, MNQ, Setup, eventually, login
from routing.tests.brokers.projectx.fake_server import FakeGateway

T = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
pytestmark = pytest.mark.asyncio


async def test_watched_symbol_when_trade_printed_then_last_price(px: Setup) -> None:
    # Arrange
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    assert px.adapter.last_price("MNQH6") is None  # no trade yet: unknown
    # Act
    await px.fake.market.publish_trade(MNQ, Decimal("21545.25"), at=T)
    # Assert: points as Decimal, the print's aware UTC time.
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    assert px.adapter.last_price("MNQH6") == (Decimal("21545.25"), T)
    await px.fake.market.publish_trade(MNQ, Decimal("21544.75"), at=T + timedelta(seconds=1))
    await eventually(
        lambda: px.adapter.last_price("MNQH6") == (Decimal("21544.75"), T + timedelta(seconds=1))
    )


async def test_two_symbols_when_printed_then_each_keeps_its_own_price(px: Setup) -> None:
    await px.adapter.watch_prices(["MNQH6", "NQH6"])
    await eventually(
        lambda: px.fake.market.subscribers(MNQ) == px.fake.market.subscribers(ENQ) == 1
    )
    await px.fake.market.publish_trade(ENQ, Decimal("21600.00"), at=T)
    await px.fake.market.publish_trade(MNQ, Decimal("21500.50"), at=T)
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    await eventually(lambda: px.adapter.last_price("NQH6") is not None)
    assert px.adapter.last_price("NQH6") == (Decimal("21600.00"), T)
    assert px.adapter.last_price("MNQH6") == (Decimal("21500.50"), T)
    # One market hub for both, whatever the number of logins; one subscription each.
    assert len(px.fake.market.connections) == 1
    assert px.fake.market.calls == [
        ("SubscribeContractTrades", ENQ),
        ("SubscribeContractTrades", MNQ),
    ]


async def test_batch_when_printed_out_of_order_then_latest_time_wins(px: Setup) -> None:
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    later, earlier = T + timedelta(seconds=2), T
    await px.fake.market.push(
        MNQ,
        [
            {"symbolId": "F.US.MNQ", "price": 21510.0, "timestamp": later.isoformat(), "volume": 1},
            {
                "symbolId": "F.US.MNQ",
                "price": 21490.0,
                "timestamp": earlier.isoformat(),
                "volume": 1,
            },
            {"symbolId": "F.US.MNQ", "price": None, "timestamp": later.isoformat(), "volume": 1},
        ],
    )
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    assert px.adapter.last_price("MNQH6") == (Decimal("21510.0"), later)


async def test_symbol_no_longer_given_when_watching_then_unsubscribed_and_forgotten(
    px: Setup,
) -> None:
    # Arrange: both watched, both priced.
    await px.adapter.watch_prices(["MNQH6", "NQH6"])
    await eventually(lambda: px.fake.market.subscribers(ENQ) == 1)
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    await px.fake.market.publish_trade(ENQ, Decimal("21600"), at=T)
    await px.fake.market.publish_trade(MNQ, Decimal("21500"), at=T)
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    await eventually(lambda: px.adapter.last_price("NQH6") is not None)
    # Act: NQ no longer held.
    await px.adapter.watch_prices(["MNQH6"])
    # Assert: unsubscribed at the Gateway, its price unknown, MNQ untouched.
    await eventually(lambda: px.fake.market.subscribers(ENQ) == 0)
    assert px.fake.market.calls[-1] == ("UnsubscribeContractTrades", ENQ)
    assert px.adapter.last_price("NQH6") is None
    assert px.adapter.last_price("MNQH6") == (Decimal("21500"), T)
    # Watching the same set again sends nothing.
    sent = len(px.fake.market.calls)
    await px.adapter.watch_prices(["MNQH6"])
    await px.fake.market.publish_trade(MNQ, Decimal("21501"), at=T)  # a marker behind it
    await eventually(lambda: px.adapter.last_price("MNQH6") == (Decimal("21501"), T))
    assert len(px.fake.market.calls) == sent


async def test_hub_dropped_when_reconnected_then_resubscribed(px: Setup) -> None:
    # Arrange
    await px.adapter.watch_prices(["MNQH6", "NQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    await eventually(lambda: px.fake.market.subscribers(ENQ) == 1)
    await px.fake.market.publish_trade(MNQ, Decimal("21500"), at=T)
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    # Act: the network drops every hub.
    await px.fake.drop()
    # Assert: prices unknown while down, then both contracts subscribed again
    # on the new connection without another watch_prices call.
    await eventually(lambda: px.fake.market.opened == 2)
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    await eventually(lambda: px.fake.market.subscribers(ENQ) == 1)
    assert px.adapter.last_price("MNQH6") is None
    await px.fake.market.publish_trade(MNQ, Decimal("21480.25"), at=T + timedelta(minutes=1))
    await eventually(lambda: px.adapter.last_price("MNQH6") is not None)
    assert px.adapter.last_price("MNQH6") == (Decimal("21480.25"), T + timedelta(minutes=1))


async def test_carrying_login_closed_when_watching_then_hub_moves_to_another_login(
    px: Setup,
) -> None:
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    carrier = px.adapter._market._session
    assert carrier is not None
    remaining = [s.config for s in px.adapter._sessions.values() if s is not carrier]
    # Act: the login carrying the market hub is removed.
    await px.adapter.set_logins(remaining)
    await px.adapter.watch_prices(["MNQH6"])
    # Assert: a new hub on the other login, subscribed, pricing.
    await eventually(lambda: px.fake.market.opened == 2)
    await eventually(lambda: px.adapter._market.subscribed == {MNQ})
    assert px.adapter._market._session is px.adapter._sessions[remaining[0].login_id]
    await px.fake.market.publish_trade(MNQ, Decimal("21501"), at=T)
    await eventually(lambda: px.adapter.last_price("MNQH6") == (Decimal("21501"), T))


async def test_unknown_symbol_when_watched_then_logged_once_and_unknown(
    px: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="routing.brokers.projectx.market")
    # Act: ZB has no ProjectX contract root; "garbage" is no contract code.
    await px.adapter.watch_prices(["ZBH6", "garbage", "MNQH6"])
    await px.adapter.watch_prices(["ZBH6", "garbage", "MNQH6"])
    # Assert: never raised, each logged once, the known one still watched.
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("'ZBH6'" in w for w in warnings) == 1
    assert sum("'garbage'" in w for w in warnings) == 1
    assert px.adapter.last_price("ZBH6") is None
    assert [c for _, c in px.fake.market.calls] == [MNQ]


async def test_subscriptions_when_sent_then_spend_query_budget(fake: FakeGateway) -> None:
    spent: list[tuple[int, Priority]] = []

    class Recording:
        def __init__(self, login_id: int) -> None:
            self.login_id = login_id

        async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
            spent.append((self.login_id, priority))
            return True

        def used(self) -> tuple[int, int | None]:
            return len(spent), None

    adapter = ProjectXAdapter(
        [login(fake.url, 7, "copy-trader", "key-copy", [201])], budgets=Recording
    )
    await adapter.connect()
    try:
        before = len(spent)
        await adapter.watch_prices(["MNQH6", "NQH6"])
        await eventually(lambda: adapter._market.subscribed == {MNQ, ENQ})
        await adapter.watch_prices(["NQH6"])
        assert spent[before:] == [(7, Priority.QUERY)] * 3  # two subscribes, one unsubscribe
    finally:
        await adapter.disconnect()
    assert adapter.last_price("NQH6") is None  # disconnected: unknown


async def test_no_login_connected_when_watching_then_prices_unknown_without_error(
    fake: FakeGateway,
) -> None:
    fake.refuse_hub = True
    adapter = ProjectXAdapter([login(fake.url, 1, "copy-trader", "key-copy", [201])])
    await adapter.connect()
    try:
        await adapter.watch_prices(["MNQH6"])
        assert adapter.last_price("MNQH6") is None
        assert fake.market.opened == 0
    finally:
        await adapter.disconnect()


async def test_market_hub_refused_when_watching_then_retried_after_backoff(
    px: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="routing.brokers.projectx.market")
    # Arrange: the Gateway refuses the market hub (the user hubs stay up).
    px.fake.market.refuse = True
    # Act: the risk loop watches on every pass.
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: any("market hub stopped" in r.getMessage() for r in caplog.records))
    await px.adapter.watch_prices(["MNQH6"])  # within the backoff: no new attempt
    # Assert: one attempt, never raised, price unknown, logins unaffected.
    assert px.fake.market.negotiations == 1
    assert px.adapter.last_price("MNQH6") is None
    assert all(s.connected for s in px.adapter._sessions.values())
    assert "access_token=eyJ" not in caplog.text  # the session token stays out of logs
    # The Gateway accepts again: the next watch after the backoff opens and subscribes.
    px.fake.market.refuse = False
    await asyncio.sleep(0.6)
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    await px.fake.market.publish_trade(MNQ, Decimal("21502.5"), at=T)
    await eventually(lambda: px.adapter.last_price("MNQH6") == (Decimal("21502.5"), T))


async def test_unreadable_trades_when_pushed_then_logged_once_and_price_kept(
    px: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="routing.brokers.projectx.market")
    await px.adapter.watch_prices(["MNQH6"])
    await eventually(lambda: px.fake.market.subscribers(MNQ) == 1)
    await px.fake.market.publish_trade(MNQ, Decimal("21500"), at=T)
    # Act: prints with no timestamp, a negative price, a text price.
    for bad in ({"price": 21400.0}, {"price": -1, "timestamp": T.isoformat()}, {"price": "x"}):
        await px.fake.market.push(MNQ, [bad])
    await px.fake.market.push(MNQ, {"price": 21499.75, "timestamp": T.isoformat()})  # a bare object
    # Assert: the good prints count, the bad ones logged once.
    await eventually(lambda: px.adapter.last_price("MNQH6") == (Decimal("21499.75"), T))
    assert len([r for r in caplog.records if "not understood" in r.getMessage()]) == 1
