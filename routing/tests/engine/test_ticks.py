"""Prices to the contract's tick precision (routing.engine.ticks), never in
scientific notation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.engine.ticks import price_text, tick_places


@pytest.mark.parametrize(
    ("tick", "places"),
    [("0.25", 2), ("0.10", 1), ("1", 0), ("0.001", 3), ("0.025", 3), ("0.015625", 6), ("5", 0)],
)
def test_tick_places_counts_the_ticks_decimals(tick: str, places: int) -> None:
    assert tick_places(Decimal(tick)) == places


@pytest.mark.parametrize(
    ("price", "tick", "text"),
    [
        ("21520.000000", "0.25", "21520.00"),  # MNQ: never 2.152E+4
        ("21539.5", "0.25", "21539.50"),
        ("42150.000000", "1", "42150"),  # YM: whole points
        ("2050.100000", "0.10", "2050.1"),  # RTY
        ("3.125000", "0.001", "3.125"),  # NG
        ("110.515625", "0.015625", "110.515625"),
        # An average entry between two ticks, half up: (3 x 21000.25 + 21001) / 4.
        ("21000.437500", "0.25", "21000.44"),
        ("21000.625000", "0.25", "21000.63"),
    ],
)
def test_price_text_writes_the_ticks_precision(price: str, tick: str, text: str) -> None:
    assert price_text(Decimal(price), Decimal(tick)) == text


def test_price_text_without_a_tick_writes_plain_digits() -> None:
    assert price_text(Decimal("2.152E+4"), None) == "21520"
    assert price_text(Decimal("21010.500000"), None) == "21010.5"


@pytest.mark.parametrize("tick", ["0", "-0.25", "NaN", "Infinity"])
def test_a_bad_tick_size_is_refused(tick: str) -> None:
    with pytest.raises(ValueError, match="tick size must be a number above 0"):
        price_text(Decimal("1"), Decimal(tick))
