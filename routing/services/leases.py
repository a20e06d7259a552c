"""Leader leases: which engine worker owns which leader.

Several ``run_copy_engine`` processes share one PostgreSQL; each leader is
owned by one of them through a :class:`routing.models.LeaderLease` row. A
worker claims a lease that is free (released, expired, or its own from a
previous run under the same worker id) with a conditional update on the
generation it read (Healthchecks' sendalerts: the update count says who won),
renews its leases every ``LEASE_RENEW_EVERY`` and releases them on a clean
stop. A worker that dies stops renewing: its leases expire within
``LEASE_TTL`` and another worker takes them over, journaled, then recovers
and reconciles before it decides anything (``routing.runtime.worker``).

Fencing: every acquisition bumps ``generation``. The ingest of a leader
event locks the leader's row and its lease row in one query and checks the
worker and generation it holds (:func:`leader_lock`), so a worker that lost
its lease (paused, partitioned, slow) decides nothing more, and a take-over
waits for an ingest in flight to commit, which its recovery then sees.

Works on SQLite too (the embedded default runs one worker): row locks are
no-ops there, and SQLite serialises writers anyway.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.models import EngineWorkerHeartbeat, LeaderLease
from routing.selectors import engine_workers_live_count

LEASE_TTL = LeaderLease.TTL
LEASE_RENEW_EVERY = LeaderLease.RENEW_EVERY


class LeaseLostError(ApplicationError):
    """The worker no longer holds the leader's lease: it must not decide."""


@dataclass(frozen=True, slots=True)
class LeaseFence:
    """What a worker believes it holds: checked under the leader's row lock.

    ``generation`` 0 means "not held": no acquired lease has it, so the check fails.
    """

    leader_id: int
    worker_id: str
    generation: int


def default_worker_id() -> str:
    """``<hostname>-<pid>``: unique per process on one machine."""
    return f"{socket.gethostname()}-{os.getpid()}"


def engine_worker_beat(
    *,
    worker_id: str,
    leaders: int,
    adapters: Mapping[str, bool] | None = None,
    at: datetime | None = None,
) -> None:
    """Record that ``worker_id`` (this process) is alive and holds ``leaders`` leases.

    ``adapters`` (platform -> connected) replaces the stored connection
    state; ``None`` leaves it as it was. Creates the worker's row on its
    first beat (``started_at``, hostname, pid) and clears ``stopped_at``
    when a worker id is reused after a stop.
    """
    now = at or timezone.now()
    fields: dict[str, object] = {"seen_at": now, "leaders": leaders, "stopped_at": None}
    if adapters is not None:
        fields["adapters"] = dict(adapters)
    updated = EngineWorkerHeartbeat.objects.filter(worker_id=worker_id).update(**fields)
    if not updated:
        EngineWorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id,
            defaults=fields,
            create_defaults={
                **fields,
                "hostname": socket.gethostname()[:200],
                "pid": os.getpid(),
                "started_at": now,
            },
        )


def engine_worker_stop(*, worker_id: str, at: datetime | None = None) -> None:
    """Mark ``worker_id`` stopped (a clean stop): no longer counted live."""
    EngineWorkerHeartbeat.objects.filter(worker_id=worker_id).update(
        stopped_at=at or timezone.now(), leaders=0
    )


