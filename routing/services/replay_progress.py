"""A replay job's progress, committed with the decisions of the fill it counts.

A replayed fill's event id names its job, cycle and index
(``replay<job>.<cycle>.<index>:<raw id>``); ingesting it advances the job's
progress in the same transaction as its decisions, so a fill published but
never ingested (the worker died in between) is not counted, and the job
resumes at it. Re-deliveries are harmless: the event id de-duplicates the
fill and progress only moves forward.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from django.db.models import Q
from django.utils import timezone

from routing.models import ReplayJob

_REPLAY_ID = re.compile(r"replay(\d+)\.(\d+)\.(\d+):")


class ReplayPosition(NamedTuple):
    job_id: int
    cycle: int
    index: int


def replay_event_id(position: ReplayPosition, raw_id: str) -> str:
    """The event id of fill ``position.index`` of a replay, from its raw id."""
    return f"replay{position.job_id}.{position.cycle}.{position.index}:{raw_id}"


def replay_event_position(event_id: str) -> ReplayPosition | None:
    """The job, cycle and index named by a replayed fill's event id; ``None``
    for any other event id."""
    match = _REPLAY_ID.match(event_id)
    if match is None:
        return None
    job_id, cycle, index = (int(g) for g in match.groups())
    return ReplayPosition(job_id, cycle, index)


def replay_progress_record(*, leader_id: int, event_id: str) -> bool:
    """Count the replayed fill ``event_id`` of leader ``leader_id`` in its
    job's progress (next fill, cycle, heartbeat), only forward; call it in
    the transaction that ingests the fill. False when nothing moved (not a
    replayed fill, another leader's job, progress already past it)."""
    position = replay_event_position(event_id)
    if position is None:
        return False
    updated = (
        ReplayJob.objects.filter(pk=position.job_id, group__leader_id=leader_id)
        .filter(
            Q(cycle__lt=position.cycle) | Q(cycle=position.cycle, next_index__lte=position.index)
        )
        .update(next_index=position.index + 1, cycle=position.cycle, heartbeat_at=timezone.now())
    )
    return updated == 1
