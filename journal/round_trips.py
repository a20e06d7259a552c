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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from journal.models import Fill, Position
from routing.engine.round_trips import RoundTrip, RowFill, round_trips_from_fills
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import LeaderFill, Side

RECENT_TRADES = 25
# Fills read per account: 25 round trips of up to 16 fills each.
FILLS_WINDOW = 400
# Fills read per account for a date range on the trades page.
RANGE_FILLS_CAP = 20_000


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
    held = _held(ids)
    return {
        account_id: _recent(account_id, held[account_id], point_values, limit, window)
        for account_id in ids
    }


def _held(ids: list[int]) -> dict[int, dict[str, int]]:
    """Account id -> its stored signed position per contract (where fills end)."""
    held: dict[int, dict[str, int]] = {a: {} for a in ids}
    for account_id, symbol, qty in Position.objects.filter(account_id__in=ids).values_list(
        "account_id", "symbol", "qty"
    ):
        held[account_id][symbol] = qty
    return held


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
    return list(reversed(_paired(account_id, rows, held, point_values)))[:limit]


def _paired(
    account_id: int,
    rows: list[tuple[str, str, str, int, Decimal, datetime]],
    held: Mapping[str, int],
    point_values: Mapping[str, Decimal],
) -> list[RoundTrip]:
    """The round trips of ``rows`` (an account's newest fills, newest first,
    ending at its stored positions ``held``), by close time: each contract
    is paired from the oldest fill that opened it from flat, never from the
    middle of a trade."""
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
    return list(round_trips_from_fills(chosen, point_values).trips)


@dataclass(frozen=True, slots=True)
class CopiedTrips:
    """Round trips closed in a range: ``trips`` as (account id, trip), newest
    close first; ``truncated`` when an account had more than the cap of
    fills since the range opened (its oldest trips in the range are left out)."""

    trips: list[tuple[int, RoundTrip]]
    truncated: bool


def round_trips_closed_between(
    account_ids: Iterable[int],
    *,
    start: datetime | None,
    end: datetime | None,
    point_values: Mapping[str, Decimal],
    cap: int = RANGE_FILLS_CAP,
) -> CopiedTrips:
    """Every round trip of ``account_ids`` closed in ``[start, end)`` (aware
    UTC; ``None``: unbounded), rebuilt from the journal's fills since
    ``start`` (at most ``cap`` per account, newest kept) as
    :func:`round_trips_recent` does: a trade opened before ``start`` and
    closed in the range is paired whole only if its opening fills are read,
    never from its middle (left out otherwise). One query per account."""
    ids = list(dict.fromkeys(account_ids))
    held = _held(ids)
    found: list[tuple[int, RoundTrip]] = []
    truncated = False
    for account_id in ids:
        fills = Fill.objects.filter(account_id=account_id)
        if start is not None:
            fills = fills.filter(filled_at__gte=start)
        rows = list(
            fills.order_by("-pk").values_list(
                "broker_fill_id", "symbol", "side", "qty", "price", "filled_at"
            )[: cap + 1]
        )
        if len(rows) > cap:
            truncated, rows = True, rows[:cap]
        for trip in _paired(account_id, rows, held[account_id], point_values):
            if (start is None or trip.closed_at >= start) and (end is None or trip.closed_at < end):
                found.append((account_id, trip))
    found.sort(key=lambda pair: pair[1].closed_at, reverse=True)
    return CopiedTrips(found, truncated)
