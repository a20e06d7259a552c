"""Halts: new entries stopped on an account for the rest of its session.

Layer 2 (:mod:`routing.services.risk_watch`) halts an account when it
reaches a limit (daily loss, drawdown floor, the consistency rule or a
daily profit target; :mod:`routing.engine.watch` decides); the halt ends
with the session, when the next session's row starts without one
(:mod:`routing.services.account_sessions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import transaction

from accounts.models import BrokerAccount
from copytrade.core.bulk import bulk_set_columns
from journal.models import EventType
from journal.services import JournalRow, journal_row, journal_rows_add
from routing.models import AccountSession
from routing.services.account_sessions import SessionRow
from routing.services.feed import feed_state_on_commit


def account_halt(
    *,
    row: AccountSession,
    reason: str,
    at: datetime,
    group_id: int | None = None,
    code: str = "",
) -> bool:
    """Halt new entries on the account for the rest of the session, journaled
    with ``reason`` and its stable ``code`` (:class:`routing.engine.watch.ReasonCode`,
    empty when the caller has none); False (nothing written) when it is
    already halted. ``row`` (its account cached or read) takes the halt.
    One account's :func:`accounts_halt`."""
    halted = accounts_halt(
        [Halt(SessionRow.of(row), row.account, reason, code, group_id, flatten=False)], at=at
    )
    if row.pk not in halted:
        return False
    row.halted_at, row.halt_reason = at, reason
    return True


class Halt(NamedTuple):
    """One account to halt: its session ``row`` as read, its ``account``,
    the ``reason`` and its stable ``code`` (empty when there is none), the
    group it follows (for the journal; ``None``: none) and whether the halt
    makes a flatten of its positions due (``flatten``: a loss limit with
    flatten on breach on)."""

    row: SessionRow
    account: BrokerAccount
    reason: str
    code: str
    group_id: int | None
    flatten: bool


def accounts_halt(halts: Sequence[Halt], *, at: datetime) -> dict[int, SessionRow]:
    """Halt new entries on each account of ``halts`` for the rest of its
    session, at aware ``at``; returns session row id -> the row as stored
    for those halted now. An account already halted (by a concurrent pass:
    its row is read locked) is left as it is, unjournaled, and not in the
    result.

    Each halt is journaled with its reason and code, a flatten made due
    where ``flatten``, and each owner's pages told once, when the caller's
    transaction commits. A constant number of statements whatever the
    number of accounts: when the market moves hard, many followers reach
    their daily loss at one leader event, and that event's copies wait for
    the halts (at 200 followers, ten halts in one event cost 9 ms of the
    decisions and 5 ms of the commit when written one account at a time)."""
    if not halts:
        return {}
    # One transaction (a caller's, without a savepoint of its own: two round
    # trips fewer): the rows stay locked from their read to their journal.
    with transaction.atomic(savepoint=False):
        return _halted(halts, at)


def _halted(halts: Sequence[Halt], at: datetime) -> dict[int, SessionRow]:
    by_pk = {halt.row.pk: halt for halt in halts}
    # Locked in id order (two passes halting the same accounts wait for one
    # another, never deadlock): a concurrent halt is seen, not repeated.
    free = list(
        AccountSession.objects.select_for_update()
        .filter(pk__in=list(by_pk), halted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not free:
        return {}
    halting = [by_pk[pk] for pk in free]
    bulk_set_columns(
        AccountSession,
        free,
        {"halted_at": [at] * len(free), "halt_reason": [halt.reason for halt in halting]},
    )
    flatten = [halt.row.pk for halt in halting if halt.flatten]
    if flatten:
        AccountSession.objects.filter(pk__in=flatten).update(flatten_due=True)
    journal_rows_add([_halt_journal(halt, at) for halt in halting])
    groups: dict[int, list[int | None]] = {}
    for halt in halting:
        owner = groups.setdefault(halt.account.owner_id, [])
        if halt.group_id not in owner:
            owner.append(halt.group_id)
    for owner_id, group_ids in groups.items():
        # Layer 2 halts between leader events: the group page's eligibility moves now.
        feed_state_on_commit(user_id=owner_id, group_ids=group_ids, reason="halted")
    return {
        halt.row.pk: halt.row._replace(
            halted_at=at,
            halt_reason=halt.reason,
            flatten_due=halt.row.flatten_due or halt.flatten,
        )
        for halt in halting
    }


def _halt_journal(halt: Halt, at: datetime) -> JournalRow:
    account = halt.account
    return journal_row(
        owner_id=account.owner_id,
        event_type=EventType.ACCOUNT_HALTED,
        account_id=account.pk,
        group_id=halt.group_id,
        actor_label="risk",
        occurred_at=at,
        message=(
            f"{account.name}: new entries halted until the next session "
            f"(open positions stay open unless flatten on breach is on): {halt.reason}"
        ),
        extra_data={
            "trading_date": halt.row.trading_date.isoformat(),
            "reason": halt.reason,
            **({"code": halt.code} if halt.code else {}),
        },
    )
