"""The copy path end to end: a paper leader's fill copied to IB followers
through the real engine worker, over the fake gateway's socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from routing.brokers.ib import IBAdapter
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from routing.tests.brokers.ib.conftest import login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway

T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)


@dataclass
class IBRoute:
    leader: BrokerAccount
    small: BrokerAccount  # IB DU1234567, ratio 0.5
    large: BrokerAccount  # IB DU7654321, ratio 3


@pytest.fixture
def ib_route(alice: User) -> IBRoute:
    contract_specs_sync()
    leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000))
    small = broker_account_create(
        owner=alice,
        name="IB small",
        balance=Decimal(25_000),
        platform=BrokerAccount.Platform.IB,
        external_id="DU1234567",
    )
    large = broker_account_create(
        owner=alice,
        name="IB large",
        balance=Decimal(150_000),
        platform=BrokerAccount.Platform.IB,
        external_id="DU7654321",
    )
    group = copy_group_create(owner=alice, name="To IB", leader=leader)
    follower_add(group=group, account=small, ratio=Decimal("0.5"))
    follower_add(group=group, account=large, ratio=Decimal(3))
    return IBRoute(leader, small, large)


@pytest_asyncio.fixture
async def registry(gateway: FakeGateway) -> AsyncIterator[AdapterRegistry]:
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    ib = IBAdapter([login_config(gateway.port)], reconnect_delays=(0.05,), timeout=2.0)
    registry = AdapterRegistry({"paper": paper, "ib": ib})
    await registry.connect_all()
    yield registry
    await registry.disconnect_all()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_paper_leader_fill_when_copied_then_one_ib_order_per_follower_filled(
    ib_route: IBRoute, registry: AdapterRegistry, gateway: FakeGateway
) -> None:
    # Arrange
    worker = EngineWorker(registry)
    buy = LeaderFill("lead-f1", ib_route.leader.external_id, "MNQH5", Side.BUY, 4,
                     Decimal("21539.50"), T0)  # fmt: skip
    # Act
    await worker.handle_leader_fill(ib_route.leader.pk, buy, source="test")
    # Assert: one order per follower at the gateway, orderRef = the copy order's id.
    copies = await sync_to_async(
        lambda: list(CopyOrder.objects.select_related("account").order_by("account__name"))
    )()
    assert [(c.account.external_id, c.qty, c.status) for c in copies] == [
        ("DU7654321", 12, "filled"),
        ("DU1234567", 2, "filled"),
    ]
    assert len(gateway.orders) == 2
    for copy in copies:
        (sent,) = gateway.orders_by_ref(copy.client_order_id)
        assert (sent.account, sent.qty, sent.action) == (copy.account.external_id, copy.qty, "BUY")
        assert (sent.contract.local_symbol, sent.contract.month) == ("MNQH5", "202503")
    # Act again: the same leader fill re-delivered sends nothing more.
    await worker.handle_leader_fill(ib_route.leader.pk, buy, source="test")
    assert len(gateway.orders) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_fan_out_to_20_ib_followers_when_gateway_drops_midway_then_each_order_once(
    alice: User,
) -> None:
    # Arrange: 20 IB followers on one login; the gateway drops the connection
    # right after booking the 10th order, before answering it.
    codes = [f"DU{n:07d}" for n in range(1, 21)]

    def arrange() -> BrokerAccount:
        contract_specs_sync()
        leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000))
        group = copy_group_create(owner=alice, name="Twenty", leader=leader)
        for code in codes:
            account = broker_account_create(
                owner=alice,
                name=code,
                balance=Decimal(50_000),
                platform=BrokerAccount.Platform.IB,
                external_id=code,
            )
            follower_add(group=group, account=account, ratio=Decimal(1))
        return leader

    leader = await sync_to_async(arrange)()
    gateway = FakeGateway(codes, {"MNQ": Decimal("21539.25")})
    await gateway.start()
    config = login_config(gateway.port)
    ib = IBAdapter(
        [type(config)(**{**config.__dict__, "accounts": tuple(codes)})],
        reconnect_delays=(0.05,),
        timeout=2.0,
    )
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "ib": ib})
    await registry.connect_all()
    gateway.drop_after = 10
    try:
        buy = LeaderFill("lead-f20", leader.external_id, "MNQH5", Side.BUY, 1,
                         Decimal("21539.50"), T0)  # fmt: skip
        # Act
        await EngineWorker(registry).handle_leader_fill(leader.pk, buy, source="test")
        # Assert: the drop happened, yet one order per follower, each once.
        assert gateway.connects == 2
        copies = await sync_to_async(
            lambda: list(CopyOrder.objects.select_related("account").order_by("account__name"))
        )()
        assert [(c.account.external_id, c.status) for c in copies] == [
            (code, "filled") for code in codes
        ]
        refs = sorted(o.order_ref for o in gateway.orders)
        assert refs == sorted(c.client_order_id for c in copies)
        by_ref = {o.order_ref: o.account for o in gateway.orders}
        assert all(by_ref[c.client_order_id] == c.account.external_id for c in copies)
    finally:
        await registry.disconnect_all()
        await gateway.stop()
