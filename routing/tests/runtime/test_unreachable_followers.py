"""A follower whose broker login is down: its orders are blocked with the
reason and journaled, nothing reaches its broker, the other followers copy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, ExpectedPosition
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.route_state import route_config_bump
from routing.tests.runtime.login_fakes import FakeLogin

T0 = datetime(2025, 1, 28, 15, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_orders_to_a_follower_whose_login_is_down_are_blocked_with_the_reason(
    route: Route,
) -> None:
    # Arrange: the ratio-3 follower trades on ProjectX, whose login is down.
    def on_projectx() -> None:
        BrokerAccount.objects.filter(pk=route.large.pk).update(
            platform="projectx", external_id="PRAC-150K-1"
        )
        route_config_bump()

    await sync_to_async(on_projectx)()
    paper = await sync_to_async(lambda: PaperBroker(engine_contract_specs(), slippage_ticks=0))()
    projectx = await sync_to_async(
        lambda: FakeLogin(up=False, reason="ProjectX login 'Topstep' down since 15:00:00 UTC")
    )()
    registry = AdapterRegistry({"paper": paper, "projectx": projectx})
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 4, Decimal("21539.50"), T0)
    # Act
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    # Assert: the paper follower (0.5) bought 2; the ProjectX one (3) was
    # blocked, nothing reached ProjectX, its tracked position stayed flat.
    orders = await sync_to_async(lambda: {o.account_id: o for o in CopyOrder.objects.all()})()
    assert (orders[route.small.pk].status, orders[route.small.pk].qty) == ("filled", 2)
    blocked = orders[route.large.pk]
    assert blocked.status == "blocked"
    assert "not sent: ProjectX login 'Topstep' down since 15:00:00 UTC" in blocked.reason
    assert projectx.placed == []
    expected = await sync_to_async(
        lambda: list(
            ExpectedPosition.objects.filter(account=route.large).values_list("qty", flat=True)
        )
    )()
    assert set(expected) <= {0}
    journaled = await sync_to_async(
        lambda: list(
            JournalEntry.objects.filter(
                event_type=EventType.COPY_ORDER_BLOCKED, account_id=route.large.pk
            ).values_list("message", flat=True)
        )
    )()
    assert len(journaled) == 1
    assert "ProjectX login 'Topstep' down" in journaled[0]

    # Act: the login is back; the leader adds 2.
    projectx.up = True
    add = LeaderFill("f2", "lead", "MNQH5", Side.BUY, 2, Decimal("21540.00"), T0)
    await worker.handle_leader_fill(route.leader.pk, add, source="test")
    # Assert: the ProjectX follower is sized to the leader's whole position
    # (6 x 3 = 18, from its tracked 0) and the order reaches ProjectX.
    order = await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.large, leader_event__external_id="f2")
    )()
    assert (order.status, order.qty) == ("filled", 18)
    assert projectx.placed == [order.client_order_id]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_a_disabled_account_gets_no_order_from_the_next_event(route: Route) -> None:
    from accounts.broker_accounts import broker_account_enabled_set

    paper = await sync_to_async(lambda: PaperBroker(engine_contract_specs(), slippage_ticks=0))()
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 4, Decimal("21539.50"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    # Act: the trader disables the ratio-3 account; the leader adds 2.
    await sync_to_async(broker_account_enabled_set)(account=route.large, enabled=False)
    add = LeaderFill("f2", "lead", "MNQH5", Side.BUY, 2, Decimal("21540.00"), T0)
    await worker.handle_leader_fill(route.leader.pk, add, source="test")
    # Assert
    order = await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.large, leader_event__external_id="f2")
    )()
    assert order.status == "blocked"
    assert order.reason.endswith("not sent: account disabled on the accounts page")
    assert paper.position(route.large.external_id, "MNQH5").qty == 12
