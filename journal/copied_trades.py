"""Copied round trips on the trades page (``/journal/trades/?source=copied``):
the user's broker accounts' round trips rebuilt from the journal's fills
(:func:`journal.round_trips.round_trips_closed_between`), filtered like the
imported ones (account name, symbol, closing dates in UTC), in the shape the
page and the CSV export list imported trades in. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.models import BrokerAccount, User
from journal.csv_export import utc_days
from journal.round_trips import round_trips_closed_between
from routing.engine.types import Side
from routing.selectors import contract_point_values

SOURCE = "copied"


@dataclass(frozen=True, slots=True)
class CopiedTrade:
    """One copied round trip as the trades page lists it (the fields of
    :class:`journal.models.Trade` it shows): ``side`` "long" or "short",
    ``qty`` the largest position in contracts, prices average points, ``pnl``
    dollars before fees (the journal's fills carry none: ``fees`` 0)."""

    account_name: str
    symbol: str
    side: str
    qty: int
    entry_price: Decimal | None
    exit_price: Decimal | None
    pnl: Decimal
    fees: Decimal
    opened_at: datetime | None
    closed_at: datetime
    source_format: str = SOURCE
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class CopiedTrades:
    """The filtered trades, newest close first, and whether an account's
    fills were capped (the oldest trades of the range may be missing)."""

    trades: list[CopiedTrade]
    truncated: bool


def copied_trades_for_user(user: User, filters: dict[str, Any]) -> CopiedTrades:
    """``user``'s copied round trips (never another user's accounts)
    matching ``filters`` (``account`` name, ``symbol`` prefix, ``since`` /
    ``until`` closing dates, UTC, both ends included)."""
    accounts = BrokerAccount.objects.filter(owner=user)
    if filters.get("account"):
        accounts = accounts.filter(name=filters["account"])
    names = dict(accounts.values_list("pk", "name"))
    start, end = utc_days(filters.get("since"), filters.get("until"))
    point_values = contract_point_values()
    found = round_trips_closed_between(names, start=start, end=end, point_values=point_values)
    prefix = (filters.get("symbol") or "").strip().upper()
    trades = [
        CopiedTrade(
            account_name=names[account_id],
            symbol=trip.symbol,
            side="long" if trip.side is Side.BUY else "short",
            qty=trip.qty,
            entry_price=trip.entry_price,
            exit_price=trip.exit_price,
            pnl=trip.pnl,
            fees=trip.fees,
            opened_at=trip.opened_at,
            closed_at=trip.closed_at,
        )
        for account_id, trip in found.trips
        if trip.symbol.upper().startswith(prefix)
    ]
    return CopiedTrades(trades, found.truncated)
