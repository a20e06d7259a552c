"""Round trips: the trades a pilot's record is judged on, and the copied
trades the group page lists (:mod:`journal.round_trips`).

A *round trip* runs from flat to flat in one contract: the fills that open a
position, add to it, reduce it and close it (a reversal fill closes one round
trip and opens the next). The position is moved by the engine's own
net-position arithmetic (:class:`routing.engine.positions.Position`), so a
record and the copy engine agree on when a position is flat. The round
trip's PnL is its cash flow, ``(sum of sells - sum of buys) x price x qty x
point value``, exact in ``Decimal``: it equals the sum of the engine's
realized PnL, without the last-digit rounding of an average entry that does
not terminate (three MES lots averaging a third of a tick made $49.99...995
of a $50 trip). Pure: no Django, no I/O.

Money is ``Decimal`` dollars, prices ``Decimal`` points, quantities ``int``
contracts, times aware UTC ``datetime``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from routing.engine.positions import Position
from routing.engine.symbols import root_of
from routing.engine.types import LeaderFill, Side

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RowFill:
    """One fill and the export rows it was read from (1-based, header = row 1).

    A Tradovate Performance fill can be paired in several rows; a fill from a
    live broker stream has no rows (``()``).
    """

    fill: LeaderFill
    rows: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed round trip.

    ``side`` is :attr:`Side.BUY` for a long round trip, :attr:`Side.SELL` for
    a short one; ``qty`` the largest open position in contracts (> 0);
    ``pnl`` net dollars (gross minus ``fees``), ``fees`` dollars >= 0 (0 when
    the source states none); ``opened_at`` / ``closed_at`` aware UTC
    (``opened_at`` ``None`` when the source does not say); ``rows`` the
    export rows it comes from, ascending, without repeats; ``entry_price``
    and ``exit_price`` the average prices (points) of the contracts that
    opened or added to it and of those that closed it (``None`` when the
    source gives no fills, e.g. an export of trades).
    """

    symbol: str
    side: Side
    qty: int
    pnl: Decimal
    closed_at: datetime
    opened_at: datetime | None = None
    fees: Decimal = _ZERO
    rows: tuple[int, ...] = ()
    entry_price: Decimal | None = None
    exit_price: Decimal | None = None

    @property
    def is_win(self) -> bool:
        """PnL > 0 (a scratch at exactly 0 is neither a win nor a loss)."""
        return self.pnl > 0

    @property
    def is_loss(self) -> bool:
        """PnL < 0."""
        return self.pnl < 0


@dataclass(frozen=True, slots=True)
class RoundTrips:
    """Round trips rebuilt from fills, by close time, and what was left open.

    ``open_positions`` maps each contract with a position still open after
    the last fill to its signed quantity; those fills are in no round trip.
    """

    trips: tuple[RoundTrip, ...]
    open_positions: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Open:
    side: Side
    opened_at: datetime
    qty: int
    pnl: Decimal
    rows: list[int]
    # Contracts and their summed prices (points) that opened / closed it.
    entered: int = 0
    entry_value: Decimal = _ZERO
    exited: int = 0
    exit_value: Decimal = _ZERO

    def average(self, value: Decimal, qty: int) -> Decimal | None:
        return value / qty if qty else None


def round_trips_from_fills(
    fills: Iterable[RowFill], point_values: Mapping[str, Decimal]
) -> RoundTrips:
    """Pair ``fills`` (in replay order) into flat-to-flat :class:`RoundTrip` s per contract.

    ``point_values`` maps a product root (``"MNQ"``) to dollars per point per
    contract. Each fill moves its contract's :class:`Position`; when the
    position returns to 0 (or reverses) the round trip closes at that fill's
    time with its cash-flow PnL; a reversal's remainder opens the next round
    trip at the same fill. No fees (exports of fills state
    commissions in columns the importers do not read).

    Raises ``ValueError`` naming the contract when its root has no point value.
    """
    positions: dict[str, Position] = {}
    open_trips: dict[str, _Open] = {}
    closed: list[RoundTrip] = []
    for item in fills:
        fill = item.fill
        root = root_of(fill.symbol)
        point_value = point_values.get(root)
        if point_value is None:
            raise ValueError(f"no point value for {fill.symbol} (root {root!r})")
        before = positions.get(fill.symbol, Position())
        after, _ = before.apply_fill(fill.side, fill.qty, fill.price, point_value)
        positions[fill.symbol] = after
        reversed_ = after.qty != 0 and before.qty != 0 and (after.qty > 0) != (before.qty > 0)
        # A reversal closes |before.qty| in this trip; the rest opens the next one.
        closing = abs(before.qty) if reversed_ else fill.qty
        trip = open_trips.get(fill.symbol)
        if trip is None:
            trip = _Open(fill.side, fill.time, abs(after.qty), _ZERO, [])
            open_trips[fill.symbol] = trip
        trip.pnl -= fill.side.sign * closing * fill.price * point_value
        if fill.side is trip.side:
            trip.entered += fill.qty
            trip.entry_value += fill.qty * fill.price
        else:
            trip.exited += closing
            trip.exit_value += closing * fill.price
        trip.rows.extend(row for row in item.rows if row not in trip.rows)
        if after.qty == 0 or reversed_:
            closed.append(
                RoundTrip(
                    symbol=fill.symbol,
                    side=trip.side,
                    qty=trip.qty,
                    pnl=trip.pnl,
                    closed_at=fill.time,
                    opened_at=trip.opened_at,
                    rows=tuple(sorted(trip.rows)),
                    entry_price=trip.average(trip.entry_value, trip.entered),
                    exit_price=trip.average(trip.exit_value, trip.exited),
                )
            )
            del open_trips[fill.symbol]
            if reversed_:
                open_trips[fill.symbol] = _Open(
                    fill.side,
                    fill.time,
                    abs(after.qty),
                    -fill.side.sign * abs(after.qty) * fill.price * point_value,
                    list(item.rows),
                    entered=abs(after.qty),
                    entry_value=abs(after.qty) * fill.price,
                )
        else:
            trip.qty = max(trip.qty, abs(after.qty))
    left = {symbol: p.qty for symbol, p in positions.items() if p.qty != 0}
    ordered = sorted(enumerate(closed), key=lambda pair: (pair[1].closed_at, pair[0]))
    return RoundTrips(trips=tuple(trip for _, trip in ordered), open_positions=left)
