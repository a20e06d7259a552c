"""The live feed tells the group page when its state moves, one message per
user per event (each message takes the user's next ``feed_seq``): a leader
event whose rejection quarantines a follower and locks the route sends only
its copy orders; a level change, a pause, a layer-2 pass that moved marks,
a replay starting and ending each send one.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import User
from conftest import Route
from journal.models import ExportImport
from routing.brokers.paper import PaperBroker
from routing.engine.limits import RouteLevel
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, Quarantine, ReplayJob
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.replay_jobs import ReplayClaim, _job_finish, replay_jobs_claim
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.group_rules import follower_pause
from routing.services.route_levels import route_level_set, route_lock

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
SYMBOL = "MNQH6"
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _seq(user: User) -> int:
    return User.objects.values_list("feed_seq", flat=True).get(pk=user.pk)


async def _worker() -> EngineWorker:
    registry = AdapterRegistry({"paper": PaperBroker(await sync_to_async(engine_contract_specs)())})
    await registry.connect_all()
    return EngineWorker(registry)


async def test_a_rejection_that_quarantines_and_locks_sends_one_message(route: Route) -> None:
    worker = await _worker()
    worker.registry.paper.reject_orders(route.small.external_id, SYMBOL, "margin")
    before = await sync_to_async(_seq)(route.owner)
    fill = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal(21000), T0)
    await worker.handle_leader_fill(route.leader.pk, fill, "t")
    group = await sync_to_async(CopyGroup.objects.get)(pk=route.group.pk)
    assert group.level == RouteLevel.LOCKED
    assert (
        await sync_to_async(Quarantine.objects.filter(follower=route.small_follower).count)() == 1
    )
    assert await sync_to_async(_seq)(route.owner) == before + 1


async def test_layer_two_sends_one_message_when_marks_moved_and_none_otherwise(
    route: Route,
) -> None:
    worker = await _worker()
    fill = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal(21000), T0)
    await worker.handle_leader_fill(route.leader.pk, fill, "t")
    await worker.watch_risk(at=T0)  # settles every mark at the venue's price
    before = await sync_to_async(_seq)(route.owner)
    await worker.watch_risk(at=T0)
    assert await sync_to_async(_seq)(route.owner) == before
    worker.registry.paper.mark(SYMBOL, Decimal("21004.75"), T0)
    await worker.watch_risk(at=T0)
    assert await sync_to_async(_seq)(route.owner) == before + 1


async def test_level_changes_and_pauses_send_one_message_each(route: Route) -> None:
    before = await sync_to_async(_seq)(route.owner)
    await sync_to_async(route_lock)(group=route.group, reason="slippage", actor_label="risk")
    await sync_to_async(route_lock)(group=route.group, reason="slippage", actor_label="risk")
    assert await sync_to_async(_seq)(route.owner) == before + 1  # the second changed nothing
    await sync_to_async(route_level_set)(
        group=route.group, level=RouteLevel.ACTIVE, actor=route.owner, reason="checked the fills"
    )
    await sync_to_async(follower_pause)(follower=route.small_follower, actor=route.owner)
    assert await sync_to_async(_seq)(route.owner) == before + 3


def _replay(route: Route) -> ReplayJob:
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name="grid.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "e1"}],
        fill_count=1,
    )
    return ReplayJob.objects.create(
        owner=route.owner, group=route.group, export_import=record, label="grid.csv"
    )


async def test_a_replay_starting_and_ending_sends_one_message_each(route: Route) -> None:
    await sync_to_async(_replay)(route)
    before = await sync_to_async(_seq)(route.owner)
    [claim] = await sync_to_async(replay_jobs_claim)(runner="w1")
    assert await sync_to_async(_seq)(route.owner) == before + 1
    await sync_to_async(_job_finish)(claim, "")
    assert await sync_to_async(_seq)(route.owner) == before + 2
    # A runner that lost its claim finishes nothing and says nothing.
    await sync_to_async(_job_finish)(ReplayClaim(claim.job_id, claim.generation - 1), "")
    assert await sync_to_async(_seq)(route.owner) == before + 2
