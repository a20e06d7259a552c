"""How the engine worker survives faults on the hot path (issue 10, defects 5 and 6).

A mixin of :class:`routing.runtime.worker.EngineWorker`. Temporary database
errors (a dropped connection, a restart, a failover, a deadlock) are retried
with backoff; a leader event is kept until stored, and one that cannot be
stored is journaled as dropped. Any other error on a leader event, a broker
answer, a cancel or a modify is tried again, and when it still fails it
becomes an incident on its route (level 4, listed on the group page,
journaled with the error): never only logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError

from accounts.models import BrokerAccount
from routing.brokers.base import OrderResult
from routing.brokers.errors import BrokerTemporaryError
from routing.services.incidents import (
    incident_order_not_applied,
    incidents_leader_event_not_applied,
)
from routing.services.leader_events import leader_event_reject

logger = logging.getLogger(__name__)

SEND_RETRIES = 3

# Temporary database errors: a dropped connection, a restart, a failover.
# ``database_sync_to_async`` runs ``close_old_connections()`` in its thread
# after every call, which closes a connection an error left unusable, so the
# next try connects afresh. A leader event's store is tried this many times,
# the delay doubling from the first up to the maximum (about 18 s in all);
# the main loop's pass is retried with the same backoff, without end.
DB_ERRORS = (OperationalError, InterfaceError)
DB_RETRIES = 8
DB_RETRY_FIRST_DELAY = 0.25
DB_RETRY_MAX_DELAY = 5.0


# A leader event or a broker answer that fails for another reason than the
# database being unavailable (a value too large for its column, a bug) is
# tried this many times in all before it is an incident.
EVENT_TRIES = 3


@dataclass(frozen=True, slots=True)
class Unapplied:
    """A leader event not applied: dropped (a duplicate, a gap, a lost lease:
    journaled) or ``failed`` (an incident on its routes)."""

    account_id: int
    event_id: str
    reason: str
    failed: bool = False


class LeaderEventNotStoredError(Exception):
    """A leader event could not be stored: the database stayed unavailable
    through every retry. The worker makes it an ``event_not_applied``
    incident on the leader's routes, with the reason."""


class FaultsMixin:
    """Retries, drops and incidents for the engine worker, which sets
    ``_drops`` (a list), ``_drops_lock`` (an ``asyncio.Lock``) and
    ``_recover_due`` (a bool) in its constructor."""

    _drops: list[Unapplied]
    _drops_lock: asyncio.Lock
    _recover_due: bool

    async def _record_one(
        self,
        record: Callable[..., object],
        result: OrderResult,
        *,
        order_id: int | None = None,
    ) -> None:
        """Record one broker answer alone (``record`` is ``copy_order_updates``,
        or ``copy_orders_record`` with ``order_id``), tried ``EVENT_TRIES``
        times; one that still fails is an incident on its order's route with
        the error (:meth:`_not_applied`)."""
        for attempt in range(1, EVENT_TRIES + 1):
            try:
                if order_id is None:
                    await self._db(record, results=[result])
                else:
                    await self._db(record, results=[(order_id, result)])
                return
            except Exception as exc:
                logger.exception(
                    "broker answer for %s not recorded (try %d of %d)",
                    result.client_order_id,
                    attempt,
                    EVENT_TRIES,
                )
                error = f"{type(exc).__name__}: {exc}"
                if attempt < EVENT_TRIES:
                    await asyncio.sleep(backoff(attempt))
        what = f"the broker's answer ({result.status.value}, {result.filled_qty} filled)"
        await self._not_applied(result.client_order_id, what, error)

    async def _not_applied(self, client_order_id: str, what: str, error: str) -> None:
        """Make ``what`` that failed on order ``client_order_id`` an incident
        on its route (level 4, shown on the group page, journaled)."""
        try:
            await self._db(
                incident_order_not_applied,
                client_order_id=client_order_id,
                what=what,
                error=error,
            )
        except Exception:
            # The database itself is gone after every retry: nothing else
            # can record it; recovery queries the order when it is back.
            logger.exception("incident for order %s not recorded: %s", client_order_id, what)

    async def _with_retries[T](self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, retrying ``BrokerTemporaryError`` with backoff
        (``SEND_RETRIES`` tries in all); the last error, or any other
        ``BrokerError``, is raised."""
        for attempt in range(1, SEND_RETRIES + 1):
            try:
                return await call()
            except BrokerTemporaryError:
                if attempt == SEND_RETRIES:
                    raise
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _db[T](self, fn: Callable[..., T], /, *, forever: bool = False, **kwargs: Any) -> T:
        """``fn(**kwargs)`` in the database thread; temporary database errors
        are retried with backoff, ``DB_RETRIES`` tries in all (without end
        when ``forever``), then the last one is raised. Only for calls that
        are safe to repeat (one transaction, idempotent)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await database_sync_to_async(fn)(**kwargs)
            except DB_ERRORS as exc:
                self._recover_due = True
                if attempt >= DB_RETRIES and not forever:
                    raise
                delay = backoff(attempt)
                logger.warning(
                    "database unavailable in %s (try %d): %s; retried in %.2f s",
                    getattr(fn, "__name__", fn),
                    attempt,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _store[T](self, event_id: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Store a leader event's decisions with :meth:`_db`; the event is kept
        (the leader's next events wait behind it) until stored or the retries
        are spent: then ``LeaderEventNotStoredError`` with the reason."""
        try:
            return await self._db(fn, **kwargs)
        except DB_ERRORS as exc:
            raise LeaderEventNotStoredError(
                f"leader event {event_id} not stored: database unavailable "
                f"after {DB_RETRIES} tries: {exc}"
            ) from exc

    @property
    def unjournaled_drops(self) -> int:
        """Dropped leader events whose journal entry is still to be written."""
        return len(self._drops)

    async def _journal_drop(self, account_id: int, event_id: str, reason: str) -> None:
        """Journal a leader event that was not applied, with the reason; kept
        in memory and journaled on a later pass when the database is down."""
        self._drops.append(Unapplied(account_id, event_id, reason))
        await self.journal_drops()

    async def journal_drops(self) -> None:
        """Journal the dropped leader events still owed, oldest first; stops at
        the first temporary database error (the rest wait for the next pass)."""
        async with self._drops_lock:
            while self._drops:
                drop = self._drops[0]
                try:
                    if drop.failed:
                        await database_sync_to_async(incidents_leader_event_not_applied)(
                            leader_id=drop.account_id, event_id=drop.event_id, error=drop.reason
                        )
                    else:
                        await database_sync_to_async(leader_event_reject)(
                            account_id=drop.account_id, event_id=drop.event_id, reason=drop.reason
                        )
                except DB_ERRORS as exc:
                    logger.warning(
                        "journal of dropped leader event %s deferred (database unavailable: %s)",
                        drop.event_id,
                        exc,
                    )
                    return
                except BrokerAccount.DoesNotExist:
                    logger.error(
                        "leader event %s of deleted account %s not journaled: %s",
                        drop.event_id,
                        drop.account_id,
                        drop.reason,
                    )
                self._drops.pop(0)


def backoff(attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: doubling, capped."""
    return float(min(DB_RETRY_FIRST_DELAY * 2 ** (attempt - 1), DB_RETRY_MAX_DELAY))
