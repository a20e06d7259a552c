"""The per-account session reset as it was before the batch
(:func:`routing.services.account_sessions.account_sessions_open`), kept
only as the reference the batch is compared against: one account at a
time, several statements each (previous row, carried-in PnL, balance,
insert, balance update, quarantines, journal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import BrokerAccount
from journal.models import EventType, Position, SessionRealized
from journal.services import journal_record
from routing.engine.risk import money
from routing.engine.sessions import CHICAGO, session_start, trading_date
from routing.engine.watch import session_open, session_roll
from routing.models import AccountSession, Follower
from routing.services.account_sessions import session_state_of
from routing.services.quarantines import quarantines_active
from routing.services.route_state import route_config_bump


def reference_session_current(account: BrokerAccount, at: datetime) -> tuple[AccountSession, bool]:
    """(the account's row at ``at``, True when this call performed the reset)."""
    day = trading_date(at)
    row = AccountSession.objects.filter(account=account, trading_date=day).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return _reset(account, at), True
    except IntegrityError:
        row = AccountSession.objects.filter(account=account, trading_date=day).first()
        if row is None:
            raise
        return row, False


def _opening(
    account: BrokerAccount, at: datetime
) -> tuple[AccountSession, AccountSession | None, Decimal]:
    opened = session_start(at)
    day = trading_date(at)
    previous = (
        AccountSession.objects.filter(account=account, trading_date__lt=day)
        .order_by("-trading_date")
        .first()
    )
    carried_in = Position.objects.filter(account=account).exclude(qty=0).aggregate(
        total=Sum("unrealized_pnl")
    )["total"] or Decimal(0)
    if previous is None:
        current = BrokerAccount.objects.values("balance", "starting_balance").get(pk=account.pk)
        state = session_open(
            trading_date=day,
            balance=current["balance"],
            starting_balance=current["starting_balance"],
            carried_in=carried_in,
        )
        realized = Decimal(0)
    else:
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
        route_config_bump()
    account.balance = opening
    followers = list(Follower.objects.filter(account=account).select_related("group", "account"))
    quarantines_active(followers, at=at)
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
