"""The engine worker's side of leader leases (:mod:`routing.services.leases`).

A :class:`LeaseKeeper` remembers which leaders this worker holds (and each
lease's generation, the fencing token it passes to the ingest), acquires free
leases on every worker pass, renews them on a timer of its own so a slow pass
(a flatten, a recovery) never lets them lapse, and releases them on a clean
stop. A leader just acquired is *unrecovered* until the worker has recovered
its orders and reconciled its followers; only then is its stream consumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from channels.db import database_sync_to_async
from django.db import DatabaseError

from routing.services.leases import (
    LEASE_RENEW_EVERY,
    LEASE_TTL,
    LeaseFence,
    engine_worker_beat,
    engine_worker_stop,
    leader_leases_acquire,
    leader_leases_release,
    leader_leases_renew,
)

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Leases of one engine worker. Inactive (no fencing, no scoping) until
    the first :meth:`acquire`: a worker driven by hand in a test or a replay
    decides for any leader, as before leases existed."""

    def __init__(
        self,
        *,
        worker_id: str,
        ttl: timedelta = LEASE_TTL,
        renew_every: timedelta = LEASE_RENEW_EVERY,
        adapters: Callable[[], dict[str, bool]] | None = None,
    ) -> None:
        self.worker_id = worker_id
        # Platform -> connected, read at every beat (the health page shows it).
        self._adapters = adapters
        self.ttl = ttl
        self.renew_every = renew_every
        self.active = False
        self._held: dict[int, int] = {}  # leader account id -> lease generation
        self._unrecovered: set[int] = set()
        self._tried_at = float("-inf")  # loop time of the last acquisition attempt

    @property
    def held(self) -> frozenset[int]:
        """Leaders whose lease this worker holds (recovered or not)."""
        return frozenset(self._held)

    @property
    def owned(self) -> frozenset[int] | None:
        """Leaders this worker may act for: held and recovered; ``None`` while
        inactive (every leader, the single-worker behaviour)."""
        if not self.active:
            return None
        return frozenset(self._held.keys() - self._unrecovered)

    @property
    def unrecovered(self) -> frozenset[int]:
        """Leaders acquired whose recovery and reconciliation are still due."""
        return frozenset(self._unrecovered)

    def recovered(self, leader_ids: frozenset[int]) -> None:
        """Mark ``leader_ids`` recovered and reconciled: their streams may start."""
        self._unrecovered -= leader_ids

    def fence(self, leader_id: int) -> LeaseFence | None:
        """The fencing token for an event of ``leader_id``: ``None`` while
        inactive; generation 0 (always refused) when the lease is not held."""
        if not self.active:
            return None
        return LeaseFence(leader_id, self.worker_id, self._held.get(leader_id, 0))

    async def acquire(self) -> frozenset[int]:
        """Beat, then claim this worker's fair share of free leases; returns
        the leaders newly acquired (also left in :attr:`unrecovered`). Looks
        at most twice per ``renew_every`` (the worker calls it every pass), so
        a dead worker's leaders are taken within ``ttl`` + ``renew_every``."""
        now = asyncio.get_running_loop().time()
        if now - self._tried_at < self.renew_every.total_seconds() / 2:
            return frozenset()
        self._tried_at = now
        await self.beat()
        won = await database_sync_to_async(leader_leases_acquire)(
            worker_id=self.worker_id, held=self.held, ttl=self.ttl
        )
        for fence in won:
            self._held[fence.leader_id] = fence.generation
            self._unrecovered.add(fence.leader_id)
        # Active from the first answer on: an event handed to the worker
        # directly before then (tests, the benchmark) is decided unfenced, as
        # before leases; no stream runs before it.
        self.active = True
        if won:
            logger.info("worker %s acquired leaders %s", self.worker_id, [f.leader_id for f in won])
        return frozenset(f.leader_id for f in won)

    async def renew(self) -> frozenset[int]:
        """Extend every held lease and beat; returns the leaders lost (taken
        over by another worker), which are dropped from :attr:`held`."""
        renewing = dict(self._held)
        kept = await database_sync_to_async(leader_leases_renew)(
            worker_id=self.worker_id, held=renewing, ttl=self.ttl
        )
        # Judge only what was renewed: a lease acquired meanwhile (the pass
        # runs concurrently with this timer) is not lost for being absent.
        lost = frozenset(
            leader_id
            for leader_id, generation in renewing.items()
            if leader_id not in kept and self._held.get(leader_id) == generation
        )
        for leader_id in lost:
            del self._held[leader_id]
            self._unrecovered.discard(leader_id)
        if lost:
            logger.warning("worker %s lost leaders %s", self.worker_id, sorted(lost))
        await self.beat()
        return lost

    async def beat(self) -> None:
        """Record this worker alive now, with its lease count and its
        adapters' connection state (when it was given a way to read them)."""
        adapters = self._adapters() if self._adapters is not None else None
        await database_sync_to_async(engine_worker_beat)(
            worker_id=self.worker_id, leaders=len(self._held), adapters=adapters
        )

    async def keep_renewed(self) -> None:
        """Renew every ``renew_every`` until cancelled. A database error is
        logged and retried at the next tick: until the TTL runs out the
        leases are still ours, and the ingest's fence refuses decisions once
        another worker has taken one."""
        while True:
            await asyncio.sleep(self.renew_every.total_seconds())
            try:
                await self.renew()
            except DatabaseError:
                logger.exception("worker %s: lease renewal failed", self.worker_id)

    async def release(self) -> None:
        """Give every lease up and mark this worker stopped (a clean stop), so
        another worker takes the leaders at once instead of after the TTL."""
        held, self._held = dict(self._held), {}
        self._unrecovered.clear()
        try:
            await database_sync_to_async(leader_leases_release)(worker_id=self.worker_id, held=held)
            await database_sync_to_async(engine_worker_stop)(worker_id=self.worker_id)
        except DatabaseError:
            logger.exception("worker %s: lease release failed; they expire", self.worker_id)
