"""A stored broker login, end to end through the engine worker: the
trader's credentials are stored encrypted, the worker decrypts them, builds
the platform's adapter, connects to the (fake) platform, records the
login's state for the accounts page and copies a paper leader's fill to
the login's accounts; no log line holds the password."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.broker_accounts import broker_account_add
from accounts.logins import broker_login_create
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.services import broker_account_create
from routing.brokers.paper import PaperBroker
from routing.brokers.rithmic import RithmicAdapter
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.runtime import logins as worker_logins
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.logins import stored_logins
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from routing.tests.brokers.rithmic.conftest import PASSWORD
from routing.tests.brokers.rithmic.fake_server import FakeRithmic

T0 = datetime(2026, 1, 28, 16, 59, 52, tzinfo=UTC)
_CA: dict[str, str] = {}


class _TestRithmic(RithmicAdapter):
    """The real adapter trusting the fake server's certificate, quick timeouts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            ca_file=_CA["path"],
            request_timeout=1.0,
            fill_wait=1.0,
            reconnect_delays=(0.05, 0.1),
            **kwargs,
        )


@pytest.fixture
def rithmic_for_tests(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(
        worker_logins.PLATFORM_ADAPTERS,
        "rithmic",
        f"{__name__}._TestRithmic",
    )
    yield
    _CA.clear()


def _stored(owner: User, fake: FakeRithmic) -> BrokerAccount:
    """A paper leader; a Rithmic login (stored through the accounts page's
    service) holding ACC-1 and ACC-2, which follow at ratios 1 and 2."""
    contract_specs_sync()
    leader = broker_account_create(owner=owner, name="Lead", balance=Decimal(150_000))
    group = copy_group_create(owner=owner, name="Rithmic evals", leader=leader)
    login = broker_login_create(
        owner=owner,
        platform="rithmic",
        label="Apex Rithmic",
        environment="demo",
        credentials={
            "username": "trader",
            "password": PASSWORD,
            "system": fake.system,
            "gateway": fake.url,
        },
    )
    for name, external_id, ratio in (("Eval A", "ACC-1", 1), ("Eval B", "ACC-2", 2)):
        account = broker_account_add(
            owner=owner,
            name=name,
            kind="evaluation",
            firm="Apex",
            starting_balance=Decimal(50_000),
            login=login,
            external_id=external_id,
        )
        follower_add(group=group, account=account, ratio=Decimal(ratio))
    return leader


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("rithmic_for_tests")
async def test_a_stored_login_connects_through_the_worker_and_copies(
    alice: User, fake: FakeRithmic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _CA["path"] = str(fake.cert_path)
    leader = await sync_to_async(_stored)(alice, fake)
    stored = await sync_to_async(lambda: BrokerLogin.objects.get().secret)()
    assert PASSWORD not in stored
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry, **stored_logins())
    try:
        # Act: the worker's pass takes the stored login and connects it.
        await worker.refresh_logins()
        rithmic = registry.login_adapter("rithmic")
        assert rithmic is not None
        for _ in range(100):
            if rithmic.account_connected("ACC-1"):
                break
            await asyncio.sleep(0.05)
        await worker.watch_logins()
        fake.prices["MNQH6"] = 21539.5
        buy = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21539.50"), T0)
        await worker.handle_leader_fill(leader.pk, buy, source="test")
    finally:
        await registry.disconnect_all()
    # Assert: the state is on the login's row for the accounts page...
    row = await sync_to_async(BrokerLogin.objects.get)()
    assert row.connection_state == "connected"
    # ...one order per follower reached Rithmic with its client order id, filled.
    orders = await sync_to_async(
        lambda: list(CopyOrder.objects.select_related("account").order_by("account__external_id"))
    )()
    assert [(o.account.external_id, o.status, o.qty) for o in orders] == [
        ("ACC-1", "filled", 2),
        ("ACC-2", "filled", 4),
    ]
    for order in orders:
        [at_rithmic] = fake.orders_for(order.account.external_id)
        assert at_rithmic.user_tag == order.client_order_id
    # ...and the password appears in no log line, at any level, not even
    # hex-encoded in a logged frame.
    assert caplog.records
    assert PASSWORD not in caplog.text
    assert PASSWORD.encode().hex() not in caplog.text.replace(" ", "")
    leaked = [(r.name, r.msg) for r in caplog.records if PASSWORD in str(r.args)]
    assert leaked == []
