"""Recovery and broker answers as the engine worker keeps them.

A mixin of :class:`routing.runtime.worker.EngineWorker`: after a start, a
take-over or a reconnect, orders left SENT are *queried* by client order id
(resent only when the broker never saw them) and orders left PENDING are
sent; follower positions are reconciled against the broker's; dropped
adapters are reconnected (an incident per disconnect); and every order
change the brokers report is recorded in batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from accounts.models import BrokerAccount
from routing.brokers.base import BrokerAdapter, OrderRequest, OrderResult
from routing.brokers.errors import BrokerError, BrokerTemporaryError
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.leases import LeaseKeeper
from routing.runtime.recent_answers import RecentAnswers
from routing.services.incidents import incidents_adapter_disconnect
from routing.services.leader_fills import leader_fills_recover
from routing.services.orders import (
    copy_order_record_result,
    copy_order_request,
    copy_order_updates,
    copy_orders_in_doubt,
    copy_orders_pending,
)
from routing.services.reconcile import reconcile_account

logger = logging.getLogger(__name__)

# Broker updates recorded per transaction at most.
MAX_RESULT_BATCH = 500


class RecoveryMixin:
    """Recovery, reconciliation, reconnection and the order update stream
    for the engine worker, which provides the adapter ``registry``, its
    leases, its poll interval, ``send_order`` / ``_place`` and the fault
    handling of :class:`~routing.runtime.faults.FaultsMixin`."""

    if TYPE_CHECKING:
        registry: AdapterRegistry
        _leases: LeaseKeeper
        _poll_seconds: float
        _recorded: RecentAnswers
        _down: set[str]
        _recover_due: bool

        async def send_order(self, order_id: int) -> None: ...
        async def _place(self, platform: str, request: OrderRequest) -> OrderResult | None: ...
        async def _db(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any: ...
        async def _record_one(
            self, record: Callable[..., object], result: OrderResult, *, order_id: int | None = None
        ) -> None: ...

    async def recover(self, *, leader_ids: Collection[int] | None = None) -> None:
        """Finish what a previous run left: orders SENT with an unknown outcome
        are *queried* at the broker by client order id and resent (same id,
        which the broker de-duplicates) only when it never saw them; orders
        left PENDING (a fan-out cut short) are sent; the leaders' own fills
        left pending (their events' answers never recorded) are recorded,
        so the leaders' positions are whole before any event is decided.
        Only the orders of the groups led by ``leader_ids`` when given (this
        worker's leases)."""
        await database_sync_to_async(leader_fills_recover)(
            None if leader_ids is None else sorted(leader_ids)
        )
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
                    self._recover_due = True  # asked again on the next pass
                    continue
                except BrokerError as exc:
                    logger.warning("order %s: query refused (%s), left in doubt", order_id, exc)
                    self._recover_due = True
                    continue
                if result is None:
                    result = await self._place(claimed.platform, request)
                if result is None:
                    continue  # still unknown: left SENT, asked again on the next pass
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
                        if not self._recorded.recorded(result):
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
