"""Replay jobs: an uploaded export streamed into a group's leader, paced.

A job is claimed by one engine worker (conditional update) and streams the
export's fills into that worker's paper exchange as new leader fills (ids
naming job, cycle and index; times now). Its progress is committed with each
fill's decisions (``routing.services.replay_progress``), never before: the
runner publishes fill i, waits until the stored progress passes it, then
sleeps the interval. While it runs it renews the job's heartbeat on its own
clock, whatever the pacing, so only a job whose worker died (no heartbeat
for ``REPLAY_HEARTBEAT_STALE``) is reclaimed, and resumes at its first fill
not ingested. Each claim bumps the job's ``generation`` (its lease): a
runner whose heartbeat finds another generation was replaced (it was
presumed dead) and stops at once, publishing nothing more and leaving the
job to its new runner, so a job runs in one place only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.utils import timezone

from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import ReplayJob
from routing.services.feed import feed_state_on_commit
from routing.services.replay_progress import ReplayPosition, replay_event_id

logger = logging.getLogger(__name__)

REPLAY_HEARTBEAT_STALE = timedelta(seconds=30)
REPLAY_HEARTBEAT_EVERY = 5.0  # seconds between a running job's heartbeats
REPLAY_INGEST_TIMEOUT = 120.0  # seconds a published fill may take to be ingested
REPLAY_POLL_SECONDS = 0.1  # how often the stored progress is read while waiting


@dataclass(frozen=True, slots=True)
class ReplayClaim:
    """A replay job claimed by one worker: its id and the claim's generation."""

    job_id: int
    generation: int


async def replay_job_run(claim: ReplayClaim, paper: PaperBroker) -> None:
    """Stream a claimed replay job's fills into ``paper`` as its group's
    leader fills, one every ``interval_ms`` after the previous one was
    ingested; ends the job DONE once the last fill's progress is stored, or
    FAILED naming the fill that could not be read or was never ingested.
    Returns early, finishing nothing, once the claim is lost (the job was
    claimed again by another worker)."""
    job_id = claim.job_id
    job = await database_sync_to_async(
        ReplayJob.objects.select_related("group__leader", "export_import").get
    )(pk=job_id)
    lost = asyncio.Event()
    beating = asyncio.create_task(_keep_beating(claim, lost), name=f"replay-{job_id}-heartbeat")
    try:
        error = await _stream(job, paper, lost)
        if error is None:
            logger.warning("replay job %s claimed by another worker: stopped here", job_id)
            return
        await database_sync_to_async(_job_finish)(claim, error)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def _stream(job: ReplayJob, paper: PaperBroker, lost: asyncio.Event) -> str | None:
    """Publish the job's fills from its stored progress on; the reason it
    failed, "" once every fill (every cycle, unless repeating) is counted,
    or ``None`` as soon as ``lost`` is set (the lease is gone)."""
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
            if lost.is_set():
                return None
            paper.publish_leader_fill(fill)
            if not await _ingested(position, lost):
                if lost.is_set():
                    return None
                return (
                    f"fill {index} (cycle {cycle}) not ingested within "
                    f"{REPLAY_INGEST_TIMEOUT:g} s; resubmit to resume"
                )
            await _sleep_unless(lost, job.interval_ms / 1000)
        if not job.repeat:
            return ""
        start, cycle = 0, cycle + 1
        await _sleep_unless(lost, 5 * job.interval_ms / 1000)


