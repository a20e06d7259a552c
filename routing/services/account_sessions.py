"""Per-account session state: the reset at the CME session start, halts, and
the figures the risk checks need (equity, drawdown floor, session profit).

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
pre-session check; this module reads the figures and writes the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, router, transaction
from django.db.models import Sum

from accounts.models import BrokerAccount
from journal.models import EventType, Position, SessionRealized
from journal.services import journal_record
from routing.engine.limits import AccountSession as EngineSession
from routing.engine.limits import RiskLimits
from routing.engine.risk import money
from routing.engine.sessions import CHICAGO, session_start, trading_date
from routing.engine.watch import SessionState, engine_view, session_open, session_roll
from routing.models import AccountSession, Follower
from routing.selectors import session_realized_by_account
from routing.services.quarantines import quarantines_active
from routing.services.route_state import route_config_bump


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
    rows = AccountSession.objects.filter(
        account_id__any_of=list(account_ids), trading_date=trading_date
    ).values_list(*SessionRow._fields)
    return {row.account_id: row for row in map(SessionRow._make, rows)}


def account_session_current(*, account: BrokerAccount, at: datetime) -> AccountSession:
    """The account's session row for the trading date holding aware ``at``,
    created (the reset, journaled) when missing. Idempotent and race-safe:
    two callers creating it at once get the same row."""
    return _session_for(account, at)[0]


def _session_for(account: BrokerAccount, at: datetime) -> tuple[AccountSession, bool]:
    """(row, True when this call performed the reset)."""
    day = trading_date(at)
    row = AccountSession.objects.filter(account=account, trading_date=day).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return _reset(account, at), True
    except IntegrityError:
        # Another worker or scheduler reset it first: its insert committed and
        # ours hit the unique constraint. Any other integrity error is ours.
        row = AccountSession.objects.filter(account=account, trading_date=day).first()
        if row is None:
            raise
        return row, False


def account_session_preview(*, account: BrokerAccount, at: datetime) -> AccountSession:
    """The session row the reset would create for ``account`` at aware
    ``at``, unsaved: opening balance = the previous opening + the realized PnL
    of the fills since that session opened (the account's balance for its
    first session), the PnL open positions carry in, high-water marks carried
    over. Reads only."""
    return _opening(account, at)[0]


def _opening(
    account: BrokerAccount, at: datetime
) -> tuple[AccountSession, AccountSession | None, Decimal]:
    """``(unsaved row, previous row or None, realized PnL since the previous open)``."""
    opened = session_start(at)
    day = trading_date(at)
    previous = (
        AccountSession.objects.filter(account=account, trading_date__lt=day)
        .order_by("-trading_date")
        .first()
    )
    # Open positions carry their PnL so far into the session: it belongs to
    # the opening equity, not to the new session's PnL (futures are marked to
    # market daily).
    carried_in = Position.objects.filter(account=account).exclude(qty=0).aggregate(
        total=Sum("unrealized_pnl")
    )["total"] or Decimal(0)
    if previous is None:
        # Read from the row, not ``account``: the caller's instance may predate
        # a balance the user edited since, and the reset writes the balance.
        current = BrokerAccount.objects.values("balance", "starting_balance").get(pk=account.pk)
        state = session_open(
            trading_date=day,
            balance=current["balance"],
            starting_balance=current["starting_balance"],
            carried_in=carried_in,
        )
        realized = Decimal(0)
    else:
        # The sessions since the previous row's, up to this one (days the
        # account had no session row included).
        realized = SessionRealized.objects.filter(
            account=account, trading_date__gte=previous.trading_date, trading_date__lt=day
        ).aggregate(total=Sum("realized_pnl"))["total"] or Decimal(0)
        state = session_roll(
            session_state_of(previous),
            trading_date=day,
            realized_since=realized,
            carried_in=carried_in,
        )
    row = AccountSession(
        account=account,
        trading_date=day,
        opened_at=opened,
        opening_balance=state.opening_balance,
        opening_unrealized=state.carried_in,
        high_water=state.high_water,
        eod_high_water=state.eod_high_water,
    )
    return row, previous, realized


def _reset(account: BrokerAccount, at: datetime) -> AccountSession:
    row, previous, realized = _opening(account, at)
    row.save(force_insert=True)
    day, opened, opening = row.trading_date, row.opened_at, row.opening_balance
    carried_in, high, eod_high = row.opening_unrealized, row.high_water, row.eod_high_water
    if BrokerAccount.objects.filter(pk=account.pk).exclude(balance=opening).update(balance=opening):
        # The balance sizes percent-of-balance followers: cached routes reload.
        route_config_bump()
    account.balance = opening
    followers = list(Follower.objects.filter(account=account).select_related("group", "account"))
    quarantines_active(followers, at=at)  # releases those of earlier sessions, journaled
    carried = (
        f"realized {money(realized)} since {previous.trading_date}" if previous else "first session"
    )
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.SESSION_RESET,
        account_id=account.pk,
        group_id=followers[0].group_id if followers else None,
        actor_label="session",
        occurred_at=at,
        message=(
            f"{account.name}: session {day} opened "
            f"{opened.astimezone(CHICAGO):%Y-%m-%d %H:%M %Z}: daily limits and halts reset, "
            f"opening balance {money(opening)} ({carried}), high-water {money(high)} "
            f"intraday / {money(eod_high)} end of day"
        ),
        after={
            "trading_date": day.isoformat(),
            "opening_balance": str(opening),
            "opening_unrealized": str(carried_in),
            "high_water": str(high),
            "eod_high_water": str(eod_high),
        },
    )
    return row


def account_sessions_roll(*, at: datetime, accounts: Iterable[BrokerAccount] | None = None) -> int:
    """Reset every follower account (or ``accounts``) into the session holding
    aware ``at``; returns how many resets this call performed (0: every
    account was current, or a concurrent roll got there first)."""
    if accounts is None:
        accounts = BrokerAccount.objects.filter(memberships__isnull=False).distinct().order_by("pk")
    return sum(_session_for(account, at)[1] for account in accounts)


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


def session_state_of(row: AccountSession | SessionRow) -> SessionState:
    """The engine's session state of ``row`` (an instance or its values; a
    halt without a stored reason reads ``"halted"``: halted all the same)."""
    return SessionState(
        trading_date=row.trading_date,
        opening_balance=row.opening_balance,
        carried_in=row.opening_unrealized,
        high_water=row.high_water,
        eod_high_water=row.eod_high_water,
        halt=(row.halt_reason or "halted") if row.halted_at else None,
        flatten_due=row.flatten_due,
    )


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
    already halted."""
    updated = AccountSession.objects.filter(pk=row.pk, halted_at__isnull=True).update(
        halted_at=at, halt_reason=reason
    )
    if not updated:
        return False
    row.halted_at, row.halt_reason = at, reason
    account = row.account
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.ACCOUNT_HALTED,
        account_id=account.pk,
        group_id=group_id,
        actor_label="risk",
        occurred_at=at,
        message=(
            f"{account.name}: new entries halted until the next session "
            f"(open positions stay open unless flatten on breach is on): {reason}"
        ),
        extra_data={
            "trading_date": row.trading_date.isoformat(),
            "reason": reason,
            **({"code": code} if code else {}),
        },
    )
    return True
