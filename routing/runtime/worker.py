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
import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async

from accounts.models import BrokerAccount
from copytrade.core.errors import ApplicationError
from routing.brokers.base import BrokerAdapter, OrderRequest, OrderResult
from routing.brokers.errors import BrokerError, BrokerTemporaryError
from routing.engine.sequencing import GateResult, SequenceGate
from routing.engine.types import LeaderFill, LeaderOrder
from routing.runtime.adapters import AdapterRegistry, build_registry
from routing.runtime.faults import (
    DB_ERRORS,
    DB_RETRY_FIRST_DELAY,
    EVENT_TRIES,
    SEND_RETRIES,
    FaultsMixin,
    LeaderEventNotStoredError,
    Unapplied,
    backoff,
)
from routing.runtime.flattening import FlattenMixin
from routing.runtime.leases import LeaseKeeper
from routing.runtime.replay_jobs import replay_job_run, replay_jobs_claim
from routing.runtime.risk_loop import watch_risk
from routing.services.feed import FeedMessage, feed_push
from routing.services.incidents import (
    incidents_adapter_disconnect,
)
from routing.services.leader_events import (
    leader_event_ingest,
    leader_last_seq,
)
from routing.services.leases import (
    LEASE_RENEW_EVERY,
    LEASE_TTL,
    LeaseLostError,
    default_worker_id,
)
from routing.services.mirrors import leader_order_apply
from routing.services.order_results import (
    copy_orders_record,
    event_answers_record,
    feed_messages_number,
)
from routing.services.orders import (
    copy_order_broker_ref,
    copy_order_claim,
    copy_order_record_result,
    copy_order_reprice,
    copy_order_request,
    copy_order_updates,
    copy_orders_in_doubt,
    copy_orders_pending,
)
from routing.services.reconcile import reconcile_account

logger = logging.getLogger(__name__)

# Per-order sends in flight at once; the brokers' own rate limits come later.
MAX_CONCURRENT_SENDS = 32
# Broker updates recorded per transaction at most.
MAX_RESULT_BATCH = 500
# Final answers remembered to skip their echo on the update stream.
RECORDED_MEMORY = 100_000
POLL_SECONDS = 0.5
# Layer-2 passes (marks, halts, flatten on breach) at most this often.
RISK_WATCH_SECONDS = 1.0


