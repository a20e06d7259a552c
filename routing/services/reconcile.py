"""Reconciliation: compare each follower's broker position with its expected one.

Runs on engine start and after an adapter reconnects (``routing.runtime.worker``).
For every contract, a follower is expected to hold its expected position
(``ExpectedPosition.qty``, what copying committed it to) plus what the user
untracked. Contracts with orders still in flight are skipped: their outcome
is not known yet, so a difference there is not a desync. A difference is
recorded as an open :class:`~routing.models.Desync`, journaled and shown on
the dashboard with two actions:

* *sync*: a SYNC copy order for the difference, sent by the engine worker;
* *untrack*: the difference becomes the user's own (``untracked``), left alone.

When broker and expectation agree again, an open desync is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.engine.copier import follower_intent
from routing.engine.orders import client_order_id
from routing.engine.types import Side
from routing.models import CopyOrder, Desync, ExpectedPosition, Follower
from routing.selectors import copy_order_payload
from routing.services.feed import feed_publish_on_commit


@transaction.atomic
def reconcile_account(
    *, account: BrokerAccount, actual: Mapping[str, int], at: datetime | None = None
) -> list[Desync]:
    """Compare ``actual`` (contract code -> signed contracts at the broker) with
    what copying expects of follower ``account``; return its open desyncs.

    Accounts that follow no group are not reconciled (``[]``).
    """
    at = at or timezone.now()
    follower = Follower.objects.filter(account=account).select_related("group").first()
    if follower is None:
        return []
    expected = {
        row.symbol: row.qty + row.untracked
        for row in ExpectedPosition.objects.filter(account=account)
    }
    busy = set(
        CopyOrder.objects.filter(account=account, status__in=CopyOrder.OPEN_STATUSES).values_list(
            "symbol", flat=True
        )
    )
    open_desyncs = {
        d.symbol: d
        for d in Desync.objects.select_for_update().filter(follower=follower, status="open")
    }
    for symbol in sorted(set(expected) | {s for s, q in actual.items() if q}):
        if symbol in busy:
            continue
        want, have = expected.get(symbol, 0), actual.get(symbol, 0)
        desync = open_desyncs.get(symbol)
        if want == have:
            if desync is not None:
                _close(desync, Desync.Status.RESOLVED, "engine", None, at, "positions agree again")
                del open_desyncs[symbol]
            continue
        if desync is not None:
            if (desync.expected, desync.actual) != (want, have):
                desync.expected, desync.actual = want, have
                desync.save(update_fields=["expected", "actual", "updated_at"])
            continue
        desync = Desync.objects.create(follower=follower, symbol=symbol, expected=want, actual=have)
        open_desyncs[symbol] = desync
        journal_record(
            owner_id=follower.group.owner_id,
            event_type=EventType.DESYNC_FOUND,
            group_id=follower.group_id,
            account_id=account.pk,
            actor_label="reconciliation",
            occurred_at=at,
            message=(
                f"{account.name}: {symbol} desync: broker holds {have:+d}, copying expects "
                f"{want:+d}"
            ),
            before={"expected": want},
            after={"actual": have},
            extra_data={"desync": desync.pk},
        )
        feed_publish_on_commit(
            user_id=follower.group.owner_id,
            kind="desync",
            data={"group": follower.group_id, "account": account.name, "symbol": symbol},
        )
    return list(open_desyncs.values())


@transaction.atomic
def desync_sync(*, desync: Desync, actor_label: str, actor_user_id: int | None = None) -> CopyOrder:
    """Queue the order that brings the follower to its expected position.

    The engine worker sends it (it polls for pending orders). Raises
    ``ApplicationError`` when the desync is no longer open.
    """
    locked = _open_locked(desync)
    follower = locked.follower
    diff = locked.expected - locked.actual
    side = Side.of_signed(diff)
    intent = follower_intent(locked.actual, locked.expected)
    order = CopyOrder.objects.create(
        kind=CopyOrder.Kind.SYNC,
        leader_event=None,
        group=follower.group,
        follower=follower,
        account=follower.account,
        client_order_id=client_order_id(
            str(follower.group_id), f"sync:{locked.pk}", str(follower.account_id)
        ),
        symbol=locked.symbol,
        side=side.value,
        qty=abs(diff),
        intent=intent.value,
        status=CopyOrder.Status.PENDING,
        reason=(
            f"sync by {actor_label}: broker {locked.actual:+d}, expected {locked.expected:+d}: "
            f"{side.value} {abs(diff)}"
        ),
        position_before=locked.actual,
        target=locked.expected,
    )
    _close(locked, Desync.Status.SYNCED, actor_label, actor_user_id, timezone.now(), order.reason)
    feed_publish_on_commit(
        user_id=follower.group.owner_id,
        kind="copy_orders",
        data={"group": follower.group_id, "orders": [copy_order_payload(order)]},
    )
    return order


@transaction.atomic
def desync_untrack(*, desync: Desync, actor_label: str, actor_user_id: int | None = None) -> None:
    """Leave the difference to the user: copying stops expecting it to close.

    Raises ``ApplicationError`` when the desync is no longer open.
    """
    locked = _open_locked(desync)
    row, _ = ExpectedPosition.objects.select_for_update().get_or_create(
        account_id=locked.follower.account_id, symbol=locked.symbol
    )
    row.untracked += locked.actual - locked.expected
    row.save(update_fields=["untracked", "updated_at"])
    _close(
        locked,
        Desync.Status.UNTRACKED,
        actor_label,
        actor_user_id,
        timezone.now(),
        f"{locked.actual - locked.expected:+d} contracts left to the user (untracked)",
    )


def _open_locked(desync: Desync) -> Desync:
    locked = (
        Desync.objects.select_for_update()
        .select_related("follower__group", "follower__account")
        .get(pk=desync.pk)
    )
    if locked.status != Desync.Status.OPEN:
        raise ApplicationError(f"this desync is already {locked.status}")
    return locked


_EVENT = {
    Desync.Status.RESOLVED: EventType.DESYNC_RESOLVED,
    Desync.Status.SYNCED: EventType.DESYNC_SYNCED,
    Desync.Status.UNTRACKED: EventType.DESYNC_UNTRACKED,
}


def _close(
    desync: Desync,
    status: Desync.Status,
    actor_label: str,
    actor_user_id: int | None,
    at: datetime,
    why: str,
) -> None:
    desync.status = status
    desync.resolved_at = at
    desync.resolved_by = actor_label
    desync.save(update_fields=["status", "resolved_at", "resolved_by", "updated_at"])
    follower = desync.follower
    journal_record(
        owner_id=follower.group.owner_id,
        event_type=_EVENT[status],
        group_id=follower.group_id,
        account_id=follower.account_id,
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        occurred_at=at,
        message=f"{follower.account.name}: {desync.symbol} desync {status}: {why}",
        before={"expected": desync.expected, "actual": desync.actual},
        extra_data={"desync": desync.pk},
    )
