"""Cell parsers: money and numbers with Decimal, quantities, times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal.importers.values import (
    BadValue,
    parse_decimal,
    parse_iso_time,
    parse_local_time,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$23.75", "23.75"),
        ("$(41.25)", "-41.25"),
        ("-12.50", "-12.50"),
        ("505,420.00", "505420.00"),
        ("$1,234,567.5", "1234567.5"),
        ("-$3.00", "-3.00"),
        ("(7.5)", "-7.5"),
        ("25271.0", "25271.0"),
        ("4215.9", "4215.9"),
        ("0", "0"),
        ("$(0.00)", "0.00"),
    ],
)
def test_numbers(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)
    assert str(parse_decimal(text)) == value  # exact digits kept, never via float


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1e5", "12,34", "1,2345.0", "$(5", "5)", "--5", "(-5)", "1.2.3", "NaN"],
)
def test_not_numbers(text: str) -> None:
    with pytest.raises(BadValue, match="is not a number"):
        parse_decimal(text)


@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12),
    style=st.sampled_from(["dollar", "plain", "grouped"]),
)
def test_money_round_trips_through_every_spelling(cents: int, style: str) -> None:
    value = Decimal(cents).scaleb(-2)
    magnitude = abs(value)
    if style == "dollar":  # Tradovate Performance: $23.75 / $(41.25)
        text = f"$({magnitude:,})" if value < 0 else f"${magnitude:,}"
    elif style == "grouped":
        text = f"{value:,}"
    else:
        text = f"{value}"

    parsed = parse_decimal(text)

    assert parsed == value
    assert parsed.as_tuple().exponent == -2


def test_quantities() -> None:
    assert parse_quantity("10") == 10
    assert parse_quantity("1,000") == 1000
    assert parse_quantity("2.0") == 2
    for bad in ("0", "-3", "1.5"):
        with pytest.raises(BadValue):
            parse_quantity(bad)


def test_local_time_in_a_zone_with_daylight_saving() -> None:
    chicago = ZoneInfo("America/Chicago")
    # CDT (UTC-5) in July, CST (UTC-6) in January.
    assert parse_local_time(
        "07/01/2025 09:30:00", ("%m/%d/%Y %H:%M:%S",), chicago, "x"
    ) == datetime(2025, 7, 1, 14, 30, tzinfo=UTC)
    assert parse_local_time(
        "1/28/2025 10:59:52 AM", ("%m/%d/%Y %I:%M:%S %p",), chicago, "x"
    ) == datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)


def test_iso_time_keeps_its_offset_or_takes_the_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    assert parse_iso_time("2026-02-11 06:34:46.772Z", tokyo) == datetime(
        2026, 2, 11, 6, 34, 46, 772000, tzinfo=UTC
    )
    assert parse_iso_time("2025-05-07T13:00:46.73282+00:00", tokyo).microsecond == 732820
    assert parse_iso_time("2026-02-11 15:34:46", tokyo) == datetime(
        2026, 2, 11, 6, 34, 46, tzinfo=UTC
    )
