"""Prices written as traders read them: to the contract's tick precision.

A price shows as many decimals as its contract's tick size has (MNQ ticks
0.25: ``21539.50``; CL ticks 0.01: ``71.23``; ZN ticks 1/64 = 0.015625:
``110.515625``; a whole-point tick: ``4150``), never in scientific notation
(``Decimal``'s own ``str`` writes 21520 as ``2.152E+4`` once normalized).
An average entry price between two ticks is rounded half up to that
precision, as trading platforms show it. Pure.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def tick_places(tick_size: Decimal) -> int:
    """Decimals of ``tick_size`` (> 0): ``0.25`` -> 2, ``0.015625`` -> 6, ``1`` -> 0.

    Raises ``ValueError`` for a tick size that is not a finite number above 0.
    """
    if not tick_size.is_finite() or tick_size <= 0:
        raise ValueError(f"tick size must be a number above 0, got {tick_size!r}")
    exponent = tick_size.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    return max(0, -exponent)


def price_text(price: Decimal, tick_size: Decimal | None) -> str:
    """``price`` (points) to ``tick_size``'s precision, in plain digits.

    Without a tick size (no contract spec) the price is written as it is,
    without trailing zeros (``21010.500000`` -> ``21010.5``). Raises
    ``ValueError`` for a bad tick size (:func:`tick_places`).
    """
    if tick_size is None:
        value = price.normalize()
        if value == value.to_integral_value():
            value = value.quantize(Decimal(1))
        return f"{value:f}"
    places = tick_places(tick_size)
    return f"{price.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
