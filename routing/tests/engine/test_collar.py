"""The price collar (issue 10, defect 8): hand-computed bands."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from routing.engine.collar import check_price_collar, collar_band


def test_band_of_five_percent_around_21000() -> None:
    # 21000 x 5 % = 1050: 19950 .. 22050.
    assert collar_band(D(21000), D(5)) == (D(19950), D(22050))


@pytest.mark.parametrize("price", ["22050", "19950", "21000", "21000.25"])
def test_prices_inside_the_band_pass(price: str) -> None:
    assert check_price_collar(D(price), D(21000), D(5)) is None


def test_one_tick_above_the_band_is_refused_with_price_mark_and_band() -> None:
    assert check_price_collar(D("22050.25"), D(21000), D(5)) == (
        "PRICE_COLLAR: leader price 22050.25 is outside 19950..22050 "
        "(5% of last mark 21000); not copied"
    )


def test_one_tick_below_the_band_is_refused() -> None:
    assert check_price_collar(D("19949.75"), D(21000), D(5)) is not None


def test_without_a_mark_the_first_price_passes() -> None:
    assert check_price_collar(D("123456789012345"), None, D(5)) is None


def test_a_band_of_zero_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        check_price_collar(D(21000), D(21000), D(0))
