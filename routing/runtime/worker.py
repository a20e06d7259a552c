"""The engine worker: leader streams in, copy orders out, concurrently.

One asyncio loop per process. ``manage.py run_copy_engine`` runs it alone
(real deployment); in the embedded default it runs on the web server's loop
(``routing.runtime.embedded``). Crash-only: start-up recovery is the same
path as normal work. Orders a previous run left SENT are *queried* at the
broker by client order id, never sent again blind; replay jobs left RUNNING
by a dead worker are reclaimed after their heartbeat goes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.errors import ApplicationError
from journal.fills import FillInput
from routing.brokers.base import BrokerAdapter, OrderResult
from routing.brokers.logins import LoginConfig
from routing.engine.sequencing import SequenceGate
from routing.engine.types import LeaderFill, LeaderOrder
from routing.models import CopyOrder
from routing.runtime.adapters import AdapterRegistry, build_registry
from routing.runtime.faults import (
    DB_ERRORS,
    DB_RETRY_FIRST_DELAY,
    FaultsMixin,
    Unapplied,
    backoff,
)
from routing.runtime.flattening import FlattenMixin
from routing.runtime.heap import HeapSettler
from routing.runtime.leader_streams import LeaderStreamsMixin
from routing.runtime.leases import LeaseKeeper
from routing.runtime.logins import LoginsMixin
from routing.runtime.recent_answers import RecentAnswers
from routing.runtime.recovery import RecoveryMixin
from routing.runtime.replay_jobs import replay_job_run, replay_jobs_claim
from routing.runtime.risk_loop import watch_risk
from routing.runtime.sends import SendsMixin
from routing.services.feed import FeedMessage, feed_push
from routing.services.leader_events import (
    leader_event_ingest,
)
from routing.services.leader_fills import leader_fills_recover
from routing.services.leases import (
    LEASE_RENEW_EVERY,
    LEASE_TTL,
    default_worker_id,
)
from routing.services.order_results import (
    copy_orders_record,
    event_answers_record,
    feed_messages_number,
)
from routing.services.send_times import SendTimes

logger = logging.getLogger(__name__)

# Orders in flight at once per worker. An event's orders are all handed to
# the adapters at once: pacing them within a platform's rate limits is the
# adapter's job (it knows the limits; issue 12), and a small bound here
# made the 200th follower wait for the broker's answers to the first 168.
# The bound only caps a burst's memory and the database work of the
# per-order path (recovery, pending sends).
MAX_CONCURRENT_SENDS = 1024
POLL_SECONDS = 0.5
# Layer-2 passes (marks, halts, flatten on breach) at most this often.
RISK_WATCH_SECONDS = 1.0


class EngineWorker(
    LeaderStreamsMixin, RecoveryMixin, FaultsMixin, FlattenMixin, LoginsMixin, SendsMixin
):
    """Runs until ``stop`` is set; finishes the event in hand first.

    Acts only for the leaders whose lease it holds (``routing.runtime.leases``):
    ``worker_id`` names it in the lease rows (default ``<hostname>-<pid>``),
    ``lease_ttl`` is how long its leases outlive it if it dies.
    ``logins_source`` / ``logins_record`` / ``logins_version`` read the
    stored broker logins (decrypted), store their connection states and
    tell when they changed (:mod:`routing.runtime.logins`, ``stored_logins()``;
    ``None``: no real platform is served).
    """

    def __init__(
        self,
        registry: AdapterRegistry | None = None,
        *,
        poll_seconds: float = POLL_SECONDS,
        worker_id: str | None = None,
        lease_ttl: timedelta = LEASE_TTL,
        logins_source: Callable[[], Sequence[LoginConfig]] | None = None,
        logins_record: Callable[..., None] | None = None,
        logins_version: Callable[[], object] | None = None,
    ) -> None:
        self._registry = registry
        self._init_logins(logins_source, logins_record, logins_version)
        self._updates: list[asyncio.Task[None]] = []
        self._poll_seconds = poll_seconds
        self._leases = LeaseKeeper(
            worker_id=worker_id or default_worker_id(),
            ttl=lease_ttl,
            renew_every=min(LEASE_RENEW_EVERY, lease_ttl / 4),
            adapters=self._adapter_states,
        )
        self._sends = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._leader_streams: dict[int, asyncio.Task[None]] = {}
        self._replays: dict[int, asyncio.Task[None]] = {}
        self._gates: dict[int, SequenceGate[LeaderFill | LeaderOrder]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._risk_watched_at = float("-inf")
        # The final answers recorded here lately, to skip their echoes.
        self._recorded = RecentAnswers()
        # Platforms whose disconnect was already reported as an incident; cleared
        # when the adapter is back, so each disconnect is reported once.
        self._down: set[str] = set()
        # Leader events not applied whose journal entry (or incident, when
        # ``failed``) could not be written yet (the database was down too),
        # written on a later pass, never forgotten.
        self._drops: list[Unapplied] = []
        self._drops_lock = asyncio.Lock()
        self._passed = False  # one main loop pass completed
        self._heap = HeapSettler(time.monotonic)
        # A database error may have left broker answers unrecorded (orders
        # still SENT): the next pass recovers them, as after a restart.
        self._recover_due = False

    def _start_updates(self, adapter: BrokerAdapter) -> None:
        """Consume ``adapter``'s order updates (one task per adapter, for the
        worker's life)."""
        self._updates.append(
            asyncio.create_task(
                self._consume_order_updates(adapter), name=f"updates-{adapter.platform}"
            )
        )

    @property
    def registry(self) -> AdapterRegistry:
        if self._registry is None:
            raise RuntimeError("worker not started")
        return self._registry

    @property
    def owned_leaders(self) -> frozenset[int] | None:
        """Leaders this worker acts for (``None``: every leader, one worker)."""
        return self._leases.owned

    @property
    def worker_id(self) -> str:
        return self._leases.worker_id

    def _adapter_states(self) -> dict[str, bool]:
        """Platform -> adapter connected, sent with every heartbeat."""
        if self._registry is None:
            return {}
        return {a.platform: a.connected for a in self._registry.adapters()}

    async def beat(self) -> None:
        """Record now that this worker is alive (its leases and adapters' state)."""
        await self._leases.beat()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set. A pass of the main loop that fails (the
        database unavailable, an unexpected error) is retried with backoff;
        one account's or adapter's failure is handled where it happens, so
        the other routes keep copying meanwhile."""
        while self._registry is None:
            try:
                self._registry = await database_sync_to_async(build_registry)()
            except DB_ERRORS as exc:
                logger.warning("database unavailable building the adapters: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=DB_RETRY_FIRST_DELAY)
                if stop.is_set():
                    return
        await self.registry.connect_all()
        # Listen to order updates before recovering, so nothing that changes
        # during recovery is missed.
        for adapter in self.registry.adapters():
            self._start_updates(adapter)
        renewing = asyncio.create_task(self._leases.keep_renewed(), name="leases")
        try:
            failures = 0
            while not stop.is_set():
                wait = self._poll_seconds
                try:
                    await self._pass()
                    failures = 0
                except DB_ERRORS as exc:
                    self._recover_due = True
                    failures += 1
                    wait = backoff(failures)
                    logger.warning(
                        "database unavailable (%s); engine pass %d retried in %.2f s",
                        exc,
                        failures,
                        wait,
                    )
                except Exception:
                    # Not one account's failure (those are handled where they
                    # happen): the leader streams keep copying meanwhile.
                    failures += 1
                    wait = backoff(failures)
                    logger.exception("engine pass failed; retried in %.2f s", wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            tasks = [
                *self._replays.values(),
                *self._leader_streams.values(),
                *self._updates,
                renewing,
            ]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if stop.is_set():
                # A clean stop hands the leaders over at once; a crash or a
                # cancel leaves them to expire (the next owner recovers either way).
                await self._leases.release()
            await self.registry.disconnect_all()

    async def _pass(self) -> None:
        """One round of the main loop; the first one takes the leaders and
        recovers them before anything else."""
        if not self._passed:
            await self._take_leaders()
        await self.journal_drops()
        await database_sync_to_async(self.registry.venues_refresh)()
        if self._recover_due:
            await self._recover_after_db_error()
        await self._check_connections()
        await self.refresh_logins()
        await self.watch_logins()
        await self.flatten_requests()
        await self.position_closes()
        await self._watch_risk_every(RISK_WATCH_SECONDS)
        await self._take_leaders()
        await self._start_leader_streams()
        await self._claim_replay_jobs()
        await self.send_pending(leader_ids=self._leases.owned)
        await self.expire_held_events()
        # Between events: what is alive is frozen, so the collector's own full
        # passes stay short (the first settle comes once start-up is done).
        self._heap.maybe_settle()
        self._passed = True

    async def _take_leaders(self) -> None:
        """Acquire free leader leases (a dead worker's included), then recover
        and reconcile every leader acquired before its stream is consumed."""
        await self._leases.acquire()
        due = self._leases.unrecovered
        if due:
            await self.recover(leader_ids=due)
            await self.reconcile(leader_ids=due)
            self._leases.recovered(due)

    # -- layer 2 ------------------------------------------------------------------

    async def watch_risk(self, *, at: datetime | None = None) -> None:
        """Layer 2: mark open positions at the paper broker's prices, halt
        accounts that reached a loss limit or a lock, lock routes past their
        session loss, and flatten the halted accounts whose flatten on breach
        is on (:mod:`routing.runtime.risk_loop`). A session boundary crossed
        since the last pass resets the accounts here too."""
        due = await watch_risk(self.registry, at=at, leader_ids=self._leases.owned)
        for account_id, reason in due.items():
            try:
                outcome = await self.flatten_account(
                    account_id, reason=f"flatten on breach: {reason}", at=at
                )
            except ApplicationError as exc:
                logger.warning("flatten on breach of account %s: %s", account_id, exc)
                continue
            if not outcome.ok:
                logger.warning("flatten on breach of account %s incomplete", account_id)

    async def _watch_risk_every(self, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._risk_watched_at < seconds:
            return
        self._risk_watched_at = now
        try:
            await self.watch_risk()
        except Exception:
            # Layer 1 still checks every entry against live PnL; a failed pass
            # is logged loudly and retried on the next poll.
            logger.exception("risk watch pass failed")

    # -- leader events ------------------------------------------------------------

    async def handle_leader_fill(self, account_id: int, fill: LeaderFill, source: str) -> list[int]:
        """:meth:`_leader_fill_copied` (returns the ids of the orders sent),
        then, with the event's objects garbage, a young pass of the
        collector when due (:meth:`routing.runtime.heap.HeapSettler.after_event`),
        so the next event is not paused by what this one left."""
        order_ids = await self._leader_fill_copied(account_id, fill, source)
        self._heap.after_event()
        return order_ids

    async def _leader_fill_copied(
        self, account_id: int, fill: LeaderFill, source: str
    ) -> list[int]:
        """Ingest one leader fill, then hand its copy orders to the brokers
        concurrently and record their answers in one batch.

        The ingest is one transaction that stores the orders SENT with their
        requests; no database call is made per order. The event's live-feed
        message (one per user, every order with its answer) goes out after
        the answers are recorded, off the path to the brokers. When each
        order was handed to its adapter and answered is stamped around the
        call and stored in the same batch (measured latency). Returns the
        ids of the orders sent.
        """
        # The copies' measured latency starts here, before any wait for the lock.
        received_at = timezone.now()
        # The leader's fill is a print on its routes' venue only (defect 2).
        venue = self.registry.route_venue(account_id)
        self.registry.paper.mark(fill.symbol, fill.price, fill.time, venue=venue)
        result = await self._store(
            fill.event_id,
            leader_event_ingest,
            account=account_id,
            fill=fill,
            source=source,
            claimed=True,
            fence=self._leases.fence(account_id),
            unreachable=self.registry.unreachable,
            entries_held=self.registry.entries_held,
            received_at=received_at,
        )
        order_ids = list(result.requests)
        if venue:
            # A follower added since the last pass sees its route's prices at once.
            for platform, request in result.requests.values():
                if platform == BrokerAccount.Platform.PAPER:
                    self.registry.paper.assign_venue(request.account, venue)
        times = {order_id: SendTimes() for order_id in order_ids}
        answers = await self._place_all(
            [
                (platform, request, times[order_id])
                for order_id, (platform, request) in result.requests.items()
            ]
        )
        if result.created:
            messages = await self._record(
                # An answer still unknown leaves its order SENT for recovery.
                [(o, a) for o, a in zip(order_ids, answers, strict=True) if a is not None],
                result.feed_orders,
                {order.pk: order for order in result.orders},
                times,
                {} if result.leader_fill is None else {result.event.pk: result.leader_fill},
            )
            for feed in messages:
                await feed_push(feed)
        return order_ids

    async def _record(
        self,
        results: list[tuple[int, OrderResult]],
        feed: dict[int, list[CopyOrder]],
        known: dict[int, CopyOrder],
        times: dict[int, SendTimes],
        leader_fills: dict[int, FillInput],
    ) -> list[FeedMessage]:
        """Record one event's broker answers in one batch and number its feed
        messages; ``known`` holds the event's orders as its ingest stored
        them (not read again), ``times`` when each was handed over and
        answered, ``leader_fills`` the leader's own fill its ingest left
        pending (recorded in the same batch). When the batch fails, the
        answers are recorded one by one, so one bad answer cannot lose the
        others; one that still cannot be recorded leaves its order SENT, and
        recovery queries the broker. A leader fill that still cannot be
        recorded stays pending: the leader's next event records it first."""
        try:
            messages = await self._db(
                event_answers_record,
                results=results,
                feed=feed,
                known=known,
                times=times,
                leader_fills=leader_fills,
            )
        except Exception:
            logger.exception("recording %d broker answers failed; one by one", len(results))
            record = functools.partial(copy_orders_record, times=times)
            for order_id, answer in results:
                await self._record_one(record, answer, order_id=order_id)
            if leader_fills:
                try:
                    await self._db(
                        leader_fills_recover,
                        leader_ids=sorted({fill.account_id for fill in leader_fills.values()}),
                    )
                except Exception:
                    # Still pending, so not lost: the next ingest settles it first.
                    logger.exception("recording the leader's fill failed; left pending")
            messages = await database_sync_to_async(feed_messages_number)(feed=feed)
        # Their echoes on the update stream then cost no database work.
        self._recorded.remember(answer for _, answer in results)
        return messages

    async def _recover_after_db_error(self) -> None:
        """Recover this worker's orders left SENT while the database was
        unavailable (an answer that could not be recorded), holding the
        leaders' locks so no event's own sends are in flight meanwhile."""
        # Cleared first: recovery sets it again for an order still in doubt.
        self._recover_due = False
        async with contextlib.AsyncExitStack() as held:
            for leader_id in sorted(self._locks):
                await held.enter_async_context(self._leader_lock(leader_id))
            await self.recover(leader_ids=self._leases.owned)

    # -- replay jobs ------------------------------------------------------------

    async def _claim_replay_jobs(self) -> None:
        # A replay feeds this process's paper exchange: only for owned leaders.
        claims = await database_sync_to_async(replay_jobs_claim)(
            self._leases.owned, runner=self.worker_id
        )
        for claim in claims:
            # A runner of this job still here lost its claim with this one: it stops.
            self._replays[claim.job_id] = asyncio.create_task(
                replay_job_run(claim, self.registry.paper), name=f"replay-{claim.job_id}"
            )
