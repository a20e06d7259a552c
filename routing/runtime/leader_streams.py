"""Leader streams as the engine worker applies them, in sequence.

A mixin of :class:`routing.runtime.worker.EngineWorker`: one consumer task
per paper leader it owns; each event passes the leader's
:class:`~routing.engine.sequencing.SequenceGate` (gaps held, duplicates and
stale events journaled) under the leader's lock, then is applied — a fill
by the worker's ``handle_leader_fill``, a working-order change by mirroring
it (send, modify or cancel the followers' mirrors). An event that keeps
failing is an incident on its routes (:mod:`routing.runtime.faults`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from accounts.models import BrokerAccount
from routing.brokers.errors import BrokerError
from routing.engine.sequencing import GateResult, SequenceGate
from routing.engine.types import LeaderFill, LeaderOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.faults import (
    DB_ERRORS,
    EVENT_TRIES,
    LeaderEventNotStoredError,
    Unapplied,
    backoff,
)
from routing.runtime.leases import LeaseKeeper
from routing.services.leader_events import leader_last_seq
from routing.services.leases import LeaseLostError
from routing.services.mirrors import leader_order_apply
from routing.services.orders import (
    copy_order_broker_ref,
    copy_order_record_result,
    copy_order_reprice,
)

logger = logging.getLogger(__name__)


class LeaderStreamsMixin:
    """Leader stream consumption and event application for the engine
    worker, which provides the adapter ``registry``, its leases, the
    per-leader gates, locks and stream tasks, ``handle_leader_fill``,
    ``send_order`` and the fault handling of
    :class:`~routing.runtime.faults.FaultsMixin`."""

    if TYPE_CHECKING:
        registry: AdapterRegistry
        _leases: LeaseKeeper
        _leader_streams: dict[int, asyncio.Task[None]]
        _gates: dict[int, SequenceGate[LeaderFill | LeaderOrder]]
        _locks: dict[int, asyncio.Lock]
        _drops: list[Unapplied]

        async def handle_leader_fill(
            self, account_id: int, fill: LeaderFill, source: str
        ) -> list[int]: ...
        async def send_order(self, order_id: int) -> None: ...
        async def _db(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any: ...
        async def _store(self, event_id: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any: ...
        async def _journal_drop(self, account_id: int, event_id: str, reason: str) -> None: ...
        async def journal_drops(self) -> None: ...
        async def _with_retries(self, call: Callable[[], Awaitable[Any]]) -> Any: ...
        async def _not_applied(self, client_order_id: str, what: str, error: str) -> None: ...

    async def _start_leader_streams(self) -> None:
        """One stream consumer per leader account this worker owns whose
        platform has an adapter here (new groups included; a stream that
        ended, e.g. on a disconnect, is started again); the streams of
        leaders it lost are stopped."""
        owned = self._leases.owned
        if owned is not None:
            for account_id in [a for a in self._leader_streams if a not in owned]:
                self._leader_streams.pop(account_id).cancel()
                # A later owner resumes the sequence from the database.
                self._gates.pop(account_id, None)
        platforms = {adapter.platform for adapter in self.registry.adapters()}
        leaders_led = BrokerAccount.objects.filter(led_groups__isnull=False, platform__in=platforms)
        if owned is not None:
            leaders_led = leaders_led.filter(pk__in=owned)
        leaders = await database_sync_to_async(
            lambda: list(leaders_led.distinct().values_list("pk", "platform", "external_id"))
        )()
        for account_id, platform, external_id in leaders:
            task = self._leader_streams.get(account_id)
            if task is None or task.done():
                self._leader_streams[account_id] = asyncio.create_task(
                    self._consume_leader(account_id, platform, external_id),
                    name=f"leader-{account_id}",
                )

    async def _consume_leader(self, account_id: int, platform: str, external_id: str) -> None:
        adapter = self.registry.for_platform(platform)
        try:
            async for event in adapter.leader_events(external_id):
                try:
                    await self.handle_leader_event(account_id, event, source=platform)
                except Exception:
                    # The stream goes on with the next event; what was not
                    # stored is journaled by handle_leader_event.
                    logger.exception(
                        "leader event %s on account %s failed", event.event_id, account_id
                    )
        except BrokerError as exc:
            # The next pass starts the stream again (after the reconnect).
            logger.warning("leader stream of account %s ended: %s", account_id, exc)

    async def handle_leader_event(
        self, account_id: int, event: LeaderFill | LeaderOrder, *, source: str
    ) -> None:
        """Apply one leader stream event in leader sequence.

        Numbered events pass a per-leader :class:`SequenceGate`: a gap holds
        later events until the missing one arrives or the hold times out
        (then the missing event is an incident on the leader's routes: a
        leader fill never seen leaves the followers off their targets);
        duplicates and stale events are rejected and journaled, never
        applied twice. Unnumbered events apply in arrival order (the event
        id de-duplicates them).
        """
        async with self._leader_lock(account_id):
            try:
                gate = await self._gate(account_id)
            except DB_ERRORS as exc:
                await self._fail(
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
            await self._fail(
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
        await self._fail(account_id, event.event_id, error)

    async def _fail(self, account_id: int, event_id: str, error: str) -> None:
        """Leader event ``event_id`` could not be applied: an incident on the
        leader's routes with ``error`` (kept and written later when the
        database is down too)."""
        logger.error("leader event %s on account %s not applied: %s", event_id, account_id, error)
        self._drops.append(Unapplied(account_id, event_id, error, failed=True))
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
