"""The copy path end to end through the real engine worker and the fake Gateway.

A paper leader's fill copied to ProjectX followers, and a ProjectX leader's
fills (through the user hub) copied to paper followers; a ProjectX follower's
position marked at the market hub's last trade and halted with no leader fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.models import Position
from routing.brokers.logins import ConnectionState
from routing.brokers.paper import PaperBroker
from routing.brokers.projectx.adapter import ProjectXAdapter
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession, CopyOrder, RiskLimit
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.tests.brokers.projectx.conftest import (
    FOLLOWER_A,
    FOLLOWER_B,
    LEADER,
    MNQ,
    eventually,
    login,
)
from routing.tests.brokers.projectx.fake_server import FakeGateway

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


@dataclass
class Copying:
    fake: FakeGateway
    adapter: ProjectXAdapter
    registry: AdapterRegistry
    worker: EngineWorker


@pytest_asyncio.fixture
async def copying(fake: FakeGateway) -> AsyncIterator[Copying]:
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    adapter = ProjectXAdapter(
        [
            login(fake.url, 1, "lead-trader", "key-lead", [LEADER]),
            login(fake.url, 2, "copy-trader", "key-copy", [FOLLOWER_A, FOLLOWER_B]),
        ]
    )
    registry = AdapterRegistry({"paper": paper, "projectx": adapter})
    await registry.connect_all()
    yield Copying(fake, adapter, registry, EngineWorker(registry))
    await registry.disconnect_all()


def _route(leader_platform: str, leader_id: str, followers: list[tuple[str, str, int]]) -> int:
    """A copy group: the leader, then followers ``(platform, external id, ratio)``;
    returns the leader's pk."""
    contract_specs_sync()
    alice = User.objects.create_user("alice", password="alice-password-1")
    leader = broker_account_create(
        owner=alice,
        name="Lead",
        balance=Decimal(150_000),
        platform=leader_platform,
        external_id=leader_id,
    )
    group = copy_group_create(owner=alice, name="Evals", leader=leader)
    for n, (platform, external_id, ratio) in enumerate(followers):
        account = broker_account_create(
            owner=alice,
            name=f"Follower {n}",
            balance=Decimal(50_000),
            kind="evaluation",
            platform=platform,
            external_id=external_id,
        )
        follower_add(group=group, account=account, ratio=Decimal(ratio))
    return leader.pk


async def _filled(count: int) -> None:
    """Wait until ``count`` copy orders are filled."""
    filled = CopyOrder.objects.filter(status="filled").count
    for _ in range(500):
        if await sync_to_async(filled)() >= count:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"{count} copy orders never filled")


def _orders() -> list[tuple[str, str, str, int]]:
    rows = CopyOrder.objects.select_related("account").order_by("account__external_id")
    return [(o.account.external_id, o.client_order_id, o.status, o.qty) for o in rows]


async def test_paper_leader_when_filled_then_projectx_followers_get_one_order_each(
    copying: Copying,
) -> None:
    # Arrange: a paper leader with two ProjectX followers (ratios 1 and 2).
    leader = await sync_to_async(_route)(
        "paper", "paper-lead", [("projectx", str(FOLLOWER_A), 1), ("projectx", str(FOLLOWER_B), 2)]
    )
    fill = LeaderFill("f1", "paper-lead", "MNQH6", Side.BUY, 2, Decimal("21539.50"), T0)
    # Act
    await copying.worker.handle_leader_fill(leader, fill, source="test")
    # Assert: one order per follower at ProjectX, tagged with the copy order's id.
    orders = await sync_to_async(_orders)()
    assert [(a, s, q) for a, _, s, q in orders] == [
        (str(FOLLOWER_A), "filled", 2),
        (str(FOLLOWER_B), "filled", 4),
    ]
    assert copying.fake.tags(FOLLOWER_A) == [orders[0][1]]
    assert copying.fake.tags(FOLLOWER_B) == [orders[1][1]]
    at_fake = [copying.fake.orders_of(a)[0] for a in (FOLLOWER_A, FOLLOWER_B)]
    assert [(o["contractId"], o["side"], o["size"]) for o in at_fake] == [
        (MNQ, 0, 2),
        (MNQ, 0, 4),
    ]
    assert copying.fake.position(FOLLOWER_B, MNQ) == 4
    # The same fill again sends nothing more.
    await copying.worker.handle_leader_fill(leader, fill, source="test")
    assert len(copying.fake.orders) == 2


async def test_projectx_leader_when_trading_then_paper_followers_copied(
    copying: Copying,
) -> None:
    # Arrange: a ProjectX leader with two paper followers (ratios 1 and 3).
    leader = await sync_to_async(_route)(
        "projectx", str(LEADER), [("paper", "paper-a", 1), ("paper", "paper-b", 3)]
    )

    async def consume() -> None:
        # What the worker does for a leader's stream (routing.runtime.leader_streams).
        async for event in copying.adapter.leader_events(str(LEADER)):
            await copying.worker.handle_leader_event(leader, event, source="projectx")

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    # Act: the leader buys 2 then sells 2 on the platform itself.
    await copying.fake.trade_on(LEADER, MNQ, side=0, size=2)
    await _filled(2)
    copying.fake.prices[MNQ] = Decimal("21549.50")
    await copying.fake.trade_on(LEADER, MNQ, side=1, size=2)
    await _filled(4)
    # Assert
    orders = await sync_to_async(_orders)()
    assert [(a, s, q) for a, _, s, q in orders] == [
        ("paper-a", "filled", 2),
        ("paper-a", "filled", 2),
        ("paper-b", "filled", 6),
        ("paper-b", "filled", 6),
    ]
    assert copying.registry.paper.position("paper-b", "MNQH6").qty == 0
    await copying.adapter.disconnect()
    await asyncio.wait_for(task, 5)


