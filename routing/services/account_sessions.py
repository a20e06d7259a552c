"""Per-account session state: the reset at the CME session start, the halts'
row (:mod:`routing.services.account_halts` writes them), and the figures
the risk checks need (equity, drawdown floor, session profit).

A session reset *is* the creation of the account's :class:`AccountSession`
row for a trading date: unique on ``(account, trading_date)``, so a reset
that is redelivered, doubled by two schedulers, or run late by a worker that
was down at the boundary applies once. The new row starts without a halt
(daily counters reset), carries the high-water marks over, and snapshots the
opening balance = the previous opening balance + the realized PnL of the
fills since that session opened. Quarantines of earlier sessions are
released in the same transaction. Sources: CME Globex hours (sessions open at
17:00 America/Chicago, :mod:`routing.engine.sessions`); drawdown kinds as
prop firms define them (:class:`routing.engine.limits.DrawdownMode`).

The arithmetic of the reset and of the session view is the engine's
(:func:`routing.engine.watch.session_open`, :func:`~routing.engine.watch.session_roll`,
:func:`~routing.engine.watch.engine_view`), shared with the replay and the
pre-session check; :mod:`routing.services.session_openings` reads the
figures and this module writes the rows, for many accounts at once in a
constant number of statements (:func:`account_sessions_open`: the first
leader event of a session opens every follower's when the roll is late).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import router, transaction
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.bulk import bulk_insert, bulk_set_columns
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from journal.models import EventType
from journal.services import (
    JournalFields,
    journal_row,
    journal_rows_add,
)
from routing.engine.limits import AccountSession as EngineSession
from routing.engine.limits import RiskLimits
from routing.engine.risk import money
from routing.engine.sessions import CHICAGO, session_start, trading_date
from routing.engine.watch import engine_view
from routing.models import AccountSession, Follower
from routing.selectors import session_realized_by_account
from routing.services.quarantines import quarantines_active
from routing.services.route_state import route_config_bump
from routing.services.session_openings import SessionOpening, session_openings, session_state_of


class SessionRow(NamedTuple):
    """One :class:`AccountSession` row's columns, in the model's field order,
    as values: the copy path reads every follower's row for each leader
    event and writes few (a model instance is made only to write a halt,
    :meth:`instance`). Money in dollars."""

    id: int
    created_at: datetime
    updated_at: datetime
    account_id: int
    trading_date: date
    opened_at: datetime
    opening_balance: Decimal
    opening_unrealized: Decimal
    high_water: Decimal
    eod_high_water: Decimal
    halted_at: datetime | None
    halt_reason: str
    flatten_due: bool
    flattened_at: datetime | None

    @property
    def pk(self) -> int:
        return self.id

    @classmethod
    def of(cls, row: AccountSession) -> SessionRow:
        """The values of a saved ``row``."""
        return cls._make(getattr(row, name) for name in cls._fields)

    def instance(self, account: BrokerAccount) -> AccountSession:
        """The row as a saved model instance (as a query loads it), with
        ``account`` (its account) cached."""
        row = AccountSession.from_db(router.db_for_read(AccountSession), None, list(self))
        AccountSession._meta.get_field("account").set_cached_value(row, account)
        return row


def session_rows(account_ids: Iterable[int], *, trading_date: date) -> dict[int, SessionRow]:
    """Account id -> its session row for ``trading_date``, for those of
    ``account_ids`` that have one (one statement, no lock)."""
    rows = _session_rows(list(account_ids), trading_date)
    return {row.account_id: row for row in map(SessionRow._make, rows)}


_session_rows = HotRead(
    "session rows",
    AccountSession,
    lambda ids, day: AccountSession.objects.filter(
        account_id__any_of=ids, trading_date=day
    ).values_list(*SessionRow._fields),
    lambda connection, ids, day: [
        *ids_param(connection, ids),
        connection.ops.adapt_datefield_value(day),
    ],
    shape=lambda connection, ids, day: ids_shape(connection, ids),
)


def account_session_current(*, account: BrokerAccount, at: datetime) -> AccountSession:
    """The account's session row for the trading date holding aware ``at``,
    created (the reset, journaled) when missing. Idempotent and race-safe:
    two callers creating it at once get the same row."""
    rows, _ = account_sessions_open([account], at=at)
    return rows[account.pk].instance(account)


def account_sessions_open(
    accounts: Sequence[BrokerAccount], *, at: datetime
) -> tuple[dict[int, SessionRow], set[int]]:
    """``(account id -> its session row for the trading date holding aware
    at, ids of the accounts this call reset)``: the rows that exist are
    read, each missing one is created (the reset, journaled) and its account's
    ``balance`` set to the opening balance, the instance in ``accounts`` too.

    A constant number of statements whatever the number of accounts (the
    first leader event of a session opens every follower's when the 17:00
    CT roll has not run, under the leader's lock). Race-safe: the rows are
    inserted in account order with ``ON CONFLICT DO NOTHING`` on the unique
    ``(account, trading_date)``, so of two openers at once each account is
    reset by one, and the other reads its row.
    """
    unique = _unique(accounts)
    current = session_rows([a.id for a in unique], trading_date=trading_date(at))
    missing = [a for a in unique if a.id not in current]
    if not missing:
        return current, set()
    with transaction.atomic():
        opened, reset = _sessions_insert(missing, at)
        current.update(opened)
    return current, reset


def account_sessions_open_ahead(accounts: Sequence[BrokerAccount], *, at: datetime) -> ReadAhead:
    """:func:`account_sessions_open`'s read for the same arguments, to run
    ahead (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_session_rows, ([a.id for a in _unique(accounts)], trading_date(at)))


def _unique(accounts: Sequence[BrokerAccount]) -> list[BrokerAccount]:
    # ``id``, not ``pk`` (a property): once per follower per leader event.
    return list({a.id: a for a in accounts}.values())


def _sessions_insert(
    accounts: Sequence[BrokerAccount], at: datetime
) -> tuple[dict[int, SessionRow], set[int]]:
    """Create the session rows of ``accounts`` (none had one at ``at``'s
    trading date when read); ``(their rows, ids of those this call created)``."""
    openings = session_openings([a.pk for a in accounts], at=at)
    day, opened = trading_date(at), session_start(at)
    ids = sorted(openings)  # one insert order for every opener: no deadlock between them
    states = [openings[pk].state for pk in ids]
    now = timezone.now()
    created = set(
        bulk_insert(
            AccountSession,
            {
                "account": ids,
                "opening_balance": [s.opening_balance for s in states],
                "opening_unrealized": [s.carried_in for s in states],
                "high_water": [s.high_water for s in states],
                "eod_high_water": [s.eod_high_water for s in states],
            },
            same={
                "trading_date": day,
                "opened_at": opened,
                "halt_reason": "",
                "flatten_due": False,
                "created_at": now,
                "updated_at": now,
            },
            ignore_conflicts=True,
        )
    )
    # Ours and, for the accounts a concurrent opener created first (its
    # insert committed, ours was skipped), its rows.
    rows = session_rows(ids, trading_date=day)
    # An account deleted since the caller read it has no row (and no opening).
    reset = [a for a in accounts if a.pk in rows and rows[a.pk].id in created]
    if not reset:
        return rows, set()
    opening = {a.pk: openings[a.pk].state.opening_balance for a in reset}
    moved = [pk for pk, balance in opening.items() if openings[pk].balance != balance]
    if moved:
        bulk_set_columns(BrokerAccount, moved, {"balance": [opening[pk] for pk in moved]})
        # The balance sizes percent-of-balance followers: cached routes reload.
        route_config_bump()
    for account in reset:
        account.balance = opening[account.pk]
    followers = list(
        Follower.objects.filter(account_id__any_of=[a.pk for a in reset])
        .select_related("group", "account")
        .order_by("pk")
    )
    quarantines_active(followers, at=at)  # releases those of earlier sessions, journaled
    group_of: dict[int, int] = {}
    for f in followers:
        group_of.setdefault(f.account_id, f.group_id)
    journal_rows_add(
        [journal_row(**_reset_entry(a, openings[a.pk], group_of.get(a.pk), at)) for a in reset]
    )
    return rows, {a.pk for a in reset}


def _reset_entry(
    account: BrokerAccount, opening: SessionOpening, group_id: int | None, at: datetime
) -> JournalFields:
    """The journal entry of ``account``'s reset into ``opening`` at ``at``
    (the figures as computed, not as stored: the text keeps their digits)."""
    state, opened = opening.state, session_start(at)
    day, high, eod_high = state.trading_date, state.high_water, state.eod_high_water
    carried = (
        f"realized {money(opening.realized)} since {opening.previous_date}"
        if opening.previous_date
        else "first session"
    )
    return {
        "owner_id": account.owner_id,
        "event_type": EventType.SESSION_RESET,
        "account_id": account.pk,
        "group_id": group_id,
        "actor_label": "session",
        "occurred_at": at,
        "message": (
            f"{account.name}: session {day} opened "
            f"{opened.astimezone(CHICAGO):%Y-%m-%d %H:%M %Z}: daily limits and halts reset, "
            f"opening balance {money(state.opening_balance)} ({carried}), high-water "
            f"{money(high)} intraday / {money(eod_high)} end of day"
        ),
        "after": {
            "trading_date": day.isoformat(),
            "opening_balance": str(state.opening_balance),
            "opening_unrealized": str(state.carried_in),
            "high_water": str(high),
            "eod_high_water": str(eod_high),
        },
    }


def account_session_preview(*, account: BrokerAccount, at: datetime) -> AccountSession:
    """The session row the reset would create for ``account`` at aware
    ``at``, unsaved: opening balance = the previous opening + the realized PnL
    of the fills since that session opened (the account's balance for its
    first session), the PnL open positions carry in, high-water marks carried
    over. Reads only."""
    state = session_openings([account.pk], at=at)[account.pk].state
    return AccountSession(
        account=account,
        trading_date=state.trading_date,
        opened_at=session_start(at),
        opening_balance=state.opening_balance,
        opening_unrealized=state.carried_in,
        high_water=state.high_water,
        eod_high_water=state.eod_high_water,
    )


def account_sessions_roll(*, at: datetime, accounts: Iterable[BrokerAccount] | None = None) -> int:
    """Reset every follower account (or ``accounts``) into the session holding
    aware ``at``; returns how many resets this call performed (0: every
    account was current, or a concurrent roll got there first)."""
    if accounts is None:
        accounts = BrokerAccount.objects.filter(memberships__isnull=False).distinct().order_by("pk")
    return len(account_sessions_open(list(accounts), at=at)[1])


def session_realized(account_ids: Iterable[int], at: datetime) -> dict[int, Decimal]:
    """Realized PnL (dollars) per account since the session holding ``at`` opened
    (:func:`routing.selectors.session_realized_by_account`)."""
    return session_realized_by_account(account_ids, at)


def engine_session(
    row: AccountSession | SessionRow,
    *,
    account: BrokerAccount,
    limits: RiskLimits,
    session_pnl: Decimal,
    realized: Decimal,
) -> EngineSession:
    """The engine's view of ``row`` given the account's session PnL (realized
    + unrealized since the session opened, as
    :func:`routing.selectors.session_pnl_by_account` gives it) and realized
    PnL, dollars. Equity = opening balance + PnL the open positions carried
    in + session PnL."""
    return engine_view(
        session_state_of(row),
        limits,
        starting_balance=account.starting_balance,
        session_pnl=session_pnl,
        realized=realized,
    )
