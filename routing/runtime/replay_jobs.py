"""Replay jobs: an uploaded export streamed into a group's leader, paced.

A job is claimed by one engine worker (conditional update) and streams the
export's fills into that worker's paper exchange as new leader fills (ids
naming job, cycle and index; times now). Its progress is committed with each
fill's decisions (``routing.services.replay_progress``), never before: the
runner publishes fill i, waits until the stored progress passes it, then
sleeps the interval. While it runs it renews the job's heartbeat on its own
clock, whatever the pacing, so only a job whose worker died (no heartbeat
for ``REPLAY_HEARTBEAT_STALE``) is reclaimed, and resumes at its first fill
not ingested.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.db.models import Q
from django.utils import timezone

from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import ReplayJob
from routing.services.replay_progress import ReplayPosition, replay_event_id

REPLAY_HEARTBEAT_STALE = timedelta(seconds=30)
REPLAY_HEARTBEAT_EVERY = 5.0  # seconds between a running job's heartbeats
REPLAY_INGEST_TIMEOUT = 120.0  # seconds a published fill may take to be ingested
REPLAY_POLL_SECONDS = 0.1  # how often the stored progress is read while waiting


async def replay_job_run(job_id: int, paper: PaperBroker) -> None:
    """Stream a claimed replay job's fills into ``paper`` as its group's
    leader fills, one every ``interval_ms`` after the previous one was
    ingested; ends the job DONE once the last fill's progress is stored, or
    FAILED naming the fill that could not be read or was never ingested."""
    job = await database_sync_to_async(
        ReplayJob.objects.select_related("group__leader", "export_import").get
    )(pk=job_id)
    beating = asyncio.create_task(_keep_beating(job_id), name=f"replay-{job_id}-heartbeat")
    try:
        error = await _stream(job, paper)
        await database_sync_to_async(_job_finish)(job_id, error)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def _stream(job: ReplayJob, paper: PaperBroker) -> str:
    """Publish the job's fills from its stored progress on; the reason it
    failed, or "" once every fill (every cycle, unless repeating) is counted."""
    fills = job.export_import.fills
    leader = job.group.leader
    start, cycle = job.next_index, job.cycle
    while True:
        for index in range(start, len(fills)):
            position = ReplayPosition(job.pk, cycle, index)
            try:
                fill = _restamped(fills[index], position, leader.external_id)
            except (KeyError, ValueError) as exc:
                return f"fill {index}: {exc}"
            paper.publish_leader_fill(fill)
            if not await _ingested(position):
                return (
                    f"fill {index} (cycle {cycle}) not ingested within "
                    f"{REPLAY_INGEST_TIMEOUT:g} s; resubmit to resume"
                )
            await asyncio.sleep(job.interval_ms / 1000)
        if not job.repeat:
            return ""
        start, cycle = 0, cycle + 1
        await asyncio.sleep(5 * job.interval_ms / 1000)


async def _ingested(position: ReplayPosition) -> bool:
    """Wait until the job's stored progress counts the fill at ``position``;
    False after ``REPLAY_INGEST_TIMEOUT``."""
    deadline = time.monotonic() + REPLAY_INGEST_TIMEOUT
    while True:
        stored = await database_sync_to_async(_job_position)(position.job_id)
        if stored is None:
            return False
        if stored > (position.cycle, position.index):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(REPLAY_POLL_SECONDS)


async def _keep_beating(job_id: int) -> None:
    while True:
        await asyncio.sleep(REPLAY_HEARTBEAT_EVERY)
        await database_sync_to_async(_job_beat)(job_id)


def _job_position(job_id: int) -> tuple[int, int] | None:
    """(cycle, next index) stored for the job; ``None`` when it is gone."""
    return ReplayJob.objects.filter(pk=job_id).values_list("cycle", "next_index").first()


def _job_beat(job_id: int) -> None:
    ReplayJob.objects.filter(pk=job_id, status=ReplayJob.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def _restamped(
    raw: dict[str, str], position: ReplayPosition, leader_external_id: str
) -> LeaderFill:
    # A replay is a new stream of events on the group's leader: ids name the
    # job, cycle and index, so a second replay of one export is not mistaken
    # for re-deliveries and ingesting one counts it in the job's progress;
    # times are now so sessions and the feed line up.
    return LeaderFill(
        event_id=replay_event_id(position, raw["event_id"]),
        account=leader_external_id,
        symbol=raw["symbol"],
        side=Side(raw["side"]),
        qty=int(raw["qty"]),
        price=Decimal(raw["price"]),
        time=timezone.now(),
    )


def replay_jobs_claim(leader_ids: Collection[int] | None = None) -> list[int]:
    """Claim pending replay jobs and running ones whose heartbeat went stale
    (their worker died), of the groups led by ``leader_ids`` when given;
    returns the ids claimed. Conditional updates: a job claimed by another
    worker first is left to it."""
    stale = timezone.now() - REPLAY_HEARTBEAT_STALE
    claimable = ReplayJob.objects.filter(
        Q(status=ReplayJob.Status.PENDING)
        | Q(status=ReplayJob.Status.RUNNING, heartbeat_at__lt=stale)
    )
    if leader_ids is not None:
        claimable = claimable.filter(group__leader_id__in=list(leader_ids))
    claimable = claimable.order_by("pk").values_list("pk", "status", "heartbeat_at")
    claimed = []
    for job_id, status, heartbeat in claimable:
        updated = ReplayJob.objects.filter(pk=job_id, status=status, heartbeat_at=heartbeat).update(
            status=ReplayJob.Status.RUNNING, heartbeat_at=timezone.now()
        )
        if updated == 1:  # else another worker got there first
            claimed.append(job_id)
    return claimed


def _job_finish(job_id: int, error: str) -> None:
    ReplayJob.objects.filter(pk=job_id).update(
        status=ReplayJob.Status.FAILED if error else ReplayJob.Status.DONE,
        error=error,
        heartbeat_at=timezone.now(),
    )
