"""Replay jobs (issue 10, defect 7): a job's progress is committed with the
decisions of the fill it counts, so a fill published but never ingested is
replayed by the next runner (once: its event id de-duplicates it), a job ends
DONE only once its last fill is counted, and a running job's heartbeat does
not depend on its pacing, so a slow job is never claimed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from conftest import Route
from journal.models import ExportImport
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import LeaderEvent, ReplayJob
from routing.runtime import replay_jobs
from routing.runtime.replay_jobs import ReplayClaim, replay_job_run, replay_jobs_claim
from routing.selectors import engine_contract_specs
from routing.services.leader_events import leader_event_ingest
from routing.services.replay_progress import (
    ReplayPosition,
    replay_event_id,
    replay_event_position,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _claimed_job(
    route: Route, *, fills: int = 3, interval_ms: int = 0
) -> tuple[ReplayJob, ReplayClaim]:
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name="grid.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[
            {
                "event_id": f"e{i}",
                "symbol": "MNQH6",
                "side": "buy" if i % 2 == 0 else "sell",
                "qty": "1",
                "price": "21000",
            }
            for i in range(fills)
        ],
        fill_count=fills,
    )
    job = ReplayJob.objects.create(
        owner=route.owner,
        group=route.group,
        export_import=record,
        label="grid.csv",
        interval_ms=interval_ms,
    )
    [claim] = replay_jobs_claim(runner="w1")
    assert (claim.job_id, claim.generation) == (job.pk, 1)
    return job, claim


async def _paper() -> PaperBroker:
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    await paper.connect()
    return paper


async def _ingest_stream(paper: PaperBroker, route: Route) -> None:
    """The engine's side: every fill on the leader's stream ingested."""
    async for fill in paper.leader_events(route.leader.external_id):
        assert isinstance(fill, LeaderFill)
        await sync_to_async(leader_event_ingest)(account=route.leader.pk, fill=fill, source="paper")


async def _until(check: Callable[[], bool], *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {seconds} s: {check.__doc__}")


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _job(job_id: int) -> ReplayJob:
    return ReplayJob.objects.get(pk=job_id)


def _event_ids() -> list[str]:
    return list(LeaderEvent.objects.order_by("pk").values_list("external_id", flat=True))


async def test_replay_event_position_when_replay_id_then_job_cycle_index_else_none() -> None:
    event_id = replay_event_id(ReplayPosition(7, 2, 41), "abc:1.2")
    assert event_id == "replay7.2.41:abc:1.2"
    assert replay_event_position(event_id) == ReplayPosition(7, 2, 41)
    assert replay_event_position("replay7.2:abc") is None  # the old spelling counts nothing
    assert replay_event_position("fill-1") is None


async def test_runner_killed_between_publish_and_ingest_then_fill_not_counted_and_replayed_once(
    route: Route,
) -> None:
    # Arrange: a claimed job of 3 fills, 10 s apart; the engine's consumer
    # takes the first fill off the stream and dies before ingesting it.
    job, claim = await sync_to_async(_claimed_job)(route, interval_ms=10_000)
    paper = await _paper()
    stream = paper.leader_events(route.leader.external_id)
    runner = asyncio.create_task(replay_job_run(claim, paper))
    lost = await asyncio.wait_for(anext(stream), timeout=10)
    await asyncio.sleep(0.5)  # the window in which the old runner saved its progress

    # Act: the worker dies (runner and consumer with it).
    await _stop(runner)
    await stream.aclose()

    # Assert: the fill published but never ingested is not counted.
    killed = await sync_to_async(_job)(job.pk)
    assert (killed.status, killed.cycle, killed.next_index) == ("running", 0, 0)
    assert await sync_to_async(_event_ids)() == []

    # Act: its heartbeat goes stale, another worker claims it and replays it.
    await sync_to_async(ReplayJob.objects.filter(pk=job.pk).update)(
        heartbeat_at=timezone.now() - timedelta(minutes=1)
    )
    [again] = await sync_to_async(replay_jobs_claim)()
    assert (again.job_id, again.generation) == (job.pk, 2)
    await sync_to_async(ReplayJob.objects.filter(pk=job.pk).update)(interval_ms=0)
    paper = await _paper()
    consumer = asyncio.create_task(_ingest_stream(paper, route))
    await asyncio.wait_for(replay_job_run(again, paper), timeout=20)
    # The lost fill delivered late after all: de-duplicated, progress unmoved.
    late = await sync_to_async(leader_event_ingest)(account=route.leader.pk, fill=lost, source="x")
    await _stop(consumer)

    # Assert: every fill ingested once, the lost one included, and the job done.
    assert late.created is False
    assert await sync_to_async(_event_ids)() == [f"replay{job.pk}.0.{i}:e{i}" for i in range(3)]
    done = await sync_to_async(_job)(job.pk)
    assert (done.status, done.cycle, done.next_index, done.error) == ("done", 0, 3, "")


async def test_fill_never_ingested_then_job_failed_naming_it_not_done(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: nobody consumes the leader's stream.
    monkeypatch.setattr(replay_jobs, "REPLAY_INGEST_TIMEOUT", 0.5, raising=False)
    job, claim = await sync_to_async(_claimed_job)(route)
    paper = await _paper()

    # Act
    await asyncio.wait_for(replay_job_run(claim, paper), timeout=10)

    # Assert
    failed = await sync_to_async(_job)(job.pk)
    assert (failed.status, failed.next_index) == ("failed", 0)
    assert failed.error.startswith("fill 0 (cycle 0) not ingested")


async def test_job_paced_slower_than_stale_time_when_running_then_not_claimed_twice(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: fills 40 s apart, a heartbeat stale after 1 s (30 s in
    # production), renewed every 0.2 s (5 s in production).
    monkeypatch.setattr(replay_jobs, "REPLAY_HEARTBEAT_STALE", timedelta(seconds=1))
    monkeypatch.setattr(replay_jobs, "REPLAY_HEARTBEAT_EVERY", 0.2, raising=False)
    job, claim = await sync_to_async(_claimed_job)(route, interval_ms=40_000)
    paper = await _paper()
    consumer = asyncio.create_task(_ingest_stream(paper, route))
    runner = asyncio.create_task(replay_job_run(claim, paper))

    def first_fill_counted() -> bool:
        """the job's first fill ingested and counted"""
        return _job(job.pk).next_index == 1

    await _until(first_fill_counted)

    # Act: a second worker looks for jobs while the first waits out its interval.
    await asyncio.sleep(1.5)
    while_running = await sync_to_async(replay_jobs_claim)()
    # The first worker dies: now the job is stale and claimable.
    await _stop(runner)
    await _stop(consumer)
    await asyncio.sleep(1.5)
    after_death = await sync_to_async(replay_jobs_claim)()

    # Assert
    assert while_running == []
    assert [c.job_id for c in after_death] == [job.pk]
    assert await sync_to_async(_event_ids)() == [f"replay{job.pk}.0.0:e0"]


