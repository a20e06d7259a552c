"""Fixtures: a fake ProjectX Gateway on 127.0.0.1 and an adapter logged in to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest_asyncio

from routing.brokers.logins import ConnectionState, Environment, LoginConfig
from routing.brokers.projectx.adapter import ProjectXAdapter
from routing.tests.brokers.projectx.fake_server import FakeGateway

MNQ = "CON.F.US.MNQ.H26"
ENQ = "CON.F.US.ENQ.H26"
PRICES = {MNQ: Decimal("21539.50"), ENQ: Decimal("21540.25")}
LEADER, FOLLOWER_A, FOLLOWER_B = 101, 201, 202
USERS = {
    "lead-trader": ("key-lead", [LEADER]),
    "copy-trader": ("key-copy", [FOLLOWER_A, FOLLOWER_B, 203]),
}


def login(url: str, login_id: int, user: str, key: str, accounts: list[int]) -> LoginConfig:
    """A LoginConfig for the fake at ``url``."""
    return LoginConfig(
        login_id=login_id,
        platform="projectx",
        environment=Environment.DEMO,
        credentials={"username": user, "api_key": key},
        accounts=tuple(str(a) for a in accounts),
        endpoint=url,
    )


@dataclass
class Setup:
    fake: FakeGateway
    adapter: ProjectXAdapter


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway(USERS, prices=dict(PRICES))
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest_asyncio.fixture
async def px(fake: FakeGateway) -> AsyncIterator[Setup]:
    adapter = ProjectXAdapter(
        [
            login(fake.url, 1, "lead-trader", "key-lead", [LEADER]),
            login(fake.url, 2, "copy-trader", "key-copy", [FOLLOWER_A, FOLLOWER_B]),
        ]
    )
    await adapter.connect()
    yield Setup(fake, adapter)
    await adapter.disconnect()


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``check()`` is true; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


def states(adapter: ProjectXAdapter) -> dict[int, ConnectionState]:
    return {s.login_id: s.state for s in adapter.login_states()}