async def test_drop_during_fan_out_when_copied_then_one_order_per_follower(
    copying: Copying,
) -> None:
    # Arrange: three ProjectX followers; the hub drops at the first order
    # placed and its answer (and the next one's) are lost.
    followers = [("projectx", str(a), 1) for a in (FOLLOWER_A, FOLLOWER_B, 203)]
    leader = await sync_to_async(_route)("paper", "paper-lead", followers)
    copying.fake.drop_after, copying.fake.lose_on_drop = 1, 1
    fill = LeaderFill("f1", "paper-lead", "MNQH6", Side.SELL, 1, Decimal("21539.50"), T0)
    # Act: the worker retries the orders whose outcome was unknown.
    await copying.worker.handle_leader_fill(leader, fill, source="test")
    # Assert: every follower holds one order with its copy order's id, all filled.
    orders = await sync_to_async(_orders)()
    assert [(a, s, q) for a, _, s, q in orders[:2]] == [
        (str(FOLLOWER_A), "filled", 1),
        (str(FOLLOWER_B), "filled", 1),
    ]
    # Account 203 is not in this worker's logins: blocked when decided
    # (no connected login holds it), never sent.
    assert orders[2][0] == "203" and orders[2][2] == "blocked"
    assert copying.fake.tags(FOLLOWER_A) == [orders[0][1]]
    assert copying.fake.tags(FOLLOWER_B) == [orders[1][1]]
    assert copying.fake.tags(203) == []
    assert copying.fake.requests.count("/Order/place") == 2
    assert copying.fake.lose_answers == 0  # the first answer was lost
    assert ConnectionState.DOWN in copying.adapter._sessions[2].history


async def test_order_left_sent_by_crash_when_recovering_then_queried_not_resent(
    copying: Copying,
) -> None:
    # Arrange: a copy order claimed (SENT) and placed by a worker that died
    # before recording the answer.
    from routing.services.leader_events import leader_event_ingest
    from routing.services.orders import copy_order_claim

    leader = await sync_to_async(_route)("paper", "paper-lead", [("projectx", str(FOLLOWER_A), 2)])
    fill = LeaderFill("f1", "paper-lead", "MNQH6", Side.BUY, 1, Decimal("21539.50"), T0)
    ingested = await sync_to_async(leader_event_ingest)(account=leader, fill=fill, source="test")
    order_id = ingested.pending_order_ids[0]
    claimed = await sync_to_async(copy_order_claim)(order_id=order_id)
    assert claimed is not None
    await copying.adapter.place_order(claimed.request)
    copying.adapter._book.known.clear()  # a new process knows nothing
    # Act
    await EngineWorker(copying.registry).recover()
    # Assert: recorded from ProjectX's answer; ProjectX holds one order.
    order = await sync_to_async(CopyOrder.objects.get)(pk=order_id)
    assert (order.status, order.client_order_id) == ("filled", claimed.request.client_order_id)
    assert copying.fake.requests.count("/Order/place") == 1
    assert copying.fake.position(FOLLOWER_A, MNQ) == 2


def _limit(external_id: str) -> BrokerAccount:
    account = BrokerAccount.objects.get(platform="projectx", external_id=external_id)
    risk_limit_set(account=account, daily_loss=Decimal(1000), max_contracts=None, actor_label="t")
    RiskLimit.objects.filter(account=account).update(flatten_on_breach=True)
    return account


async def test_projectx_follower_when_market_prints_past_its_limit_then_halted_and_flattened(
    copying: Copying,
) -> None:
    # Arrange: a paper leader; ProjectX follower A copies at ratio 3 with a
    # $1,000 daily loss limit (flatten on breach) and holds 12 MNQ @ 21539.50.
    leader = await sync_to_async(_route)("paper", "paper-lead", [("projectx", str(FOLLOWER_A), 3)])
    account = await sync_to_async(_limit)(str(FOLLOWER_A))
    buy = LeaderFill("f1", "paper-lead", "MNQH6", Side.BUY, 4, Decimal("21539.50"), T0)
    await copying.worker.handle_leader_fill(leader, buy, source="test")
    await _filled(1)
    assert copying.fake.position(FOLLOWER_A, MNQ) == 12
    at = T0 + timedelta(minutes=5)
    # A first pass watches MNQ at ProjectX; no trade printed yet: nothing marked.
    await copying.worker.watch_risk(at=at)
    await eventually(lambda: copying.fake.market.subscribers(MNQ) == 1)
    assert await sync_to_async(_halt_reason)(account) == ""
    # Act: the Gateway prints 21490 (no leader fill): 49.5 x 12 x $2 = $1,188 lost.
    copying.fake.prices[MNQ] = Decimal("21490")  # where its market orders now fill
    await copying.fake.market.publish_trade(MNQ, Decimal("21490"), at=at)
    await eventually(lambda: copying.adapter.last_price("MNQH6") is not None)
    await copying.worker.watch_risk(at=at)
    # Assert: marked at the market's price, halted for the daily loss, flattened at ProjectX.
    position = await sync_to_async(lambda: Position.objects.get(account=account, symbol="MNQH6"))()
    assert "daily loss" in await sync_to_async(_halt_reason)(account)
    assert position.mark_price == Decimal("21490")
    assert copying.fake.position(FOLLOWER_A, MNQ) == 0
    sells = [o for o in copying.fake.orders_of(FOLLOWER_A) if o["side"] == 1]
    assert [(o["size"], o["status"]) for o in sells] == [(12, 2)]


def _halt_reason(account: BrokerAccount) -> str:
    session = AccountSession.objects.filter(account=account).first()
    return "" if session is None else session.halt_reason
