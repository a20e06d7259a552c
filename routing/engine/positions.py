"""Net position accounting for one account in one contract.

Pure value arithmetic: no Django, no I/O, no clock. Prices are ``Decimal``
price points, money is ``Decimal`` dollars (the contract's currency), and
quantities are ``int`` contracts. A position is *netted*: buys and sells in the
same contract offset each other, and the open quantity carries one
quantity-weighted average entry price.

The average price is kept at full ``Decimal`` precision (the active context,
28 significant digits by default) and never quantized here: quantizing is for
display. When the average does not terminate (three lots averaging to a third
of a tick) the last digit is rounded by the context, which moves money by far
less than 1e-15 dollars at futures prices and sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from routing.engine.types import Side

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Position:
    """A net position and the profit it has realized so far.

    ``qty`` is signed contracts (+long, -short, 0 flat); ``avg_price`` is the
    quantity-weighted average entry price of the open ``qty`` in price points
    (``Decimal(0)`` when flat); ``realized_pnl`` is cumulative dollars realized
    by reducing or closing fills.
    """

    qty: int = 0
    avg_price: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO

    @property
    def is_flat(self) -> bool:
        """True when no contracts are open."""
        return self.qty == 0

    def apply_fill(
        self, side: Side, qty: int, price: Decimal, point_value: Decimal
    ) -> tuple[Position, Decimal]:
        """Return ``(new position, realized pnl of this fill in dollars)``.

        - A fill in the direction of the position (or from flat) adds to it:
          the new average is the quantity-weighted mean of the old average and
          ``price``; nothing is realized.
        - A fill against the position reduces it and realizes
          ``(price - avg_price) * closed_qty * point_value * direction``
          (direction +1 when long, -1 when short); the average is unchanged.
        - A fill larger than the position closes it and opens the remainder the
          other way at ``price``.

        ``qty`` > 0 contracts, ``price`` in price points, ``point_value`` in
        dollars per point per contract (e.g. 2 for MNQ). Raises ``ValueError``
        when ``qty`` <= 0, ``price`` is not finite or ``point_value`` <= 0, and
        ``TypeError`` when ``price`` or ``point_value`` is not a ``Decimal``
        (a float would silently lose cents).
        """
        _check_decimal("price", price)
        _check_decimal("point_value", point_value)
        if qty <= 0:
            raise ValueError(f"fill qty must be > 0 contracts, got {qty}")
        if not price.is_finite():
            raise ValueError(f"fill price must be finite, got {price}")
        if point_value <= 0:
            raise ValueError(f"point_value must be > 0, got {point_value}")

        signed = side.sign * qty
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            new_qty = self.qty + signed
            avg = (abs(self.qty) * self.avg_price + qty * price) / abs(new_qty)
            return Position(new_qty, avg, self.realized_pnl), _ZERO

        direction = 1 if self.qty > 0 else -1
        closed = min(qty, abs(self.qty))
        realized = (price - self.avg_price) * closed * point_value * direction
        new_qty = self.qty + signed
        if new_qty == 0:
            avg = _ZERO
        elif (new_qty > 0) == (self.qty > 0):
            avg = self.avg_price  # partly reduced: the rest keeps its entry
        else:
            avg = price  # reversed: the remainder opened at this fill
        return Position(new_qty, avg, self.realized_pnl + realized), realized

    def unrealized_pnl(self, mark: Decimal, point_value: Decimal) -> Decimal:
        """Dollars the open ``qty`` would realize if closed at ``mark``.

        ``(mark - avg_price) * qty * point_value``: positive when a long is
        below the mark or a short above it; ``Decimal(0)`` when flat.
        Raises ``TypeError`` for a non-``Decimal`` mark or point value.
        """
        _check_decimal("mark", mark)
        _check_decimal("point_value", point_value)
        if self.qty == 0:
            return _ZERO
        return (mark - self.avg_price) * self.qty * point_value


def _check_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__} {value!r}")
