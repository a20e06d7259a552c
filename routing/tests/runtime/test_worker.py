"""The engine worker end to end: leader fill -> engine -> paper broker -> rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from conftest import Route
from journal.models import Fill, Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Follower, LeaderEvent
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.route_state import route_config_bump

T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)
# Transactional tests use serialized_rollback: the flush between them would
# otherwise drop the contract specs seeded by migration.


def _registry(slippage_ticks: int = 0) -> AdapterRegistry:
    specs = engine_contract_specs()
    return AdapterRegistry({"paper": PaperBroker(specs, slippage_ticks=slippage_ticks)})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_leader_round_trip_when_copied_then_followers_filled_and_pnl_in_dollars(
    route: Route,
) -> None:
    # Arrange: 1 tick (0.25) slippage against every follower order.
    registry = await sync_to_async(_registry)(1)
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 4, Decimal("21539.50"), T0)
    sell = LeaderFill("f2", "lead", "MNQH5", Side.SELL, 4, Decimal("21549.50"), T0)
    # Act
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    await worker.handle_leader_fill(route.leader.pk, sell, source="test")
    # Assert: Eval 25K (0.5) bought 2 @ 21539.75, sold 2 @ 21549.25:
    # (21549.25 - 21539.75) x 2 x $2 = $38.00. Funded (3) 12 lots: 9.50 x 12 x 2 = $228.00.
    small = await sync_to_async(Position.objects.get)(account=route.small, symbol="MNQH5")
    large = await sync_to_async(Position.objects.get)(account=route.large, symbol="MNQH5")
    assert (small.qty, small.realized_pnl) == (0, Decimal("38.00"))
    assert (large.qty, large.realized_pnl) == (0, Decimal("228.00"))
    statuses = await sync_to_async(
        lambda: sorted(CopyOrder.objects.values_list("status", flat=True))
    )()
    assert statuses == ["filled"] * 4
    assert await sync_to_async(Fill.objects.filter(account=route.small).count)() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_order_left_sent_by_crash_when_recovering_then_queried_not_resent(
    route: Route,
) -> None:
    # Arrange: an order claimed (SENT) by a worker that died before recording.
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    from routing.services.leader_events import leader_event_ingest
    from routing.services.orders import copy_order_claim

    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    result = await sync_to_async(leader_event_ingest)(account=route.leader, fill=buy, source="test")
    order_id = result.pending_order_ids[0]
    claimed = await sync_to_async(copy_order_claim)(order_id=order_id)
    assert claimed is not None
    request = claimed.request
    await registry.paper.place_order(request)  # the broker did fill it
    # Act: a new worker starts and recovers.
    worker = EngineWorker(registry)
    await worker.recover()
    # Assert: recorded from the broker's answer; the broker holds one order, not two.
    order = await sync_to_async(CopyOrder.objects.get)(pk=order_id)
    assert order.status == "filled"
    assert registry.paper.position(request.account, "MNQH5").qty == request.qty
    assert await sync_to_async(copy_order_claim)(order_id=order_id) is None


def _pause_followers() -> None:
    Follower.objects.update(enabled=False)
    route_config_bump()  # what the dashboard's pause does besides


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_leader_fill_when_handled_then_in_leader_journal_with_or_without_copies(
    route: Route,
) -> None:
    # Arrange: a buy of 2 copied to both followers, then a buy of 1 copied to
    # nobody (both followers paused: every decision skipped, no answer).
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    add = LeaderFill("f2", "lead", "MNQH5", Side.BUY, 1, Decimal("21540.50"), T0)
    # Act
    sent = await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    await sync_to_async(_pause_followers)()
    none = await worker.handle_leader_fill(route.leader.pk, add, source="test")
    # Assert: the leader's own fills are journaled and none is left pending.
    assert (len(sent), none) == (2, [])
    leader = await sync_to_async(Position.objects.get)(account=route.leader, symbol="MNQH5")
    assert leader.qty == 3
    pending = await sync_to_async(LeaderEvent.objects.filter(fill_pending=True).count)()
    assert pending == 0
