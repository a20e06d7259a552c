"""Fixtures: a fake IB Gateway on a free local port and an adapter on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest_asyncio

from routing.brokers.ib import IBAdapter
from routing.brokers.logins import Environment, LoginConfig
from routing.tests.brokers.ib.fake_gateway import FakeGateway

ACCOUNTS = ("DU1234567", "DU7654321")
PRICES = {"MNQ": Decimal("21539.25"), "ES": Decimal("6012.50"), "CL": Decimal("71.42")}


def login_config(port: int, *, login_id: int = 1, client_id: int = 7) -> LoginConfig:
    """An IB login on the fake gateway serving both fake accounts."""
    return LoginConfig(
        login_id=login_id,
        platform="ib",
        environment=Environment.DEMO,
        credentials={"host": "127.0.0.1", "port": str(port), "client_id": str(client_id)},
        accounts=ACCOUNTS,
    )


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    gw = FakeGateway(ACCOUNTS, PRICES)
    await gw.start()
    yield gw
    await gw.stop()


@pytest_asyncio.fixture
async def adapter(gateway: FakeGateway) -> AsyncIterator[IBAdapter]:
    ib = IBAdapter(
        [login_config(gateway.port)], reconnect_delays=(0.05,), timeout=2.0, fill_wait=1.0
    )
    await ib.connect()
    yield ib
    await ib.disconnect()
