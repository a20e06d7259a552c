"""Symbol quarantines: a follower that rejected an entry stops taking entries there.

Started when the broker rejects an entry (or the entry part of a reversal)
and the group has quarantine on; released by the user or at the next CME
session (17:00 America/Chicago), journaled either way. Exits still pass, so
a quarantined follower is never left holding a position its leader closed,
and later leader exits never open an opposite position there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from copytrade.core.bulk import bulk_insert
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from journal.models import EventType
from journal.services import JournalFields, journal_record, journal_row, journal_rows_add
from routing.engine.sessions import trading_date
from routing.models import CopyOrder, Follower, Quarantine
from routing.services.feed import feed_state_on_commit

# Why the session releases a quarantine of an earlier one (the journal says it).
_BY_SESSION = "a new session started"


def quarantines_active(followers: Sequence[Follower], *, at: datetime) -> dict[int, frozenset[str]]:
    """Active quarantined symbols per follower id at aware ``at``.

    Quarantines from an earlier trading date are released first (actor
    "session"), so a worker that missed the session boundary catches up here.
    """
    today = trading_date(at)
    active: dict[int, set[str]] = {}
    stale = []
    for pk, follower_id, symbol, day in _unreleased(*quarantines_active_ahead(followers)[1]):
        if day < today:
            stale.append(pk)
        else:
            active.setdefault(follower_id, set()).add(symbol)
    if stale:
        _releases_by_session(stale, at=at)
    return {k: frozenset(v) for k, v in active.items()}


def quarantines_active_ahead(followers: Sequence[Follower]) -> ReadAhead:
    """:func:`quarantines_active`'s read for the same followers, to run
    ahead (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_unreleased, ([f.id for f in followers],))


_unreleased = HotRead(
    "unreleased quarantines",
    Quarantine,
    lambda ids: Quarantine.objects.filter(
        follower_id__any_of=ids, released_at__isnull=True
    ).values_list("pk", "follower_id", "symbol", "trading_date"),
    ids_param,
    shape=ids_shape,
)


def _releases_by_session(pks: Sequence[int], *, at: datetime) -> None:
    """Release the quarantines ``pks`` (of earlier sessions) by the session,
    journaled, in three statements whatever their number: the first event
    of a session releases those of every follower it opens."""
    with transaction.atomic():
        # Locked in pk order and re-read: a concurrent release (the user's,
        # another pass's) is journaled once, by whoever released it.
        rows = list(
            Quarantine.objects.filter(pk__in=pks, released_at__isnull=True)
            .select_related("follower__group", "follower__account")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        Quarantine.objects.filter(pk__in=[q.pk for q in rows]).update(
            released_at=at, released_by="session", updated_at=timezone.now()
        )
        journal_rows_add(
            [
                journal_row(**_released(q, actor_label="session", at=at, why=_BY_SESSION))
                for q in rows
            ]
        )


def quarantines_start(
    starts: Sequence[tuple[CopyOrder, str]], *, at: datetime | None = None
) -> int:
    """Quarantine each ``(order, reason)``'s contract for the order's follower
    (a follower and contract already quarantined is left as it is; the first
    of several for one wins), journaled, in at most three statements: a
    rejection storm rejects every follower's entry in one batch of broker
    answers. Returns the quarantines started."""
    if not starts:
        return 0
    at = at or timezone.now()
    active = set(
        Quarantine.objects.filter(
            follower_id__any_of=sorted({order.follower_id for order, _ in starts}),
            released_at__isnull=True,
        ).values_list("follower_id", "symbol")
    )
    new: list[tuple[CopyOrder, str]] = []
    for order, reason in starts:
        if (order.follower_id, order.symbol) not in active:
            active.add((order.follower_id, order.symbol))
            new.append((order, reason))
    if not new:
        return 0
    pks = bulk_insert(
        Quarantine,
        {
            "follower": [order.follower_id for order, _ in new],
            "symbol": [order.symbol for order, _ in new],
            "reason": [reason for _, reason in new],
        },
        same={
            "trading_date": trading_date(at),
            "released_by": "",
            "created_at": at,
            "updated_at": at,
        },
    )
    journal_rows_add(
        [
            journal_row(**_started(order, reason, pk, at))
            for (order, reason), pk in zip(new, pks, strict=True)
        ]
    )
    return len(new)


def _started(order: CopyOrder, reason: str, quarantine_id: int, at: datetime) -> JournalFields:
    """The journal entry of a quarantine started for ``order``."""
    return {
        "owner_id": order.group.owner_id,
        "event_type": EventType.QUARANTINE_STARTED,
        "group_id": order.group_id,
        "account_id": order.account_id,
        "actor_label": "engine",
        "occurred_at": at,
        "message": (
            f"{order.account.name}: {order.symbol} quarantined, entries paused until released "
            f"or the next session: {reason}"
        ),
        "extra_data": {"client_order_id": order.client_order_id, "quarantine": quarantine_id},
    }


@transaction.atomic
def quarantine_release(
    *,
    quarantine: Quarantine,
    actor_label: str,
    actor_user_id: int | None = None,
    reason: str = "",
) -> bool:
    """Release an active quarantine by the user (or by staff in the admin,
    who give ``reason``, journaled as the why); False when already released.
    The caller checks that ``actor`` may (the owner's page, the admin's
    ``routing.change_quarantine`` permission)."""
    locked = (
        Quarantine.objects.select_for_update()
        .select_related("follower__group", "follower__account")
        .get(pk=quarantine.pk)
    )
    if locked.released_at is not None:
        return False
    _release(
        locked,
        actor_label=actor_label,
        at=timezone.now(),
        why=reason.strip() or "released by the user",
        actor_user_id=actor_user_id,
    )
    follower = locked.follower
    feed_state_on_commit(
        user_id=follower.group.owner_id, group_ids=[follower.group_id], reason="released"
    )
    return True


def _release(
    quarantine: Quarantine,
    *,
    actor_label: str,
    at: datetime,
    why: str,
    actor_user_id: int | None = None,
) -> None:
    quarantine.released_at = at
    quarantine.released_by = actor_label
    quarantine.save(update_fields=["released_at", "released_by", "updated_at"])
    journal_record(
        **_released(
            quarantine, actor_label=actor_label, at=at, why=why, actor_user_id=actor_user_id
        )
    )


def _released(
    quarantine: Quarantine,
    *,
    actor_label: str,
    at: datetime,
    why: str,
    actor_user_id: int | None = None,
) -> JournalFields:
    """The journal entry of ``quarantine`` released at ``at`` (``why``: the reason)."""
    follower = quarantine.follower
    return {
        "owner_id": follower.group.owner_id,
        "event_type": EventType.QUARANTINE_RELEASED,
        "group_id": follower.group_id,
        "account_id": follower.account_id,
        "actor_label": actor_label,
        "actor_user_id": actor_user_id,
        "occurred_at": at,
        "message": f"{follower.account.name}: {quarantine.symbol} quarantine released: {why}",
        "extra_data": {"quarantine": quarantine.pk},
    }