async def _sleep_unless(lost: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(lost.wait(), timeout=seconds)


async def _ingested(position: ReplayPosition, lost: asyncio.Event) -> bool:
    """Wait until the job's stored progress counts the fill at ``position``;
    False after ``REPLAY_INGEST_TIMEOUT`` or once ``lost`` is set."""
    deadline = time.monotonic() + REPLAY_INGEST_TIMEOUT
    while not lost.is_set():
        stored = await database_sync_to_async(_job_position)(position.job_id)
        if stored is None:
            return False
        if stored > (position.cycle, position.index):
            return True
        if time.monotonic() >= deadline:
            return False
        await _sleep_unless(lost, REPLAY_POLL_SECONDS)
    return False


async def _keep_beating(claim: ReplayClaim, lost: asyncio.Event) -> None:
    """Renew the job's heartbeat every ``REPLAY_HEARTBEAT_EVERY`` while the
    claim holds; set ``lost`` and stop when another generation owns it. A
    database error is retried on the next beat (the heartbeat going stale
    meanwhile is what lets another worker take over a dead one)."""
    while True:
        await asyncio.sleep(REPLAY_HEARTBEAT_EVERY)
        try:
            held = await database_sync_to_async(_job_beat)(claim)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("replay job %s heartbeat failed: %s", claim.job_id, exc)
            continue
        if not held:
            lost.set()
            return


def _job_position(job_id: int) -> tuple[int, int] | None:
    """(cycle, next index) stored for the job; ``None`` when it is gone."""
    return ReplayJob.objects.filter(pk=job_id).values_list("cycle", "next_index").first()


def _job_beat(claim: ReplayClaim) -> bool:
    """Renew the heartbeat if the claim still holds; whether it did."""
    return bool(
        ReplayJob.objects.filter(
            pk=claim.job_id, status=ReplayJob.Status.RUNNING, generation=claim.generation
        ).update(heartbeat_at=timezone.now())
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


def replay_jobs_claim(
    leader_ids: Collection[int] | None = None, *, runner: str = ""
) -> list[ReplayClaim]:
    """Claim pending replay jobs and running ones whose heartbeat went stale
    (their worker died), of the groups led by ``leader_ids`` when given, for
    worker ``runner``; returns the claims, each with the job's new
    generation. Conditional updates: a job claimed by another worker first
    is left to it."""
    stale = timezone.now() - REPLAY_HEARTBEAT_STALE
    claimable = ReplayJob.objects.filter(
        Q(status=ReplayJob.Status.PENDING)
        | Q(status=ReplayJob.Status.RUNNING, heartbeat_at__lt=stale)
    )
    if leader_ids is not None:
        claimable = claimable.filter(group__leader_id__in=list(leader_ids))
    claimable = claimable.order_by("pk").values_list("pk", "generation")
    claimed = []
    for job_id, generation in claimable:
        updated = ReplayJob.objects.filter(pk=job_id, generation=generation).update(
            status=ReplayJob.Status.RUNNING,
            heartbeat_at=timezone.now(),
            generation=generation + 1,
            runner=runner,
        )
        if updated == 1:  # else another worker got there first
            claimed.append(ReplayClaim(job_id, generation + 1))
    if claimed:
        _tell_owners([claim.job_id for claim in claimed], "replay running")
    return claimed


def _job_finish(claim: ReplayClaim, error: str) -> None:
    """End the job DONE, or FAILED with ``error``, if the claim still holds."""
    finished = ReplayJob.objects.filter(pk=claim.job_id, generation=claim.generation).update(
        status=ReplayJob.Status.FAILED if error else ReplayJob.Status.DONE,
        error=error,
        heartbeat_at=timezone.now(),
    )
    if finished:
        _tell_owners([claim.job_id], "replay failed" if error else "replay done")


def _tell_owners(job_ids: list[int], reason: str) -> None:
    """One ``state`` message per owner of ``job_ids``: the group pages show
    the replay's status as it changes."""
    by_owner: dict[int, list[int | None]] = {}
    for owner_id, group_id in (
        ReplayJob.objects.filter(pk__in=job_ids).order_by("pk").values_list("owner_id", "group_id")
    ):
        by_owner.setdefault(owner_id, []).append(group_id)
    for owner_id, group_ids in sorted(by_owner.items()):
        feed_state_on_commit(user_id=owner_id, group_ids=group_ids, reason=reason)
