"""End to end: a Rithmic follower's position marked at Rithmic's last trade
by the engine worker's layer-2 pass, and halted, with no leader fill."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.models import Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.tests.brokers.rithmic.conftest import adapter_for, login
from routing.tests.brokers.rithmic.fake_server import FakeRithmic

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
SYMBOL = "MNQH6"


def _route(owner: User) -> tuple[BrokerAccount, BrokerAccount]:
    """A paper leader followed by ACC-1 on Rithmic (ratio 1, daily loss $1,000)."""
    contract_specs_sync()
    leader = broker_account_create(owner=owner, name="Lead", balance=Decimal(150_000))
    group = copy_group_create(owner=owner, name="Rithmic eval", leader=leader)
    follower = broker_account_create(
        owner=owner,
        name="Eval A",
        balance=Decimal(50_000),
        kind="evaluation",
        platform=BrokerAccount.Platform.RITHMIC,
        external_id="ACC-1",
    )
    follower_add(group=group, account=follower, ratio=Decimal(1))
    risk_limit_set(account=follower, daily_loss=Decimal(1000), max_contracts=None, actor_label="t")
    return leader, follower


async def _until(check: Callable[[], object], seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_a_rithmic_position_is_marked_at_rithmic_last_trade_and_halted(
    alice: User, fake: FakeRithmic
) -> None:
    # Arrange: the leader buys 4 MNQ; Eval A holds 4 @ 21000 at Rithmic.
    leader, follower = await sync_to_async(_route)(alice)
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    rithmic = adapter_for(fake, login(fake))
    registry = AdapterRegistry({"paper": paper, "rithmic": rithmic})
    await registry.connect_all()
    worker = EngineWorker(registry)
    fake.prices[SYMBOL] = 21000.0
    try:
        buy = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal("21000"), T0)
        await worker.handle_leader_fill(leader.pk, buy, source="test")
        # The first pass asks Rithmic for the contract held there.
        await worker.watch_risk(at=T0 + timedelta(minutes=1))
        await _until(lambda: fake.subscribers(SYMBOL) == ["trader"])
        # Act: Rithmic prints 20850 (no leader fill): 4 x 150 x $2 = $1,200
        # lost, past the limit; the next pass marks and halts.
        await fake.trade(SYMBOL, 20850.0)
        await _until(lambda: rithmic.last_price(SYMBOL) is not None)
        await _until(lambda: rithmic.last_price(SYMBOL)[0] == Decimal("20850"))  # type: ignore[index]
        await worker.watch_risk(at=T0 + timedelta(minutes=5))
    finally:
        await registry.disconnect_all()
    # Assert
    position = await sync_to_async(lambda: Position.objects.get(account=follower, symbol=SYMBOL))()
    assert (position.qty, position.avg_price) == (4, Decimal("21000"))
    assert (position.mark_price, position.unrealized_pnl) == (Decimal("20850"), Decimal(-1200))
    halted = await sync_to_async(lambda: AccountSession.objects.get(account=follower).halt_reason)()
    assert "daily loss" in halted
