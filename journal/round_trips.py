"""Copied round trips: each account's last trades, rebuilt from the journal's fills.

The journal stores fills (:class:`journal.models.Fill`) and each contract's
net position (:class:`journal.models.Position`), not trades; the round trips
are paired from the fills by :func:`routing.engine.round_trips.round_trips_from_fills`,
the builder a pilot's record uses, so the group page and a record agree on
what a trade is (flat to flat, cash-flow PnL before fees).

Only the newest fills are read (``window`` per account, newest first by
storage order, the order the journal moved its positions in): walking back
from the stored position, a contract's fills are kept from the oldest fill
in the window that opened it from flat, so a round trip is never paired
from its middle. A trade older than the window is left out, never
mis-paired. Reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from journal.models import Fill, Position
from routing.engine.round_trips import RoundTrip, RowFill, round_trips_from_fills
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import LeaderFill, Side

RECENT_TRADES = 25
# Fills read per account: 25 round trips of up to 16 fills each.
FILLS_WINDOW = 400


def round_trips_recent(
    account_ids: Iterable[int],
    *,
    point_values: Mapping[str, Decimal],
    limit: int = RECENT_TRADES,
    window: int = FILLS_WINDOW,
) -> dict[int, list[RoundTrip]]:
    """Account id -> its last ``limit`` closed round trips, newest first.

    ``point_values`` maps product roots (``"MNQ"``) to dollars per point per
    contract; fills in a contract without one are left out (their PnL
    cannot be priced). Each ``RoundTrip``'s ``side`` is BUY for a long
    trade, ``qty`` its largest position in contracts, ``pnl`` dollars,
    ``opened_at``/``closed_at`` aware UTC. One query per account.
    """
    ids = list(dict.fromkeys(account_ids))
    held: dict[int, dict[str, int]] = {a: {} for a in ids}
    for account_id, symbol, qty in Position.objects.filter(account_id__in=ids).values_list(
        "account_id", "symbol", "qty"
    ):
        held[account_id][symbol] = qty
    return {
        account_id: _recent(account_id, held[account_id], point_values, limit, window)
        for account_id in ids
    }


def _priced(symbol: str, point_values: Mapping[str, Decimal]) -> bool:
    try:
        return root_of(symbol) in point_values
    except SymbolError:
        return False


def _recent(
    account_id: int,
    held: dict[str, int],
    point_values: Mapping[str, Decimal],
    limit: int,
    window: int,
) -> list[RoundTrip]:
    rows = list(
        Fill.objects.filter(account_id=account_id)
        .order_by("-pk")
        .values_list("broker_fill_id", "symbol", "side", "qty", "price", "filled_at")[:window]
    )
    # Newest first: undo each fill from the position it left; where the
    # position before a fill was flat, a round trip started there.
    position = dict(held)
    start: dict[str, int] = {}
    for index, (_, symbol, side, qty, _, _) in enumerate(rows):
        before = position.get(symbol, 0) - Side(side).sign * qty
        position[symbol] = before
        if before == 0:
            start[symbol] = index
    chosen = [
        RowFill(LeaderFill(fill_id, str(account_id), symbol, Side(side), qty, price, filled_at))
        for index, (fill_id, symbol, side, qty, price, filled_at) in enumerate(rows)
        if index <= start.get(symbol, -1) and _priced(symbol, point_values)
    ]
    chosen.reverse()
    trips = round_trips_from_fills(chosen, point_values)
    return list(reversed(trips.trips))[:limit]
