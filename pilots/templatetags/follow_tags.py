"""Template filters of the following pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def dollars(value: Decimal | int | None) -> str:
    """``Decimal("-1234.5")`` -> ``"-$1,234.50"``; ``None`` -> an en dash."""
    if value is None:
        return "\u2013"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


@register.filter
def price(value: Decimal | None) -> str:
    """A price in points to two decimals (an average may have more), or a dash."""
    return "\u2013" if value is None else f"{value:,.2f}"