async def test_replayed_fill_ingested_out_of_order_then_progress_only_moves_forward(
    route: Route,
) -> None:
    # Arrange
    job, _ = await sync_to_async(_claimed_job)(route)

    def ingest(index: int) -> None:
        fill = LeaderFill(
            replay_event_id(ReplayPosition(job.pk, 0, index), f"e{index}"),
            route.leader.external_id,
            "MNQH6",
            Side.BUY,
            1,
            Decimal("21000"),
            timezone.now(),
        )
        leader_event_ingest(account=route.leader.pk, fill=fill, source="paper")

    # Act: fill 2, then fill 0 delivered late.
    await sync_to_async(ingest)(2)
    await sync_to_async(ingest)(0)

    # Assert
    stored = await sync_to_async(_job)(job.pk)
    assert (stored.cycle, stored.next_index) == (0, 3)


async def test_runner_replaced_while_alive_then_it_stops_and_the_job_runs_once(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: worker w1 streams a job paced 40 s apart, beating every 0.2 s.
    monkeypatch.setattr(replay_jobs, "REPLAY_HEARTBEAT_STALE", timedelta(seconds=1))
    monkeypatch.setattr(replay_jobs, "REPLAY_HEARTBEAT_EVERY", 0.2, raising=False)
    job, claim = await sync_to_async(_claimed_job)(route, interval_ms=40_000)
    paper = await _paper()
    consumer = asyncio.create_task(_ingest_stream(paper, route))
    first = asyncio.create_task(replay_job_run(claim, paper))

    def first_fill_counted() -> bool:
        """the job's first fill ingested and counted"""
        return _job(job.pk).next_index == 1

    await _until(first_fill_counted)

    # Act: w1's heartbeat looks stale to w2 (a long database blip on w1's
    # side), so w2 claims the job while w1 is still alive.
    await sync_to_async(ReplayJob.objects.filter(pk=job.pk).update)(
        heartbeat_at=timezone.now() - timedelta(minutes=1)
    )
    [second] = await sync_to_async(replay_jobs_claim)(runner="w2")

    # Assert: w1 finds the claim gone at its next beat and stops at once
    # (not after its 40 s interval), finishing nothing and publishing nothing.
    await asyncio.wait_for(first, timeout=5)
    taken = await sync_to_async(_job)(job.pk)
    assert (taken.status, taken.generation, taken.runner) == ("running", 2, "w2")
    assert second.generation == 2

    # Act: w2 streams the rest at once.
    await sync_to_async(ReplayJob.objects.filter(pk=job.pk).update)(interval_ms=0)
    await asyncio.wait_for(replay_job_run(second, paper), timeout=20)
    await _stop(consumer)

    # Assert: every fill once, the job done by w2.
    assert await sync_to_async(_event_ids)() == [f"replay{job.pk}.0.{i}:e{i}" for i in range(3)]
    done = await sync_to_async(_job)(job.pk)
    assert (done.status, done.next_index, done.runner) == ("done", 3, "w2")
