"""Layer-2 risk on IB end to end: the engine worker marks an IB follower's
position at the fake gateway's last trade and halts it, with no leader fill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.models import Position
from routing.brokers.ib import IBAdapter
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.tests.brokers.ib.conftest import login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway
from routing.tests.brokers.ib.test_connection import _until

T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)
SYMBOL = "MNQH5"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_an_ib_position_when_its_market_trades_lower_then_marked_and_halted(
    alice: User, gateway: FakeGateway
) -> None:
    # Arrange: "IB large" (DU7654321) follows at ratio 3 with a $1,000 daily
    # loss limit; the leader buys 4 MNQ, so it holds 12, filled at 21539.25.
    def arrange() -> tuple[BrokerAccount, BrokerAccount]:
        contract_specs_sync()
        leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000))
        large = broker_account_create(
            owner=alice,
            name="IB large",
            balance=Decimal(150_000),
            platform=BrokerAccount.Platform.IB,
            external_id="DU7654321",
        )
        group = copy_group_create(owner=alice, name="To IB", leader=leader)
        follower_add(group=group, account=large, ratio=Decimal(3))
        risk_limit_set(account=large, daily_loss=Decimal(1000), max_contracts=None,
                       actor_label="test")  # fmt: skip
        return leader, large

    leader, large = await sync_to_async(arrange)()
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    ib = IBAdapter([login_config(gateway.port)], reconnect_delays=(0.05,), timeout=2.0)
    registry = AdapterRegistry({"paper": paper, "ib": ib})
    await registry.connect_all()
    try:
        worker = EngineWorker(registry)
        buy = LeaderFill("lead-f1", leader.external_id, SYMBOL, Side.BUY, 4,
                         Decimal("21539.50"), T0)  # fmt: skip
        await worker.handle_leader_fill(leader.pk, buy, source="test")
        await worker.watch_risk(at=T0 + timedelta(minutes=1))  # subscribes MNQ
        # Act: IB prints 21489.25, 50 points lower: 12 x 50 x $2 = $1,200 lost.
        await _until(lambda: [c.trading_class for c in gateway.live_subscriptions()] == ["MNQ"])
        gateway.publish("MNQ", "202503", Decimal("21489.25"))
        await _until(lambda: ib.last_price(SYMBOL) is not None)
        await worker.watch_risk(at=T0 + timedelta(minutes=2))
        # Assert: marked at IB's last trade and halted, with no leader fill since.
        position = await sync_to_async(lambda: Position.objects.get(account=large, symbol=SYMBOL))()
        assert (position.qty, position.mark_price, position.unrealized_pnl) == (
            12,
            Decimal("21489.25"),
            Decimal(-1200),
        )
        halted = await sync_to_async(
            lambda: AccountSession.objects.get(account=large).halt_reason
        )()
        assert "daily loss" in halted
    finally:
        await registry.disconnect_all()
