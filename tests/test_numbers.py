"""Numbers as traders read them (copytrade.core.numbers): money, amounts,
prices to the tick, by hand and by property; and that a page's template
filters print them (issue 13: "signed money with one style everywhere",
"prices to the contract's tick precision, no scientific notation")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import engines
from hypothesis import given
from hypothesis import strategies as st

from copytrade.core.numbers import NONE, dollars, fixed, money, price, signed, tick_places

# (value, tick size, shown): hand-written, from the contract specs' ticks.
PRICES = [
    (Decimal("21500.5"), Decimal("0.25"), "21500.50"),  # MNQ: tick 0.25, two places
    (Decimal("21500.250000"), Decimal("0.25"), "21500.25"),  # stored with 6 places
    (Decimal("2.152E+4"), Decimal("0.25"), "21520.00"),  # was printed "2.152E+4"
    (Decimal("110.015625"), Decimal("0.015625"), "110.015625"),  # ZN: 1/64
    (Decimal("4500"), Decimal("1"), "4500"),  # a whole-point tick
    (Decimal("2.1235"), Decimal("0.0005"), "2.1235"),  # a four-place tick
    (Decimal("21500.41666666666666666666667"), Decimal("0.25"), "21500.4167"),  # an average
    (Decimal("21500.415"), Decimal("0.25"), "21500.415"),
    (Decimal("21500.500000"), None, "21500.5"),  # no tick: as people write it
    (Decimal("2.152E+4"), None, "21520"),
    (1e-05, None, "0.00001"),
    (Decimal("-3.5"), Decimal("0.5"), "-3.5"),
    (Decimal("-0.0000001"), None, "0"),  # never "-0"
    (None, Decimal("0.25"), NONE),
    ("abc", None, NONE),
]


@pytest.mark.parametrize(("value", "tick", "shown"), PRICES)
def test_price_is_shown_to_its_tick(value: object, tick: Decimal | None, shown: str) -> None:
    assert price(value, tick) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1234.5"), "+$1,234.50"),
        (Decimal("-80"), "-$80.00"),
        (Decimal("0"), "$0.00"),
        (Decimal("-0.004"), "$0.00"),
        (Decimal("-0.005"), "-$0.01"),  # half up, away from zero, as a ledger rounds
        (Decimal("0.005"), "+$0.01"),
        (Decimal("1E+6"), "+$1,000,000.00"),
        ("-12.345", "-$12.35"),
        (None, NONE),
        ("NaN", NONE),
    ],
)
def test_money_is_signed(value: object, shown: str) -> None:
    assert money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("50000"), "$50,000.00"), (Decimal("-80"), "-$80.00"), (0, "$0.00"), (None, NONE)],
)
def test_dollars_have_no_plus_sign(value: object, shown: str) -> None:
    assert dollars(value) == shown


def test_signed_and_fixed_figures() -> None:
    assert signed(Decimal("2")) == "+2.00" and signed(Decimal("-0.5")) == "-0.50"
    assert signed(0) == "0.00" and signed(Decimal("-0.001")) == "0.00"
    assert fixed(Decimal("1234.567")) == "1,234.57" and fixed(Decimal("-0.001")) == "0.00"


@pytest.mark.parametrize(
    ("tick", "places"),
    [(Decimal("0.25"), 2), (Decimal("0.015625"), 6), (Decimal("1"), 0), (Decimal("0.10"), 1)],
)
def test_tick_places(tick: Decimal, places: int) -> None:
    assert tick_places(tick) == places


@pytest.mark.parametrize("tick", [Decimal(0), Decimal(-1), None, "x"])
def test_tick_places_refuses_a_tick_that_is_not_positive(tick: object) -> None:
    with pytest.raises(ValueError, match="tick size must be a positive number"):
        tick_places(tick)  # type: ignore[arg-type]


decimals = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=8)
ticks = st.sampled_from([Decimal("0.25"), Decimal("0.1"), Decimal("0.015625"), Decimal("1")])


@given(value=decimals)
def test_money_reads_back_to_the_cent(value: Decimal) -> None:
    shown = money(value)
    assert "E" not in shown and "e" not in shown
    cents = Decimal(shown.replace("$", "").replace(",", "").replace("+", ""))
    assert abs(cents - value) <= Decimal("0.005")
    assert shown.startswith("-") == (cents < 0) and shown.startswith("+") == (cents > 0)


@given(value=decimals, tick=ticks)
def test_a_price_on_its_grid_reads_back_exactly(value: Decimal, tick: Decimal) -> None:
    on_grid = (value / tick).to_integral_value() * tick
    shown = price(on_grid, tick)
    assert "E" not in shown and "," not in shown
    assert Decimal(shown) == on_grid
    assert len(shown.partition(".")[2]) == tick_places(tick)


def test_templates_print_one_style_without_loading_anything() -> None:
    template = engines["django"].from_string(
        "{{ pnl|money }} {{ bal|dollars }} {{ p|contract_price:'MNQH6' }} "
        "{{ p|price:'0.25' }} <i class='{{ pnl|sign_class }}'>"
    )
    text = template.render(
        {"pnl": Decimal("-80.5"), "bal": Decimal("50000"), "p": Decimal("2.15205E+4")}
    )
    assert text == "-$80.50 $50,000.00 21520.50 21520.50 <i class='neg'>"