def leader_leases_acquire(
    *,
    worker_id: str,
    held: Collection[int] = (),
    ttl: timedelta = LEASE_TTL,
    at: datetime | None = None,
    fair_share: bool = True,
) -> list[LeaseFence]:
    """Claim free leader leases for ``worker_id``; returns the ones won.

    Every account leading a group gets a lease row the first time any worker
    looks. A lease is free when released (no worker), expired (``expires_at``
    at or before aware ``at``, default now), or held by ``worker_id`` itself
    but not in ``held`` (this worker id's previous process: a restart takes
    its leaders back at once instead of waiting ``ttl``). Each claim is a
    conditional update on the generation read, so of two workers racing for
    one lease exactly one wins; the winner's generation is the old one + 1.
    A take-over from another worker that did not release is journaled for
    the leader's owner.

    With ``fair_share`` a worker holds at most ``ceil(leaders / live
    workers)`` leases (``held`` included), so the leaders of a dead worker
    spread over the survivors; leases already held are never given back here.
    ``ttl`` is the lease length (seconds scale; at most 10 s in practice).
    """
    now = at or timezone.now()
    leaders = list(
        BrokerAccount.objects.filter(led_groups__isnull=False)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not leaders:
        return []
    LeaderLease.objects.bulk_create(
        [LeaderLease(leader_id=pk, expires_at=now) for pk in leaders],
        ignore_conflicts=True,  # another worker may create the same rows now
    )
    wanted = len(leaders) - len(held)
    if fair_share:
        live = max(engine_workers_live_count(at=now, ttl=ttl), 1)
        wanted = math.ceil(len(leaders) / live) - len(held)
    if wanted <= 0:
        return []
    free = (
        LeaderLease.objects.filter(leader_id__in=leaders)
        .filter(Q(worker_id="") | Q(expires_at__lte=now) | Q(worker_id=worker_id))
        .exclude(leader_id__in=list(held))
        .select_related("leader")
        .order_by("leader_id")
    )
    won: list[LeaseFence] = []
    for lease in free:
        if len(won) == wanted:
            break
        fence = _claim(lease, worker_id=worker_id, ttl=ttl, now=now)
        if fence is not None:
            won.append(fence)
    return won


@transaction.atomic
def _claim(
    lease: LeaderLease, *, worker_id: str, ttl: timedelta, now: datetime
) -> LeaseFence | None:
    generation = lease.generation + 1
    claimed = LeaderLease.objects.filter(
        Q(worker_id="") | Q(expires_at__lte=now) | Q(worker_id=worker_id),
        pk=lease.pk,
        generation=lease.generation,
    ).update(worker_id=worker_id, generation=generation, acquired_at=now, expires_at=now + ttl)
    if claimed != 1:  # another worker got there first, or the holder renewed
        return None
    previous = lease.worker_id
    if previous and previous != worker_id:
        leader = lease.leader
        late = (now - lease.expires_at).total_seconds()
        journal_record(
            owner_id=leader.owner_id,
            event_type=EventType.LEADER_TAKEN_OVER,
            account_id=leader.pk,
            actor_label="engine",
            occurred_at=now,
            message=(
                f"Leader {leader.name}: engine worker {worker_id} took over from {previous} "
                f"(its lease expired {late:.1f} s ago); recovering and reconciling before copying"
            ),
            before={"worker_id": previous, "generation": lease.generation},
            after={"worker_id": worker_id, "generation": generation},
        )
    return LeaseFence(leader_id=lease.pk, worker_id=worker_id, generation=generation)


def leader_leases_renew(
    *,
    worker_id: str,
    held: Mapping[int, int],
    ttl: timedelta = LEASE_TTL,
    at: datetime | None = None,
) -> set[int]:
    """Extend ``worker_id``'s leases in ``held`` (leader id -> generation) to
    ``at`` + ``ttl``; returns the leader ids still held. One missing was
    taken over (another worker or generation holds it) and must be dropped:
    its stream stopped, nothing more decided for it."""
    if not held:
        return set()
    now = at or timezone.now()
    mine = LeaderLease.objects.filter(worker_id=worker_id, leader_id__in=list(held))
    mine.update(expires_at=now + ttl)
    return {
        leader_id
        for leader_id, generation in mine.values_list("leader_id", "generation")
        if held[leader_id] == generation
    }


def leader_leases_release(
    *, worker_id: str, held: Mapping[int, int], at: datetime | None = None
) -> int:
    """Give up ``worker_id``'s leases in ``held`` (leader id -> generation), a
    clean stop: another worker may take them at once. Leases taken over
    meanwhile are left alone. Returns the number released."""
    if not held:
        return 0
    match = Q()
    for leader_id, generation in held.items():
        match |= Q(leader_id=leader_id, generation=generation)
    return LeaderLease.objects.filter(match, worker_id=worker_id).update(
        worker_id="", expires_at=at or timezone.now()
    )


def leader_lock(*, leader_id: int, fence: LeaseFence | None = None) -> None:
    """Lock leader ``leader_id``'s account row until the transaction ends
    (one leader's events apply one at a time) and, with ``fence``, check in
    the same query that its lease is still ``fence``'s worker and generation.

    The check joins the lease row, so ``SELECT ... FOR UPDATE`` locks it too:
    a take-over (an update of that row) waits for this transaction, and a
    transaction after a take-over sees the new generation. Call inside
    ``transaction.atomic``. Raises ``LeaseLostError`` when the fence fails,
    ``BrokerAccount.DoesNotExist`` when there is no such account.
    """
    rows = BrokerAccount.objects.select_for_update().filter(pk=leader_id)
    if fence is None:
        rows.get()
        return
    fenced = rows.filter(
        leader_lease__worker_id=fence.worker_id, leader_lease__generation=fence.generation
    )
    if fenced.values_list("pk", flat=True).first() is None:
        rows.get()  # a missing account raises DoesNotExist, not a lost lease
        raise LeaseLostError(
            f"engine worker {fence.worker_id} no longer holds the lease of leader {leader_id} "
            f"(generation {fence.generation}); the event is left to the new holder"
        )
