"""What the session reset opens with, read for many accounts at once.

An account's new session row: opening balance = the latest earlier row's
opening balance + the realized PnL of the sessions since that row's (days
without a row included), or the account's balance for its first session;
the unrealized PnL its open positions carry in; high-water marks carried
over and raised to the opening equity (:func:`routing.engine.watch.session_open`,
:func:`~routing.engine.watch.session_roll`). Four reads whatever the number
of accounts: the first leader event of a session opens every follower's
session when the 17:00 CT roll has not run
(:func:`routing.services.account_sessions.account_sessions_open` writes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import OuterRef, Subquery, Sum

from accounts.models import BrokerAccount
from journal.models import Position, SessionRealized
from routing.engine.sessions import trading_date
from routing.engine.watch import SessionState, session_open, session_roll
from routing.models import AccountSession

if TYPE_CHECKING:
    from routing.services.account_sessions import SessionRow


class SessionOpening(NamedTuple):
    """One account's new session as the reset computes it: the engine's
    ``state``; ``balance``, the account's stored balance when read (the
    reset stores the opening balance there); ``previous_date``, the
    trading date of the row it rolls from (``None``: its first session);
    ``realized``, dollars realized since that row's session opened."""

    state: SessionState
    balance: Decimal
    previous_date: date | None
    realized: Decimal


def session_openings(account_ids: Sequence[int], *, at: datetime) -> dict[int, SessionOpening]:
    """Account id -> the session it opens at aware ``at`` (the trading date
    holding it), for every one of ``account_ids`` (existing accounts): four
    statements, no lock, nothing written. Money in dollars."""
    day = trading_date(at)
    ids = sorted(set(account_ids))
    # The latest row before ``day`` of the outer query's account.
    latest = AccountSession.objects.filter(
        account_id=OuterRef("account_id"), trading_date__lt=day
    ).order_by("-trading_date")
    previous = {
        row.account_id: row
        for row in AccountSession.objects.filter(
            account_id__any_of=ids, trading_date__lt=day, pk=Subquery(latest.values("pk")[:1])
        )
    }
    # The sessions since the previous row's, up to this one; an account
    # without a previous row matches none (``>= NULL``).
    realized = dict(
        SessionRealized.objects.filter(
            account_id__any_of=ids,
            trading_date__lt=day,
            trading_date__gte=Subquery(latest.values("trading_date")[:1]),
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum("realized_pnl"))
        .values_list("account_id", "total")
    )
    # Open positions carry their PnL so far into the session: it belongs to
    # the opening equity, not to the new session's PnL (futures are marked to
    # market daily).
    carried = dict(
        Position.objects.filter(account_id__any_of=ids)
        .exclude(qty=0)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("unrealized_pnl"))
        .values_list("account_id", "total")
    )
    # Read from the rows, not the callers' instances: an instance may predate
    # a balance the user edited since, and the reset writes the balance.
    balances = BrokerAccount.objects.filter(pk__any_of=ids).values_list(
        "pk", "balance", "starting_balance"
    )
    openings = {}
    for pk, balance, starting_balance in balances:
        carried_in = carried.get(pk) or Decimal(0)
        before = previous.get(pk)
        if before is None:
            state = session_open(
                trading_date=day,
                balance=balance,
                starting_balance=starting_balance,
                carried_in=carried_in,
            )
            openings[pk] = SessionOpening(state, balance, None, Decimal(0))
            continue
        since = realized.get(pk) or Decimal(0)
        state = session_roll(
            session_state_of(before), trading_date=day, realized_since=since, carried_in=carried_in
        )
        openings[pk] = SessionOpening(state, balance, before.trading_date, since)
    return openings


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
