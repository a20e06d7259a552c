"""Fixtures: a started fake Tradovate with one trader, and adapters on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest_asyncio

from routing.brokers.budget import Priority
from routing.brokers.logins import Environment, LoginConfig
from routing.brokers.tradovate import TradovateAdapter
from routing.contract_specs import SPECS_BY_ROOT
from routing.tests.brokers.tradovate.fake_server import FakeTradovate

PASSWORD = "correct-horse-battery"
PRICE = Decimal("21500.25")
SYMBOL = "MNQH7"  # the fake lists it; H6 has expired by the tests' clock (Dec 2026)


@dataclass
class Venue:
    """The started fake, its base URL and the trader's account ids by name."""

    fake: FakeTradovate
    url: str
    accounts: dict[str, int]

    def login(self, login_id: int = 1, password: str = PASSWORD, **extra: Any) -> LoginConfig:
        credentials = {
            "username": "trader",
            "password": password,
            "app_id": "Copytrade",
            "app_version": "1.0",
            "cid": "8",
            "secret": "s3cret",
        }
        return LoginConfig(
            login_id=login_id,
            platform="tradovate",
            environment=Environment.DEMO,
            credentials=credentials,
            accounts=extra.pop("accounts", tuple(self.accounts)),
            endpoint=self.url,
        )


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[Venue]:
    fake = FakeTradovate()
    ex = fake.exchange
    ex.add_user("trader", PASSWORD)
    accounts = {name: ex.add_account("trader", name) for name in ("DEMO1", "DEMO2", "DEMO3")}
    ex.add_contract(SYMBOL, PRICE)
    ex.add_contract("ESH7", Decimal("6100.50"))
    url = await fake.start()
    try:
        yield Venue(fake, url, accounts)
    finally:
        await fake.stop()


class RecordingBudget:
    """An unlimited budget that records what it spent and its penalties."""

    def __init__(self) -> None:
        self.spent: list[tuple[Priority, str | None]] = []
        self.penalties: list[float] = []

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        self.spent.append((priority, key))
        return True

    def used(self) -> tuple[int, int | None]:
        return len(self.spent), 100

    def penalise(self, seconds: float) -> None:
        self.penalties.append(seconds)


async def until(predicate: Callable[[], bool], seconds: float = 3.0) -> None:
    """Poll ``predicate`` (a state with no event to wait on) for up to ``seconds``."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


AdapterFactory = Callable[..., TradovateAdapter]


@pytest_asyncio.fixture
async def make_adapter(venue: Venue) -> AsyncIterator[AdapterFactory]:
    """Builds connected-later adapters with fast timings; all disconnected at the end."""
    made: list[TradovateAdapter] = []

    def build(*logins: LoginConfig, **options: Any) -> TradovateAdapter:
        settings: dict[str, Any] = {
            "ack_wait": 1.0,
            "connect_timeout": 3.0,
            "request_timeout": 0.5,
            "reconnect_delay": 0.05,
            "reconnect_max": 0.2,
        }
        settings.update(options)
        adapter = TradovateAdapter(SPECS_BY_ROOT, logins or (venue.login(),), **settings)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.disconnect()
