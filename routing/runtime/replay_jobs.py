"""Replay jobs: an uploaded export streamed into a group's leader, paced.

A job is claimed by one engine worker (conditional update), streams the
export's fills into that worker's paper exchange as new leader fills (ids
qualified by job and cycle, times now), and saves its progress so a job
whose worker died is reclaimed after its heartbeat goes stale and resumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.db.models import Q
from django.utils import timezone

from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import ReplayJob

REPLAY_HEARTBEAT_STALE = timedelta(seconds=30)


async def replay_job_run(job_id: int, paper: PaperBroker) -> None:
    """Stream a claimed replay job's fills into ``paper`` as its group's
    leader fills, one every ``interval_ms``, saving progress as it goes;
    ends the job DONE, or FAILED naming the fill that could not be read."""
    job = await database_sync_to_async(
        ReplayJob.objects.select_related("group__leader", "export_import").get
    )(pk=job_id)
    fills = job.export_import.fills
    leader = job.group.leader
    start, cycle = job.next_index, job.cycle
    while True:
        for index in range(start, len(fills)):
            try:
                fill = _restamped(fills[index], job.pk, cycle, leader.external_id)
            except (KeyError, ValueError) as exc:
                await database_sync_to_async(_job_finish)(job_id, f"fill {index}: {exc}")
                return
            paper.publish_leader_fill(fill)
            await database_sync_to_async(_job_progress)(job_id, index + 1, cycle)
            await asyncio.sleep(job.interval_ms / 1000)
        if not job.repeat:
            break
        start, cycle = 0, cycle + 1
        await asyncio.sleep(5 * job.interval_ms / 1000)
    await database_sync_to_async(_job_finish)(job_id, "")


def _restamped(raw: dict[str, str], job_id: int, cycle: int, leader_external_id: str) -> LeaderFill:
    # A replay is a new stream of events on the group's leader: ids are
    # qualified by job and cycle so a second replay of one export is not
    # mistaken for re-deliveries, and times are now so sessions and the
    # feed line up.
    return LeaderFill(
        event_id=f"replay{job_id}.{cycle}:{raw['event_id']}",
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


def _job_progress(job_id: int, next_index: int, cycle: int) -> None:
    ReplayJob.objects.filter(pk=job_id).update(
        next_index=next_index, cycle=cycle, heartbeat_at=timezone.now()
    )


def _job_finish(job_id: int, error: str) -> None:
    ReplayJob.objects.filter(pk=job_id).update(
        status=ReplayJob.Status.FAILED if error else ReplayJob.Status.DONE,
        error=error,
        heartbeat_at=timezone.now(),
    )
