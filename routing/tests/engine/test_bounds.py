"""The pure boundary rules (issue 10, defect 8): hand-checked values."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from routing.engine.bounds import (
    DecimalColumn,
    digits_problem,
    length_problem,
    price_problem,
    quantity_problem,
)

COLUMN = DecimalColumn(max_digits=20, decimal_places=6)  # 14 whole digits


@pytest.mark.parametrize("price", ["0.25", "21000", "21000.25", "21000.2500000", "99999999999999"])
def test_possible_prices_pass(price: str) -> None:
    assert price_problem(D(price), D("0.25"), COLUMN) is None


@pytest.mark.parametrize(
    ("price", "problem"),
    [
        ("0", "price must be > 0, got 0"),
        ("-4.75", "price must be > 0, got -4.75"),
        ("21000.10", "price 21000.10 is not on the tick grid (tick size 0.25)"),
        (
            "100000000000000",
            "price 100000000000000 has 15 digits before the decimal point; "
            "the column holds at most 14",
        ),
        ("NaN", "price NaN is not a finite number"),
    ],
)
def test_impossible_prices_are_named(price: str, problem: str) -> None:
    assert price_problem(D(price), D("0.25"), COLUMN) == problem


def test_a_price_without_tick_size_fails_closed() -> None:
    assert price_problem(D("21000"), None, COLUMN) == (
        "price 21000 cannot be checked: no tick size for this contract"
    )


def test_decimal_places_beyond_the_column() -> None:
    assert digits_problem(D("1.0000001"), COLUMN) == (
        "1.0000001 has 7 decimal places; the column holds at most 6"
    )
    assert digits_problem(D("-12345678901234.5"), COLUMN) is None


@pytest.mark.parametrize(("qty", "ok"), [(0, False), (1, True), (10_000, True), (10_001, False)])
def test_quantity_bounds(qty: int, ok: bool) -> None:
    assert (quantity_problem(qty) is None) is ok


def test_length() -> None:
    assert length_problem("x" * 100, 100) is None
    assert length_problem("x" * 101, 100) == (
        f"'{'x' * 37}...' is 101 characters; the column holds at most 100"
    )
