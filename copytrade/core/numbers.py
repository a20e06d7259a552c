"""Numbers as traders read them: one style on every page (issue 13).

* **Money** (PnL, cushions, slippage in dollars) carries its sign:
  ``+$1,234.50``, ``-$80.00``, and ``$0.00`` for nothing either way.
* **Amounts** (balances, limits, sizes) have no plus sign: ``$50,000.00``
  (``-$80.00`` if one is ever negative).
* **Prices** are in points to the contract's tick precision (MNQ's 0.25 tick:
  two decimals, ZN's 1/64 = 0.015625: six), without thousands separators,
  as trading platforms print them; without a tick size, written out as
  people write figures (``21001.5``).
* Never scientific notation: a ``Decimal`` like ``2.152E+4`` or a float like
  ``1e-05`` is written out.

Formatting is Babel's (CLDR patterns for ``en_US``); ``None`` and anything
unreadable show as an en dash, never as a number. The browser side is
``static/js/numbers.js``, written to print the same strings.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency, format_decimal

LOCALE = "en_US"
NONE = "\u2013"
"""Shown for an undefined or missing value (an en dash)."""

AVERAGE_EXTRA_PLACES = 2
"""Decimals an average price may show beyond its tick's."""
MAX_PLACES = 6
"""Decimals a price shows at most when its tick size is not known."""

_CENT = Decimal("0.01")
_SIGNED = "+\u00a4#,##0.00;-\u00a4#,##0.00"
_AMOUNT = "\u00a4#,##0.00;-\u00a4#,##0.00"


def as_decimal(value: Any) -> Decimal | None:
    """``value`` (``Decimal``, ``int``, ``float`` or a stored string) as a
    finite ``Decimal``, or ``None`` when it is missing or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _cents(number: Decimal) -> Decimal:
    # Half up, as a ledger rounds: -0.005 shows -$0.01, never a banker's -$0.00.
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def cents(value: Decimal | None) -> str | None:
    """Dollars as plain text to the cent for the JSON the live pages format
    (``Decimal("15.625")`` -> ``"15.63"``), rounded as :func:`money` rounds
    them; ``None`` stays ``None``."""
    return None if value is None else str(_cents(value))


def money(value: Any) -> str:
    """Signed dollars: ``Decimal("1234.5")`` -> ``"+$1,234.50"``,
    ``-80`` -> ``"-$80.00"``; a value that rounds to zero cents ->
    ``"$0.00"``; ``None`` -> an en dash."""
    number = as_decimal(value)
    if number is None:
        return NONE
    cents = _cents(number)
    if not cents:
        return "$0.00"
    return format_currency(cents, "USD", format=_SIGNED, locale=LOCALE, currency_digits=False)


def dollars(value: Any) -> str:
    """Dollars without a plus sign, for balances and limits:
    ``50000`` -> ``"$50,000.00"``; ``None`` -> an en dash."""
    number = as_decimal(value)
    if number is None:
        return NONE
    cents = _cents(number)
    return format_currency(
        cents or Decimal(0), "USD", format=_AMOUNT, locale=LOCALE, currency_digits=False
    )


def tick_places(tick_size: Decimal) -> int:
    """Decimal places of a price on a ``tick_size`` grid (points): 0.25 -> 2,
    0.015625 -> 6, 1 -> 0, 0.10 -> 1. Raises ``ValueError`` for a tick that
    is not a positive finite number."""
    tick = as_decimal(tick_size)
    if tick is None or tick <= 0:
        raise ValueError(f"tick size must be a positive number, got {tick_size!r}")
    exponent = tick.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return max(0, -exponent)


def price(value: Any, tick_size: Any = None) -> str:
    """A price in points: to ``tick_size``'s precision when given
    (``21500.5``, tick 0.25 -> ``"21500.50"``), else written out as people
    write it (``Decimal("21500.500000")`` -> ``"21500.5"``); no thousands
    separators, never scientific notation. ``None`` -> an en dash.

    A price finer than its grid (an average of several fills) shows at most
    :data:`AVERAGE_EXTRA_PLACES` more decimals (``21500.41666…`` at tick 0.25
    -> ``"21500.4167"``); without a tick, at most :data:`MAX_PLACES`.
    """
    number = as_decimal(value)
    if number is None:
        return NONE
    tick = as_decimal(tick_size)
    grid = tick_places(tick) if tick is not None and tick > 0 else None
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    own = max(0, -exponent)
    if grid is None:
        places = min(own, MAX_PLACES)
    else:
        places = max(grid, min(own, grid + AVERAGE_EXTRA_PLACES))
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if not rounded:
        rounded = abs(rounded)  # never "-0.00"
    if grid is None:
        rounded = rounded.normalize()  # 21500.50 -> 21500.5, as people write it
        exponent = rounded.as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(0, -exponent)
    pattern = "0." + "0" * places if places else "0"
    return format_decimal(rounded, format=pattern, locale=LOCALE)


def signed(value: Any, places: int = 2) -> str:
    """A signed figure that is not money (ticks, contracts, points):
    ``2`` -> ``"+2.00"``, ``-0.5`` -> ``"-0.50"``, zero unsigned."""
    number = as_decimal(value)
    if number is None:
        return NONE
    text = fixed(abs(number), places)
    if not text.strip("0.,"):
        return text
    return ("-" if number < 0 else "+") + text


def fixed(value: Any, places: int = 2) -> str:
    """``value`` to ``places`` decimals with thousands separators
    (``1234.567`` -> ``"1,234.57"``); never ``"-0.00"``."""
    number = as_decimal(value)
    if number is None:
        return NONE
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if not rounded:
        rounded = abs(rounded)
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(rounded, format=pattern, locale=LOCALE)


def sign_class(value: Any) -> str:
    """The CSS class of a signed amount: ``posv`` above 0, ``neg`` below, else ``""``."""
    number = as_decimal(value)
    if number is None or number == 0:
        return ""
    return "posv" if number > 0 else "neg"
