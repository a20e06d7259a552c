"""Template filters for numbers, built into every template (settings'
``TEMPLATES`` ``builtins``), so every page prints money, prices and
percents in one style (:mod:`copytrade.core.numbers`)::

    {{ pnl|money }}  {{ balance|dollars }}  {{ avg_price|price:spec.tick_size }}
    {{ avg_price|contract_price:"MNQH6" }}
    {{ ratio|num }}  {{ ret|signed_pct }}  <td class="{{ pnl|sign_class }}">
"""

from __future__ import annotations

from typing import Any

from django import template

from copytrade.core import numbers
from routing.contract_specs import tick_size_of

register = template.Library()

money = register.filter("money", numbers.money)
dollars = register.filter("dollars", numbers.dollars)
sign_class = register.filter("sign_class", numbers.sign_class)


@register.filter
def price(value: Any, tick_size: Any = None) -> str:
    """A price in points to the tick's precision: ``{{ p|price:tick }}``."""
    return numbers.price(value, tick_size)


@register.filter
def contract_price(value: Any, symbol: str) -> str:
    """A price of contract ``symbol`` (a code, ``MNQH6``, or a root) to its
    tick's precision (the project's spec table,
    :data:`routing.contract_specs.SPECS_BY_ROOT`); an unknown product's price
    is written out as :func:`copytrade.core.numbers.price` does without one."""
    return numbers.price(value, tick_size_of(str(symbol)))


@register.filter
def num(value: Any, places: int = 2) -> str:
    """A ratio or statistic to ``places`` decimals: ``1.2345`` -> ``1.23``."""
    return numbers.fixed(value, int(places))


@register.filter
def signed_num(value: Any, places: int = 2) -> str:
    """A signed figure that is not money (ticks, points): ``+2.00``."""
    return numbers.signed(value, int(places))


@register.filter
def pct(value: Any, places: int = 2) -> str:
    """A percent already in percent units: ``12.34 %``."""
    text = numbers.fixed(value, int(places))
    return text if text == numbers.NONE else f"{text} %"


@register.filter
def signed_pct(value: Any, places: int = 2) -> str:
    """A percent with its sign: ``+12.34 %``, ``-3.10 %``, ``0.00 %``."""
    text = numbers.signed(value, int(places))
    return text if text == numbers.NONE else f"{text} %"


@register.filter
def fraction_pct(value: Any, places: int = 2) -> str:
    """A fraction in [0, 1] as a percent: ``0.6234`` -> ``62.34 %``."""
    number = numbers.as_decimal(value)
    return numbers.NONE if number is None else pct(number * 100, places)
