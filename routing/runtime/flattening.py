"""Emergency flatten and flatten on breach, as the engine worker carries them out.

A mixin of :class:`routing.runtime.worker.EngineWorker`: it needs the
worker's adapter registry, its per-leader locks and its leases. Orders never
sent are cancelled first, then the live ones at the broker, then every
position is closed through the adapter's flatten, and the outcome (with the
broker's positions afterwards) is recorded by ``routing.services.flatten``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from django.utils import timezone

from routing.brokers.base import BrokerAdapter, OrderResult
from routing.brokers.errors import BrokerError
from routing.runtime.adapters import AdapterRegistry
from routing.services.flatten import (
    FlattenOutcome,
    FlattenTarget,
    account_session_flattened,
    flatten_account_record,
    flatten_finish,
    flatten_orders_open,
    flatten_orders_still_open,
    flatten_pending,
    flatten_target,
)
from routing.services.orders import (
    copy_order_broker_ref,
    copy_order_cancel_unsent,
    copy_order_record_result,
)
from routing.services.position_closes import (
    CloseJob,
    position_close_record,
    position_close_refusal,
    position_closes_pending,
)

logger = logging.getLogger(__name__)


class FlattenMixin:
    """Flatten requests and single accounts for the engine worker, which
    provides the adapter ``registry``, the leaders it acts for
    (``owned_leaders``) and its per-leader locks (``_leader_lock``)."""

    if TYPE_CHECKING:
        registry: AdapterRegistry
        owned_leaders: Collection[int] | None

        def _leader_lock(self, account_id: int) -> asyncio.Lock: ...

    async def flatten_requests(self) -> None:
        """Carry out every pending emergency flatten (``routing.services.flatten``).

        Per request, the leaders of its groups are held (their stream events
        wait) while the followers are flattened concurrently, so no copy
        decided from a leader event interleaves with the cancels and closes;
        what arrives afterwards sees the route locked and the followers flat
        (an exit has nothing left to close, an entry is refused).
        """
        for job in await database_sync_to_async(flatten_pending)(leader_ids=self.owned_leaders):
            async with contextlib.AsyncExitStack() as held:
                for leader_id in sorted({t.leader_id for t in job.targets}):
                    await held.enter_async_context(self._leader_lock(leader_id))
                outcomes = await asyncio.gather(
                    *(
                        self._flatten_guarded(t, reason=job.reason, actor_label=job.requested_by)
                        for t in job.targets
                    )
                )
            await database_sync_to_async(flatten_finish)(
                request_id=job.request_id, outcomes=outcomes
            )

    async def flatten_account(
        self,
        account_id: int,
        *,
        reason: str,
        actor_label: str = "risk",
        at: datetime | None = None,
    ) -> FlattenOutcome:
        """Flatten one follower account now (flatten on breach): cancel its
        open copy orders, close every position at market, record the closes,
        journal ``ACCOUNT_FLATTENED`` with ``reason`` and, when it ended flat,
        set ``flattened_at`` on the account's session holding aware ``at``
        (default now: the breach's session). Returns the outcome
        (``ok`` False with the problems in ``detail`` when it is not flat).

        Neither halts the account nor locks the route: the caller halts new
        entries first (``account_halt``). Takes no leader lock, so it may be
        called while handling that leader's event. Safe twice: a flat account
        gets no order. Raises ``ApplicationError`` when the account follows
        no group.
        """
        target = await database_sync_to_async(flatten_target)(account_id=account_id)
        outcome = await self._flatten_target(target, reason=reason, actor_label=actor_label)
        if outcome.ok:
            await database_sync_to_async(account_session_flattened)(
                account_id=account_id, at=at or timezone.now()
            )
        return outcome

    async def _flatten_guarded(
        self, target: FlattenTarget, *, reason: str, actor_label: str
    ) -> FlattenOutcome:
        try:
            return await self._flatten_target(target, reason=reason, actor_label=actor_label)
        except Exception as exc:
            # One account's unexpected failure must not leave the others
            # unflattened or the request pending forever (retried every poll):
            # it is logged and the request ends FAILED naming the account.
            logger.exception("flatten of account %s failed", target.account_id)
            return FlattenOutcome(
                account_id=target.account_id,
                name=target.name,
                ok=False,
                detail=f"{target.name} NOT flat ({reason}): internal error: {exc!r}",
            )

    async def _flatten_target(
        self, target: FlattenTarget, *, reason: str, actor_label: str
    ) -> FlattenOutcome:
        problems: list[str] = []
        closes: list[OrderResult] = []
        actual: dict[str, int] | None = None
        # Orders never sent are cancelled first, whatever the broker's state:
        # nothing decided before the flatten may reach the broker after it.
        opened = await database_sync_to_async(flatten_orders_open)(
            account_id=target.account_id, reason=reason
        )
        cancelled = opened.cancelled
        try:
            adapter = self.registry.for_platform(target.platform)
        except BrokerError as exc:
            problems.append(str(exc))
        else:
            cancelled += await self._cancel_live(adapter, opened.live, reason, problems)
            try:
                closes = await adapter.flatten(target.external_id)
            except BrokerError as exc:
                problems.append(f"flatten refused by the broker: {exc}")
            # The adapter's flatten cancels working orders too (any whose cancel
            # failed above): record them now, before expected positions are set,
            # so a late cancel cannot move an expected position after the flatten.
            for order_id in await database_sync_to_async(flatten_orders_still_open)(
                account_id=target.account_id
            ):
                await self._flatten_cancel(adapter, order_id, reason)
            actual = await self._held(adapter, target.external_id, problems, "")
        return await database_sync_to_async(flatten_account_record)(
            target=target,
            closes=closes,
            actual=actual,
            cancelled=cancelled,
            problems=problems,
            reason=reason,
            actor_label=actor_label,
        )

    async def position_closes(self) -> None:
        """Carry out every pending position close (*Close* on the group page,
        :mod:`routing.services.position_closes`) of the leaders this worker
        owns, one at a time, each holding its leader's lock like a flatten.

        Per close: the account's open copy orders in the contract are
        cancelled, the broker's position is read, and only a position on the
        side the page showed is closed, through the adapter's ``flatten`` for
        that contract (it only ever closes); then the outcome is recorded.
        One close's unexpected failure is recorded as FAILED, never retried
        blind (the user presses again on what the page then shows).
        """
        for job in await database_sync_to_async(position_closes_pending)(
            leader_ids=self.owned_leaders
        ):
            async with self._leader_lock(job.target.leader_id):
                try:
                    await self._close_position(job)
                except Exception as exc:
                    logger.exception("position close %s failed", job.close_id)
                    await database_sync_to_async(position_close_record)(
                        job=job,
                        closes=(),
                        actual=None,
                        cancelled=0,
                        problems=[f"internal error: {exc!r}"],
                        refused=None,
                    )

    async def _close_position(self, job: CloseJob) -> None:
        target, symbol = job.target, job.symbol
        problems: list[str] = []
        closes: list[OrderResult] = []
        actual: dict[str, int] | None = None
        refused: str | None = None
        # Nothing decided before the close may reach the broker after it.
        opened = await database_sync_to_async(flatten_orders_open)(
            account_id=target.account_id, reason=job.reason, symbol=symbol
        )
        cancelled = opened.cancelled
        try:
            adapter = self.registry.for_platform(target.platform)
        except BrokerError as exc:
            problems.append(str(exc))
        else:
            cancelled += await self._cancel_live(adapter, opened.live, job.reason, problems)
            actual = await self._held(adapter, target.external_id, problems, ", no order sent")
            if actual is not None:
                refused = position_close_refusal(job, actual.get(symbol, 0))
            if refused is None and actual is not None:
                try:
                    closes = await adapter.flatten(target.external_id, symbol)
                except BrokerError as exc:
                    problems.append(f"close refused by the broker: {exc}")
                for order_id in await database_sync_to_async(flatten_orders_still_open)(
                    account_id=target.account_id, symbol=symbol
                ):
                    await self._flatten_cancel(adapter, order_id, job.reason)
                actual = await self._held(adapter, target.external_id, problems, "")
        await database_sync_to_async(position_close_record)(
            job=job,
            closes=closes,
            actual=actual,
            cancelled=cancelled,
            problems=problems,
            refused=refused,
        )

    async def _cancel_live(
        self, adapter: BrokerAdapter, order_ids: Sequence[int], reason: str, problems: list[str]
    ) -> int:
        """Cancel the open copy orders ``order_ids`` at the broker (each
        recorded); returns how many were cancelled, appending what went
        wrong with the others to ``problems``."""
        cancelled = 0
        for order_id in order_ids:
            problem = await self._flatten_cancel(adapter, order_id, reason)
            if problem:
                problems.append(problem)
            else:
                cancelled += 1
        return cancelled

    async def _held(
        self, adapter: BrokerAdapter, account: str, problems: list[str], consequence: str
    ) -> dict[str, int] | None:
        """``account``'s open positions at the broker (contract -> signed
        contracts), or ``None`` with "positions unreadable{consequence}: …"
        appended to ``problems``."""
        try:
            snapshots = await adapter.positions(account)
        except BrokerError as exc:
            problems.append(f"positions unreadable{consequence}: {exc}")
            return None
        return {p.symbol: p.qty for p in snapshots if p.qty}

    async def _flatten_cancel(self, adapter: BrokerAdapter, order_id: int, reason: str) -> str:
        """Cancel one open copy order at the broker and record the answer;
        returns an empty string when done, else what went wrong. An order the
        broker never saw is cancelled in the database (a recovery must not
        send it later). On a final order the broker's answer is its final
        state, so this also settles orders something else cancelled."""
        _, account, coid = await database_sync_to_async(copy_order_broker_ref)(order_id=order_id)
        try:
            result = await adapter.cancel_order(account, coid)
        except BrokerError as exc:
            return f"cancel of {coid} failed: {exc}"
        if result is None:
            await database_sync_to_async(copy_order_cancel_unsent)(
                order_id=order_id, reason=f"never reached the broker; cancelled: {reason}"
            )
        else:
            await database_sync_to_async(copy_order_record_result)(order_id=order_id, result=result)
        return ""
