"""Bounds every number crossing a boundary must respect (issue 10, defect 8).

Importers, route files and forms call these rules before a price, quantity
or id reaches the engine or the database, so "impossible numbers" (a price of
0 or -4.75, a price off the contract's tick grid, 15 integer digits, 0 or
10,001 contracts, an id longer than its column) are refused where they enter,
with the field named, instead of being dropped later or failing every risk
pass. Each rule returns the problem as a sentence quoting the value, or
``None`` when the value is fine; the caller adds where it was (file, row and
field; route-file key; form field).

The column limits are not copied here: callers pass a :class:`DecimalColumn`
built from the model field (``journal.limits.import_limits`` and
``money_column``), so the check
follows a migration that widens the column. Pure: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MIN_CONTRACTS = 1
MAX_CONTRACTS = 10_000
"""Contracts per fill, order or quantity limit: 1 to 10,000 (issue 10, defect 8).

CME Globex's own maximum order size for the equity-index futures is in the
thousands of contracts (e.g. 2,000 for E-mini S&P 500, CME Group "Globex
Maximum Order Size" / "Order Quantity Limits"), so a single leader fill or a
follower cap above 10,000 can only be a typo or a unit mix-up.
"""


@dataclass(frozen=True, slots=True)
class DecimalColumn:
    """A ``NUMERIC(max_digits, decimal_places)`` column: what a value must fit.

    ``max_digits`` counts every digit, ``decimal_places`` the digits after
    the point, as Django's ``DecimalField`` (and its ``DecimalValidator``).
    """

    max_digits: int
    decimal_places: int

    @property
    def whole_digits(self) -> int:
        """Digits allowed before the decimal point."""
        return self.max_digits - self.decimal_places


def digits_problem(value: Decimal, column: DecimalColumn) -> str | None:
    """Why ``value`` does not fit ``column`` (too many whole or decimal digits), or ``None``.

    ``Decimal("123456789012345")`` in a (20, 6) column has 15 whole digits
    of 14 allowed. Trailing zeros after the point are not counted
    (``"21000.1000000"`` fits 6 places). NaN and infinities never fit.
    """
    if not value.is_finite():
        return f"{value} is not a finite number"
    sign_digits_exponent = value.normalize().as_tuple()
    digits, exponent = sign_digits_exponent.digits, int(sign_digits_exponent.exponent)
    if value == 0:
        whole, places = 0, 0
    elif exponent >= 0:
        whole, places = len(digits) + exponent, 0
    else:
        places = -exponent
        whole = max(len(digits) - places, 0)
    if whole > column.whole_digits:
        return (
            f"{value} has {whole} digits before the decimal point; the column holds at most "
            f"{column.whole_digits}"
        )
    if places > column.decimal_places:
        return (
            f"{value} has {places} decimal places; the column holds at most {column.decimal_places}"
        )
    return None


def price_problem(price: Decimal, tick_size: Decimal | None, column: DecimalColumn) -> str | None:
    """Why ``price`` (price points) is not a possible price of the contract, or ``None``.

    A price must be > 0, fit ``column`` and lie on the tick grid: ``price /
    tick_size`` a whole number (MNQ tick 0.25: 21000.25 is a price, 21000.10
    is not). ``tick_size`` is ``None`` when the contract has no spec: refused,
    since the grid cannot be checked (fail closed).
    """
    if not price.is_finite():
        return f"price {price} is not a finite number"
    if price <= 0:
        return f"price must be > 0, got {price}"
    too_big = digits_problem(price, column)
    if too_big is not None:
        return f"price {too_big}"
    if tick_size is None or tick_size <= 0:
        return f"price {price} cannot be checked: no tick size for this contract"
    if price % tick_size != 0:
        return f"price {price} is not on the tick grid (tick size {tick_size})"
    return None


def quantity_problem(qty: int) -> str | None:
    """Why ``qty`` is not a possible number of contracts (1 to 10,000), or ``None``."""
    if isinstance(qty, bool) or not isinstance(qty, int):
        return f"quantity must be a whole number of contracts, got {qty!r}"
    if not MIN_CONTRACTS <= qty <= MAX_CONTRACTS:
        return f"quantity must be {MIN_CONTRACTS} to {MAX_CONTRACTS:,} contracts, got {qty:,}"
    return None


def amount_problem(value: Decimal, column: DecimalColumn) -> str | None:
    """Why a dollar amount (P&L, fees, balance, loss limit) does not fit ``column``, or ``None``.

    The sign is the caller's rule (P&L may be negative, a loss limit not).
    """
    problem = digits_problem(value, column)
    return None if problem is None else f"amount {problem}"


def length_problem(text: str, max_length: int) -> str | None:
    """Why ``text`` does not fit a column of ``max_length`` characters, or ``None``."""
    if len(text) > max_length:
        shown = text if len(text) <= 40 else f"{text[:37]}..."
        return f"{shown!r} is {len(text)} characters; the column holds at most {max_length}"
    return None
