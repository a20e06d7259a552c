"""Copying between two real platforms through the engine worker's own
leader stream: a leader trading at Tradovate (fake), followers at Rithmic
(fake). The worker starts the leader's stream itself (any platform with an
adapter), the fill arrives over Tradovate's websocket, and each follower's
order reaches Rithmic carrying its copy order's client order id."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from routing.brokers.paper import PaperBroker
from routing.models import CopyOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add

# The two platforms' fake-server fixtures, imported to be used together.
from routing.tests.brokers.rithmic.conftest import adapter_for, login
from routing.tests.brokers.rithmic.conftest import fake as fake
from routing.tests.brokers.rithmic.fake_server import FakeRithmic
from routing.tests.brokers.tradovate.conftest import PRICE, SYMBOL, AdapterFactory, Venue
from routing.tests.brokers.tradovate.conftest import make_adapter as make_adapter
from routing.tests.brokers.tradovate.conftest import venue as venue


def _route(owner: User) -> BrokerAccount:
    """Leader DEMO3 at Tradovate; ACC-1 (ratio 1) and ACC-2 (ratio 2) at Rithmic."""
    contract_specs_sync()
    leader = broker_account_create(
        owner=owner,
        name="Lead",
        balance=Decimal(150_000),
        platform=BrokerAccount.Platform.TRADOVATE,
        external_id="DEMO3",
    )
    group = copy_group_create(owner=owner, name="Tradovate to Rithmic", leader=leader)
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


def _orders() -> list[tuple[str, str, int, str]]:
    return list(
        CopyOrder.objects.order_by("account__external_id").values_list(
            "account__external_id", "status", "qty", "client_order_id"
        )
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_a_tradovate_leader_is_copied_to_rithmic_followers_by_the_worker_stream(
    alice: User, venue: Venue, make_adapter: AdapterFactory, fake: FakeRithmic
) -> None:
    await sync_to_async(_route)(alice)
    tradovate = make_adapter(venue.login(accounts=("DEMO3",)))
    rithmic = adapter_for(fake, login(fake))
    fake.prices[SYMBOL] = float(PRICE)
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "tradovate": tradovate, "rithmic": rithmic})
    await registry.connect_all()
    worker = EngineWorker(registry)
    try:
        # Act: the worker's pass starts the Tradovate leader's stream; the
        # trader then buys 3 on the Tradovate platform.
        await worker._start_leader_streams()
        await asyncio.sleep(0.3)  # the stream has synced
        user_id = venue.fake.exchange.users["trader"].user_id
        venue.fake.exchange.place(
            user_id,
            {"accountId": venue.accounts["DEMO3"], "accountSpec": "DEMO3", "action": "Buy",
             "symbol": SYMBOL, "orderQty": 3, "orderType": "Market"},
        )  # fmt: skip
        async with asyncio.timeout(10):
            while [o[1] for o in await sync_to_async(_orders)()] != ["filled", "filled"]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await registry.disconnect_all()
    # Assert: 3 and 6 bought at Rithmic, one order each with its copy order's id.
    orders = await sync_to_async(_orders)()
    assert [(a, s, q) for a, s, q, _ in orders] == [("ACC-1", "filled", 3), ("ACC-2", "filled", 6)]
    for account, _, _, coid in orders:
        [at_rithmic] = fake.orders_for(account)
        assert at_rithmic.user_tag == coid
    assert len(fake.orders) == 2
