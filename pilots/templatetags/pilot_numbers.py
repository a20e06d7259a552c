"""Numbers formatted for traders on the pilot pages (``{% load pilot_numbers %}``).

One style everywhere: money with a sign and thousands separators
(``+$1,234.50``, ``-$80.00``, ``$0.00``), percents and ratios to a fixed
number of decimals, never scientific notation (a ``Decimal`` like
``1E+1`` or a float like ``1e-05`` is written out). Values come as
``Decimal``, ``float``, ``int`` or the strings a record stores; ``None``
(undefined: no losing trade, fewer than two days) and anything unreadable
show as an en dash.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()

NONE = "\u2013"
"""Shown for an undefined or missing value (an en dash)."""


def _decimal(value: Any) -> Decimal | None:
    """``value`` as a finite ``Decimal``, or ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _fixed(number: Decimal, places: int) -> str:
    """``number`` rounded to ``places`` decimals with separators; no "-0.00"."""
    text = f"{number:,.{places}f}"
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


@register.filter
def money(value: Any) -> str:
    """Dollars with a sign: ``+$1,234.50``, ``-$80.00``, ``$0.00``."""
    number = _decimal(value)
    if number is None:
        return NONE
    text = _fixed(abs(number), 2)
    if text == "0.00":
        return "$0.00"
    return f"{'-' if number < 0 else '+'}${text}"


@register.filter
def dollars(value: Any) -> str:
    """Dollars without a sign, for sizes and balances: ``$50,000.00``."""
    number = _decimal(value)
    return NONE if number is None else f"${_fixed(number, 2)}"


@register.filter
def pct(value: Any, places: int = 2) -> str:
    """A percent already in percent units: ``12.34 %`` (``-`` when negative)."""
    number = _decimal(value)
    return NONE if number is None else f"{_fixed(number, int(places))} %"


@register.filter
def signed_pct(value: Any, places: int = 2) -> str:
    """A percent with its sign: ``+12.34 %``, ``-3.10 %``, ``0.00 %``."""
    number = _decimal(value)
    if number is None:
        return NONE
    text = _fixed(number, int(places))
    return f"+{text} %" if number > 0 and text.strip("0.,") else f"{text} %"


@register.filter
def fraction_pct(value: Any, places: int = 2) -> str:
    """A fraction in [0, 1] as a percent: ``0.6234`` -> ``62.34 %``."""
    number = _decimal(value)
    return NONE if number is None else f"{_fixed(number * 100, int(places))} %"


@register.filter
def num(value: Any, places: int = 2) -> str:
    """A ratio or statistic to ``places`` decimals: ``1.2345`` -> ``1.23``."""
    number = _decimal(value)
    return NONE if number is None else _fixed(number, int(places))


@register.filter
def sign_class(value: Any) -> str:
    """The CSS class of a signed amount: ``posv`` above 0, ``neg`` below, else ""."""
    number = _decimal(value)
    if number is None or number == 0:
        return ""
    return "posv" if number > 0 else "neg"
