"""Equity, drawdown and monthly returns of a stored record (pilots.board.series),
and the numbers' formatting on the pilot pages (copytrade.core.number_filters), by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from copytrade.core.number_filters import (
    dollars,
    fraction_pct,
    money,
    num,
    pct,
    sign_class,
    signed_pct,
)
from pilots.board.series import (
    DayPnl,
    chart_data,
    days_from_data,
    equity_curve,
    monthly_returns,
)

NOMINAL = Decimal(50_000)


def _days(*rows: tuple[date, str]) -> list[DayPnl]:
    return [DayPnl(day, Decimal(pnl), 1) for day, pnl in rows]


def test_equity_and_drawdown_from_the_nominal_size() -> None:
    # 50,000 -> +1,000 (51,000, new high) -> -1,500 (49,500: 1,500 below
    # 51,000 = 3 % of nominal) -> +500 (50,000: -1,000, -2 %) -> +2,000
    # (52,000: new high, 0).
    days = _days(
        (date(2026, 1, 5), "1000"), (date(2026, 1, 6), "-1500"),
        (date(2026, 1, 7), "500"), (date(2026, 1, 8), "2000"),
    )
    points = equity_curve(days, NOMINAL, start=date(2026, 1, 2))
    assert [p.day for p in points] == [
        date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 8)
    ]
    assert [p.equity for p in points] == [50_000, 51_000, 49_500, 50_000, 52_000]
    assert [p.drawdown for p in points] == [0, 0, -1_500, -1_000, 0]
    assert [p.drawdown_pct for p in points] == [0, 0, -3, -2, 0]
    assert chart_data(points)["drawdown_pct"] == [0.0, 0.0, -3.0, -2.0, 0.0]


def test_a_loss_on_the_first_day_is_a_drawdown_below_the_nominal_size() -> None:
    points = equity_curve(_days((date(2026, 1, 5), "-250.50")), NOMINAL, start=date(2026, 1, 5))
    # The start is moved to the day before the first trading date.
    assert points[0].day == date(2026, 1, 4)
    assert points[1].drawdown == Decimal("-250.50")
    assert points[1].drawdown_pct == Decimal("-0.501")
    assert equity_curve([], NOMINAL, start=date(2026, 1, 5)) == []


def test_monthly_returns_sum_each_month_over_the_nominal_size() -> None:
    # December 2025: +1,000 - 250 = +750 = 1.5 %; January 2026: nothing;
    # February 2026: -500 = -1 %.
    days = _days(
        (date(2025, 12, 1), "1000"), (date(2025, 12, 31), "-250"), (date(2026, 2, 2), "-500")
    )
    first, second = monthly_returns(days, NOMINAL)
    assert first.year == 2025 and first.months[11] == Decimal("1.5")
    assert first.months[:11] == (None,) * 11 and first.total == Decimal("1.5")
    assert second.year == 2026
    assert second.months[0] is None and second.months[1] == Decimal(-1)
    assert second.total == Decimal(-1)
    with pytest.raises(ValueError, match="must be > 0"):
        monthly_returns(days, Decimal(0))


def test_days_read_from_a_record_are_in_date_order() -> None:
    rows = [
        {"day": "2026-01-06", "pnl": "-12.50", "round_trips": 2},
        {"day": "2026-01-05", "pnl": "40.00", "round_trips": 1},
    ]
    assert days_from_data(rows) == [
        DayPnl(date(2026, 1, 5), Decimal("40.00"), 1),
        DayPnl(date(2026, 1, 6), Decimal("-12.50"), 2),
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1234.5", "+$1,234.50"), (Decimal("-80"), "-$80.00"), ("0.00", "$0.00"),
        ("-0.001", "$0.00"), (Decimal("1E+6"), "+$1,000,000.00"), (None, "\u2013"),
        ("abc", "\u2013"), ("NaN", "\u2013"),
    ],
)
def test_money_has_one_signed_style(value: object, shown: str) -> None:
    assert money(value) == shown


def test_percents_and_ratios_to_fixed_decimals_never_scientific() -> None:
    assert pct("5.000") == "5.00 %" and pct(Decimal("1E+1")) == "10.00 %"
    assert signed_pct("30") == "+30.00 %" and signed_pct("-3.1") == "-3.10 %"
    assert signed_pct("0.001") == "0.00 %" and signed_pct("-0.001") == "0.00 %"
    assert fraction_pct(0.9333333) == "93.33 %" and fraction_pct(1e-05) == "0.00 %"
    assert num(1.23456e-7, 3) == "0.000" and num(12345.678) == "12,345.68"
    assert dollars("50000") == "$50,000.00" and num(None) == "\u2013"
    assert sign_class("-1") == "neg" and sign_class("2") == "posv" and sign_class("0") == ""
