"""End to end: a paper leader's fill copied to Rithmic followers by the engine worker."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from routing.tests.brokers.rithmic.conftest import adapter_for, login
from routing.tests.brokers.rithmic.fake_server import FakeRithmic

T0 = datetime(2026, 1, 28, 16, 59, 52, tzinfo=UTC)


def _route(owner: User) -> BrokerAccount:
    """A paper leader followed by ACC-1 (ratio 1) and ACC-2 (ratio 2) on Rithmic."""
    contract_specs_sync()
    leader = broker_account_create(owner=owner, name="Lead", balance=Decimal(150_000))
    group = copy_group_create(owner=owner, name="Rithmic evals", leader=leader)
    for name, external_id, ratio in (("Eval A", "ACC-1", 1), ("Eval B", "ACC-2", 2)):
        account = broker_account_create(
            owner=owner,
            name=name,
            balance=Decimal(50_000),
            kind="evaluation",
            platform=BrokerAccount.Platform.RITHMIC,
            external_id=external_id,
        )
        follower_add(group=group, account=account, ratio=Decimal(ratio))
    return leader


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_paper_leader_fill_when_copied_then_one_rithmic_order_per_follower_filled(
    alice: User, fake: FakeRithmic
) -> None:
    # Arrange
    leader = await sync_to_async(_route)(alice)
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    rithmic = adapter_for(fake, login(fake))
    registry = AdapterRegistry({"paper": paper, "rithmic": rithmic})
    await registry.connect_all()
    worker = EngineWorker(registry)
    fake.prices["MNQH6"] = 21539.5
    buy = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21539.50"), T0)
    try:
        # Act
        await worker.handle_leader_fill(leader.pk, buy, source="test")
    finally:
        await registry.disconnect_all()
    # Assert: one order per follower at Rithmic, carrying the copy order's id.
    orders = await sync_to_async(
        lambda: list(CopyOrder.objects.select_related("account").order_by("account__external_id"))
    )()
    assert [o.account.external_id for o in orders] == ["ACC-1", "ACC-2"]
    assert [o.status for o in orders] == ["filled", "filled"]
    for order, qty in zip(orders, (2, 4), strict=True):
        [at_rithmic] = fake.orders_for(order.account.external_id)
        assert at_rithmic.user_tag == order.client_order_id
        assert (at_rithmic.symbol, at_rithmic.exchange, at_rithmic.qty) == ("MNQH6", "CME", qty)
        assert at_rithmic.side == 1
    assert len(fake.orders) == 2
