"""Fixtures: a fake Rithmic server on 127.0.0.1 and adapters logged in to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from routing.brokers.logins import Environment, LoginConfig
from routing.brokers.rithmic import RithmicAdapter
from routing.tests.brokers.rithmic.fake_server import FakeRithmic

PASSWORD = "s3cret-Pa55"  # the fake server's test password


@pytest_asyncio.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeRithmic]:
    server = FakeRithmic(
        {"trader": (PASSWORD, ["ACC-1", "ACC-2", "ACC-3"]), "lead": (PASSWORD, ["LEAD-1"])}
    )
    server.prices["MNQH6"] = 21500.25
    await server.start(tmp_path)
    yield server
    await server.stop()


def login(
    fake: FakeRithmic,
    *,
    login_id: int = 1,
    user: str = "trader",
    password: str = PASSWORD,
    accounts: tuple[str, ...] = ("ACC-1", "ACC-2", "ACC-3"),
) -> LoginConfig:
    return LoginConfig(
        login_id=login_id,
        platform="rithmic",
        environment=Environment.DEMO,
        credentials={
            "username": user,
            "password": password,
            "system": fake.system,
            "gateway": "rituz00100.rithmic.com:443",
        },
        accounts=accounts,
        endpoint=fake.url,
    )


def adapter_for(fake: FakeRithmic, *logins: LoginConfig) -> RithmicAdapter:
    return RithmicAdapter(
        logins,
        ca_file=str(fake.cert_path),
        request_timeout=1.0,
        fill_wait=1.0,
        reconnect_delays=(0.05, 0.1),
    )


@pytest_asyncio.fixture
async def adapter(fake: FakeRithmic) -> AsyncIterator[RithmicAdapter]:
    broker = adapter_for(fake, login(fake))
    await broker.connect()
    yield broker
    await broker.disconnect()
