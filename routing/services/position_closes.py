"""Position closes as the engine worker carries them out: the pending ones of
the leaders it owns, and the record of each after the broker calls.

The dashboard half (the press, its refusals) is
:func:`routing.services.position_actions.position_close_request`; the
broker calls are ``FlattenMixin.position_closes`` in the worker, which holds
the leader's lock meanwhile so no copy decided from a leader event
interleaves with the close.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerAccount
from journal.models import EventType
from journal.services import journal_record
from routing.brokers.base import OrderResult
from routing.engine.risk import signed_money
from routing.models import CopyOrder, ExpectedPosition, PositionClose
from routing.services.feed import feed_publish_on_commit
from routing.services.flatten import FlattenTarget, flatten_closes_store
from routing.services.reconcile import reconcile_account


@dataclass(frozen=True, slots=True)
class CloseJob:
    """A pending position close for the worker: the account as a flatten
    target, the contract, the signed position the page showed, and who
    pressed it."""

    close_id: int
    target: FlattenTarget
    symbol: str
    seen_qty: int
    requested_by: str
    owner_id: int

    @property
    def reason(self) -> str:
        """What the journal and cancelled orders say the close was for."""
        return f"close of {self.symbol} by {self.requested_by}"


def position_closes_pending(*, leader_ids: Collection[int] | None = None) -> list[CloseJob]:
    """Every pending position close, oldest first; with ``leader_ids`` (an
    engine worker's leases) only those of groups these leaders lead, so with
    several workers each close is carried out by the leader's owner only."""
    rows = PositionClose.objects.filter(status=PositionClose.Status.PENDING).select_related(
        "account", "group"
    )
    if leader_ids is not None:
        rows = rows.filter(group__leader_id__in=list(leader_ids))
    return [
        CloseJob(
            close_id=row.pk,
            target=FlattenTarget(
                account_id=row.account_id,
                name=row.account.name,
                platform=row.account.platform,
                external_id=row.account.external_id,
                group_id=row.group_id,
                leader_id=row.group.leader_id,
            ),
            symbol=row.symbol,
            seen_qty=row.seen_qty,
            requested_by=row.requested_by,
            owner_id=row.owner_id,
        )
        for row in rows.order_by("pk")
    ]


def position_close_refusal(job: CloseJob, held: int) -> str | None:
    """Why the worker sends nothing for ``job`` when the broker holds ``held``
    signed contracts of its contract (``None``: close it). Only a position on
    the side the page showed is closed: a flat one has nothing to close, and
    a reversed one is not the position the user pressed Close on."""
    if held == 0:
        return "already flat at the broker; no order sent"
    if (held > 0) != (job.seen_qty > 0):
        return (
            f"the position is now {held:+d}, on the other side of the {job.seen_qty:+d} "
            "shown when Close was pressed; no order sent"
        )
    return None


@transaction.atomic
def position_close_record(
    *,
    job: CloseJob,
    closes: Sequence[OrderResult],
    actual: Mapping[str, int] | None,
    cancelled: int,
    problems: Sequence[str],
    refused: str | None,
    at: datetime | None = None,
) -> PositionClose | None:
    """Record one position close after the broker calls; ``None`` (nothing
    written) when the close is no longer pending.

    ``closes`` are the adapter's ``flatten`` results for the contract (their
    fills are journaled, so positions and PnL follow); ``actual`` the
    broker's positions afterwards (contract -> signed contracts; ``None``:
    unreadable); ``cancelled`` the open copy orders cancelled; ``problems``
    what already went wrong; ``refused`` why nothing was sent
    (:func:`position_close_refusal`), else ``None``. The close ends REFUSED
    when refused, DONE when the contract is flat at the broker with no order
    open, else FAILED naming why. When flat with no order open the expected
    position goes to 0 (untracked too): copying stops expecting it. Journals
    ``POSITION_CLOSED`` with the user as actor, reconciles the account and
    tells the user's pages.
    """
    at = at or timezone.now()
    row = (
        PositionClose.objects.select_for_update()
        .filter(pk=job.close_id, status=PositionClose.Status.PENDING)
        .first()
    )
    if row is None:
        return None
    account = BrokerAccount.objects.get(pk=job.target.account_id)
    symbol = job.symbol
    problems = list(problems)
    filled, realized = flatten_closes_store(account_id=account.pk, closes=closes, problems=problems)
    busy = CopyOrder.objects.filter(
        account=account, symbol=symbol, status__in=CopyOrder.OPEN_STATUSES
    ).exists()
    still = None if actual is None else actual.get(symbol, 0)
    if refused is None:
        if busy:
            problems.append(f"a copy order in {symbol} is still open")
        if still is None:
            problems.append("positions at the broker could not be read afterwards")
        elif still:
            problems.append(f"still holds {still:+d} {symbol}")
    if still == 0 and not busy:
        ExpectedPosition.objects.filter(account=account, symbol=symbol).exclude(
            qty=0, untracked=0
        ).update(qty=0, untracked=0, updated_at=timezone.now())
    done = f"closed {'; '.join(filled)} (realized {signed_money(realized)})" if filled else ""
    if cancelled:
        done += f"{'; ' if done else ''}{cancelled} open order{'s' if cancelled != 1 else ''} "
        done += "cancelled"
    if refused is not None:
        row.status = PositionClose.Status.REFUSED
        row.detail = f"{account.name}: close of {symbol} refused: {refused}"
    elif problems:
        row.status = PositionClose.Status.FAILED
        row.detail = f"{account.name}: {symbol} NOT closed: {'; '.join(problems)}"
        if done:
            row.detail += f"; {done}"
    else:
        row.status = PositionClose.Status.DONE
        row.detail = f"{account.name}: {symbol} flat, {done or 'nothing to close'}"
    row.finished_at = at
    row.save(update_fields=["status", "detail", "finished_at", "updated_at"])
    journal_record(
        owner_id=job.owner_id,
        event_type=EventType.POSITION_CLOSED,
        group_id=job.target.group_id,
        account_id=account.pk,
        actor_label=job.requested_by,
        actor_user_id=job.owner_id,
        occurred_at=at,
        message=row.detail,
        before={"position": job.seen_qty},
        after={"positions": dict(actual) if actual is not None else None},
        extra_data={
            "position_close": row.pk,
            "status": row.status,
            "symbol": symbol,
            "closes": filled,
            "cancelled": cancelled,
            "realized_pnl": realized,
            "problems": problems,
        },
    )
    if actual is not None:
        reconcile_account(account=account, actual=actual, at=at)
    # The close is not a copy order: tell the group page its positions moved.
    feed_publish_on_commit(
        user_id=job.owner_id,
        kind="positions",
        data={"group": job.target.group_id, "account": account.pk, "reason": job.reason},
    )
    return row