class EngineWorker(FaultsMixin, FlattenMixin):
    """Runs until ``stop`` is set; finishes the event in hand first.

    Acts only for the leaders whose lease it holds (``routing.runtime.leases``):
    ``worker_id`` names it in the lease rows (default ``<hostname>-<pid>``),
    ``lease_ttl`` is how long its leases outlive it if it dies.
    """

    def __init__(
        self,
        registry: AdapterRegistry | None = None,
        *,
        poll_seconds: float = POLL_SECONDS,
        worker_id: str | None = None,
        lease_ttl: timedelta = LEASE_TTL,
    ) -> None:
        self._registry = registry
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
        # client order id -> (status, fill ids) of final answers recorded here.
        self._recorded: dict[str, tuple[str, frozenset[str]]] = {}
        # Platforms whose disconnect was already reported as an incident; cleared
        # when the adapter is back, so each disconnect is reported once.
        self._down: set[str] = set()
        # Leader events not applied whose journal entry (or incident, when
        # ``failed``) could not be written yet (the database was down too),
        # written on a later pass, never forgotten.
        self._drops: list[Unapplied] = []
        self._drops_lock = asyncio.Lock()
        self._passed = False  # one main loop pass completed
        # A database error may have left broker answers unrecorded (orders
        # still SENT): the next pass recovers them, as after a restart.
        self._recover_due = False

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
        updates = [
            asyncio.create_task(self._consume_order_updates(a), name=f"updates-{a.platform}")
            for a in self.registry.adapters()
        ]
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
                *updates,
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
        await self.flatten_requests()
        await self._watch_risk_every(RISK_WATCH_SECONDS)
        await self._take_leaders()
        await self._start_leader_streams()
        await self._claim_replay_jobs()
        await self.send_pending(leader_ids=self._leases.owned)
        await self.expire_held_events()
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

    # -- recovery -------------------------------------------------------------

    async def recover(self, *, leader_ids: Collection[int] | None = None) -> None:
        """Finish what a previous run left: orders SENT with an unknown outcome
        are *queried* at the broker by client order id and resent (same id,
        which the broker de-duplicates) only when it never saw them; orders
        left PENDING (a fan-out cut short) are sent. Only the orders of the
        groups led by ``leader_ids`` when given (this worker's leases)."""
        in_doubt = await database_sync_to_async(copy_orders_in_doubt)(leader_ids=leader_ids)
        for order_id in in_doubt:
            claimed = await database_sync_to_async(copy_order_request)(order_id=order_id)
            request = claimed.request
            try:
                adapter = self.registry.for_platform(claimed.platform)
            except BrokerError as exc:
                # No adapter serves the account here, so its outcome cannot be
                # asked: the order ends rejected with the reason (journaled, an
                # incident on its route only) and the other orders go on.
                result = OrderResult.rejected(
                    request.client_order_id,
                    f"{exc}; the order's outcome cannot be queried: check it at the broker",
                )
            else:
                try:
                    result = await adapter.query_order(request.account, request.client_order_id)
                except BrokerTemporaryError:
                    logger.warning("order %s: broker unreachable, left in doubt", order_id)
                    continue
                except BrokerError as exc:
                    logger.warning("order %s: query refused (%s), left in doubt", order_id, exc)
                    continue
                if result is None:
                    result = await self._place(claimed.platform, request)
            await self._db(copy_order_record_result, order_id=order_id, result=result)
        await self.send_pending(leader_ids=leader_ids)

    async def _consume_order_updates(self, adapter: BrokerAdapter) -> None:
        """Record every order change the broker reports (working orders that
        fill later, orders that finish after a restart), in batches: the
        stream is read into a queue and whatever has arrived is recorded in
        one transaction."""
        queue: asyncio.Queue[OrderResult] = asyncio.Queue()
        recorder = asyncio.create_task(
            self._record_updates(queue), name=f"record-{adapter.platform}"
        )
        try:
            while True:
                try:
                    async for result in adapter.order_updates():
                        if not self._already_recorded(result):
                            queue.put_nowait(result)
                except BrokerTemporaryError:
                    pass
                await asyncio.sleep(self._poll_seconds)  # the stream ended: reconnecting
        finally:
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)

    async def _record_updates(self, queue: asyncio.Queue[OrderResult]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_RESULT_BATCH:
                batch.append(queue.get_nowait())
            try:
                # Broker facts: kept and retried while the database is down.
                await self._db(copy_order_updates, forever=True, results=batch)
            except Exception:
                # One bad update must not lose the others of its batch.
                logger.exception(
                    "order update batch of %d failed; recording one by one", len(batch)
                )
                for result in batch:
                    await self._record_one(copy_order_updates, result)

    def _remember(self, results: list[OrderResult]) -> None:
        """Keep the final answers this worker recorded, so the same answer
        arriving again on the update stream costs no database work."""
        for result in results:
            if result.is_final:
                self._recorded[result.client_order_id] = _answer_key(result)
        while len(self._recorded) > RECORDED_MEMORY:
            del self._recorded[next(iter(self._recorded))]

    def _already_recorded(self, result: OrderResult) -> bool:
        return self._recorded.get(result.client_order_id) == _answer_key(result)

    async def send_pending(self, *, leader_ids: Collection[int] | None = None) -> None:
        """Send every order decided but not yet claimed (claims are conditional,
        so an order another task is sending is skipped); only those of the
        groups led by ``leader_ids`` when given."""
        order_ids = await database_sync_to_async(copy_orders_pending)(leader_ids=leader_ids)
        await asyncio.gather(*(self.send_order(order_id) for order_id in order_ids))

    async def reconcile(self, *, leader_ids: Collection[int] | None = None) -> None:
        """Compare every follower's broker positions with its expected ones
        (``routing.services.reconcile``); desyncs are journaled and shown.
        Only the followers of groups led by ``leader_ids`` when given."""
        followers = BrokerAccount.objects.filter(memberships__isnull=False)
        if leader_ids is not None:
            followers = followers.filter(memberships__group__leader_id__in=list(leader_ids))
        accounts = await database_sync_to_async(lambda: list(followers.distinct().order_by("pk")))()
        for account in accounts:
            try:
                # No adapter for the account's platform: its orders are
                # rejected with that reason when sent; the others reconcile.
                adapter = self.registry.for_platform(account.platform)
                snapshots = await adapter.positions(account.external_id)
            except BrokerError as exc:
                logger.warning("reconcile %s: %s", account.name, exc)
                continue
            actual = {p.symbol: p.qty for p in snapshots if p.qty}
            await database_sync_to_async(reconcile_account)(account=account, actual=actual)

    async def _check_connections(self) -> None:
        """Reconnect dropped adapters; after a reconnect, recover and reconcile.

        An adapter found down is an incident (route locked) for every group
        with its leader or a follower on that platform, recorded before the
        reconnect and once per disconnect, not once per poll while it stays down.
        """
        reconnected = False
        for adapter in self.registry.adapters():
            if adapter.connected:
                self._down.discard(adapter.platform)
                continue
            if adapter.platform not in self._down:
                await database_sync_to_async(incidents_adapter_disconnect)(
                    platform=adapter.platform, detail="found not connected; reconnecting"
                )
                self._down.add(adapter.platform)
            try:
                await adapter.connect()
            except BrokerError as exc:
                logger.warning("adapter %s still down: %s", adapter.platform, exc)
                continue
            self._down.discard(adapter.platform)
            reconnected = True
        if reconnected:
            await self.recover(leader_ids=self._leases.owned)
            await self.reconcile(leader_ids=self._leases.owned)

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
        """Ingest one leader fill, then hand its copy orders to the brokers
        concurrently and record their answers in one batch.

        The ingest is one transaction that stores the orders SENT with their
        requests; no database call is made per order. The event's live-feed
        message (one per user, every order with its answer) goes out after
        the answers are recorded, off the path to the brokers. Returns the
        ids of the orders sent.
        """
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
        )
        order_ids = list(result.requests)
        if venue:
            # A follower added since the last pass sees its route's prices at once.
            for platform, request in result.requests.values():
                if platform == BrokerAccount.Platform.PAPER:
                    self.registry.paper.assign_venue(request.account, venue)
        answers = await asyncio.gather(
            *(
                self._place_limited(platform, request)
                for platform, request in result.requests.values()
            )
        )
        if result.created:
            messages = await self._record(list(zip(order_ids, answers, strict=True)), result.feed)
            for feed in messages:
                await feed_push(feed)
        return order_ids

    async def _record(
        self, results: list[tuple[int, OrderResult]], feed: dict[int, list[dict[str, Any]]]
    ) -> list[FeedMessage]:
        """Record one event's broker answers in one batch and number its feed
        messages. When the batch fails, the answers are recorded one by one,
        so one bad answer cannot lose the others; one that still cannot be
        recorded leaves its order SENT, and recovery queries the broker."""
        try:
            messages = await self._db(event_answers_record, results=results, feed=feed)
        except Exception:
            logger.exception("recording %d broker answers failed; one by one", len(results))
            for order_id, answer in results:
                await self._record_one(copy_orders_record, answer, order_id=order_id)
            messages = await database_sync_to_async(feed_messages_number)(feed=feed)
        self._remember([answer for _, answer in results])
        return messages

    async def send_order(self, order_id: int) -> None:
        """Claim, place and record one order; broker errors become a recorded
        rejection, temporary ones are retried with backoff first."""
        async with self._sends:
            claimed = await database_sync_to_async(copy_order_claim)(order_id=order_id)
            if claimed is None:
                return
            result = await self._place(claimed.platform, claimed.request)
            await self._db(copy_order_record_result, order_id=order_id, result=result)

    async def _place_limited(self, platform: str, request: OrderRequest) -> OrderResult:
        async with self._sends:
            return await self._place(platform, request)

    async def _place(self, platform: str, request: OrderRequest) -> OrderResult:
        delay = 0.2
        for attempt in range(1, SEND_RETRIES + 1):
            try:
                adapter = self.registry.for_platform(platform)
                return await adapter.place_order(request)
            except BrokerTemporaryError as exc:
                if attempt == SEND_RETRIES:
                    return OrderResult.rejected(
                        request.client_order_id, f"broker unavailable after {attempt} tries: {exc}"
                    )
                await asyncio.sleep(delay)
                delay *= 2
            except BrokerError as exc:  # rejected or fatal: final, recorded as such
                return OrderResult.rejected(request.client_order_id, str(exc))
        raise AssertionError("unreachable")

    async def _start_leader_streams(self) -> None:
        """One stream consumer per paper leader account this worker owns (new
        groups included); the streams of leaders it lost are stopped."""
        owned = self._leases.owned
        if owned is not None:
            for account_id in [a for a in self._leader_streams if a not in owned]:
                self._leader_streams.pop(account_id).cancel()
                # A later owner resumes the sequence from the database.
                self._gates.pop(account_id, None)
        paper_leaders = BrokerAccount.objects.filter(
            led_groups__isnull=False, platform=BrokerAccount.Platform.PAPER
        )
        if owned is not None:
            paper_leaders = paper_leaders.filter(pk__in=owned)
        leaders = await database_sync_to_async(
            lambda: list(paper_leaders.distinct().values_list("pk", "external_id"))
        )()
        for account_id, external_id in leaders:
            task = self._leader_streams.get(account_id)
            if task is None or task.done():
                self._leader_streams[account_id] = asyncio.create_task(
                    self._consume_leader(account_id, external_id), name=f"leader-{account_id}"
                )

    async def _consume_leader(self, account_id: int, external_id: str) -> None:
        async for event in self.registry.paper.leader_events(external_id):
            try:
                await self.handle_leader_event(account_id, event, source="paper")
            except Exception:
                # The stream goes on with the next event; what was not stored
                # is journaled by handle_leader_event.
                logger.exception("leader event %s on account %s failed", event.event_id, account_id)

    async def handle_leader_event(
        self, account_id: int, event: LeaderFill | LeaderOrder, *, source: str
    ) -> None:
        """Apply one leader stream event in leader sequence.

        Numbered events pass a per-leader :class:`SequenceGate`: a gap holds
        later events until the missing one arrives or the hold times out
        (then it is skipped and journaled); duplicates and stale events are
        rejected and journaled, never applied twice. Unnumbered events apply
        in arrival order (the event id de-duplicates them).
        """
        async with self._leader_lock(account_id):
            try:
                gate = await self._gate(account_id)
            except DB_ERRORS as exc:
                await self._journal_drop(
                    account_id, event.event_id, f"dropped: database unavailable: {exc}"
                )
                return
            result = gate.offer(event, datetime.now(UTC))
            await self._apply_gate_result(account_id, result, source)

    async def expire_held_events(self) -> None:
        """Give up on sequence gaps held longer than the gate's timeout."""
        for account_id, gate in list(self._gates.items()):
            async with self._leader_lock(account_id):
                result = gate.expire(datetime.now(UTC))
                await self._apply_gate_result(account_id, result, "gate")

    async def _apply_gate_result(
        self, account_id: int, result: GateResult[LeaderFill | LeaderOrder], source: str
    ) -> None:
        for seq in result.skipped:
            await self._journal_drop(
                account_id,
                f"seq:{seq}",
                f"gap: seq {seq} never arrived within the hold time; skipped",
            )
        for rejection in result.rejected:
            await self._journal_drop(account_id, rejection.event.event_id, rejection.reason)
        for ready in result.ready:
            await self._apply(account_id, ready, source)

    async def _apply(self, account_id: int, event: LeaderFill | LeaderOrder, source: str) -> None:
        """Apply one leader event; one that fails is retried (``EVENT_TRIES``
        in all; temporary database errors were already retried inside), and
        one that still fails is an incident on the leader's routes (level 4,
        shown on the group page) with the error, never only logged. The
        leader's later events wait meanwhile, so none overtakes it."""
        error = ""
        for attempt in range(1, EVENT_TRIES + 1):
            try:
                if isinstance(event, LeaderFill):
                    await self.handle_leader_fill(account_id, event, source=source)
                else:
                    await self.handle_leader_order(account_id, event, source=source)
                return
            except LeaseLostError as exc:
                # Another worker holds the leader now and applies it there.
                await self._journal_drop(account_id, event.event_id, f"dropped: {exc}")
                return
            except LeaderEventNotStoredError as exc:
                error = str(exc)  # the database retries are spent already
                break
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                logger.exception(
                    "leader event %s on account %s failed (try %d of %d)",
                    event.event_id,
                    account_id,
                    attempt,
                    EVENT_TRIES,
                )
                if attempt < EVENT_TRIES:
                    await asyncio.sleep(backoff(attempt))
        logger.error(
            "leader event %s on account %s not applied: %s", event.event_id, account_id, error
        )
        self._drops.append(Unapplied(account_id, event.event_id, error, failed=True))
        await self.journal_drops()

    async def handle_leader_order(
        self, account_id: int, order: LeaderOrder, *, source: str
    ) -> None:
        """Mirror a leader working-order change: send new mirrors, modify or
        cancel the live ones (``routing.services.mirrors``)."""
        account = await self._store(order.event_id, BrokerAccount.objects.get, pk=account_id)
        actions = await self._store(
            order.event_id,
            leader_order_apply,
            account=account,
            order=order,
            source=source,
            fence=self._leases.fence(account_id),
        )
        await asyncio.gather(
            *(self._cancel(order_id) for order_id in actions.cancel),
            *(
                self._modify(order_id, actions.limit_price, actions.stop_price)
                for order_id in actions.modify
            ),
        )
        await asyncio.gather(*(self.send_order(order_id) for order_id in actions.send))

    async def _cancel(self, order_id: int) -> None:
        platform, account, coid = await database_sync_to_async(copy_order_broker_ref)(
            order_id=order_id
        )
        try:
            result = await self._with_retries(
                lambda: self.registry.for_platform(platform).cancel_order(account, coid)
            )
        except BrokerError as exc:
            # The leader's order is gone but the mirror may still work: shown.
            await self._not_applied(coid, "the cancel (mirroring the leader's)", str(exc))
            return
        if result is not None:
            await database_sync_to_async(copy_order_record_result)(order_id=order_id, result=result)

    async def _modify(
        self, order_id: int, limit_price: Decimal | None, stop_price: Decimal | None
    ) -> None:
        platform, account, coid = await database_sync_to_async(copy_order_broker_ref)(
            order_id=order_id
        )
        try:
            result = await self._with_retries(
                lambda: self.registry.for_platform(platform).modify_order(
                    account, coid, limit_price=limit_price, stop_price=stop_price
                )
            )
        except BrokerError as exc:
            prices = f"limit {limit_price}, stop {stop_price}"
            await self._not_applied(coid, f"the modify ({prices}) mirroring the leader's", str(exc))
            return
        if result is None:
            return
        if not result.reason:  # a refused modify comes back with its reason, unchanged
            await database_sync_to_async(copy_order_reprice)(
                order_id=order_id, limit_price=limit_price, stop_price=stop_price
            )
        await database_sync_to_async(copy_order_record_result)(order_id=order_id, result=result)

    async def _recover_after_db_error(self) -> None:
        """Recover this worker's orders left SENT while the database was
        unavailable (an answer that could not be recorded), holding the
        leaders' locks so no event's own sends are in flight meanwhile."""
        async with contextlib.AsyncExitStack() as held:
            for leader_id in sorted(self._locks):
                await held.enter_async_context(self._leader_lock(leader_id))
            await self.recover(leader_ids=self._leases.owned)
        self._recover_due = False

    def _leader_lock(self, account_id: int) -> asyncio.Lock:
        lock = self._locks.get(account_id)
        if lock is None:
            lock = self._locks[account_id] = asyncio.Lock()
        return lock

    async def _gate(self, account_id: int) -> SequenceGate[LeaderFill | LeaderOrder]:
        gate = self._gates.get(account_id)
        if gate is None:
            last = await self._db(leader_last_seq, account_id=account_id)
            gate = self._gates[account_id] = SequenceGate(next_seq=last + 1)
        return gate

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


def _answer_key(result: OrderResult) -> tuple[str, frozenset[str]]:
    return result.status.value, frozenset(f.fill_id for f in result.fills)
