"""Anomaly flags: a too-perfect record is flagged for review, a plausible one is not."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from pilots.anomalies import (
    AnomalyStatus,
    anomaly_checks,
    is_active_hour,
    last_digit_check,
    losing_days_check,
    off_hours_check,
    r_squared,
    round_number_check,
    smooth_equity_check,
    win_rate_check,
)
from pilots.stats import DailyPnl, pilot_stats
from pilots.tests.factories import ct, trip

QUARTER = Decimal("0.25")


def test_win_rate_lower_bound_when_22_straight_wins_then_flagged() -> None:
    # All wins: Wilson low = n / (n + 1.96²): 21 -> 21 / 24.8415 = 0.8454 (clear),
    # 22 -> 22 / 25.8415 = 0.8513 (above 0.85: flagged).
    assert win_rate_check(21, 21).status is AnomalyStatus.CLEAR
    assert win_rate_check(22, 22).status is AnomalyStatus.FLAGGED
    assert "0.851" in win_rate_check(22, 22).detail


def test_win_rate_nine_of_ten_then_clear() -> None:
    assert win_rate_check(9, 10).status is AnomalyStatus.CLEAR
    assert win_rate_check(0, 0).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_r_squared_of_a_line_is_one_and_of_a_zigzag_small() -> None:
    assert r_squared([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    # y = 0, 1, 0, 1: x mean 1.5, y mean 0.5; sxy = (-1.5)(-0.5) + (-0.5)(0.5) + (0.5)(-0.5)
    # + (1.5)(0.5) = 0.75 - 0.25 - 0.25 + 0.75 = 1; sxx = 5; syy = 1 -> r² = 1 / 5 = 0.2.
    assert r_squared([0.0, 1.0, 0.0, 1.0]) == pytest.approx(0.2)
    assert r_squared([1.0, 1.0, 1.0]) is None


def test_equity_on_a_straight_line_over_50_trips_then_flagged() -> None:
    pnls = [Decimal(100)] * 50
    assert smooth_equity_check(pnls).status is AnomalyStatus.FLAGGED
    assert smooth_equity_check(pnls[:49]).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_equity_of_a_noisy_trader_then_clear() -> None:
    # Alternating +300 / -250 over 60 trips drifts up by 25 a trip, but zigzags.
    rng = random.Random(7)
    pnls = [Decimal(rng.choice([300, -250, 150, -200, 50])) for _ in range(60)]
    assert smooth_equity_check(pnls).status is AnomalyStatus.CLEAR


def test_losing_days_when_none_in_20_days_then_flagged() -> None:
    start = ct(2025, 11, 3).date()
    green = [DailyPnl(start + timedelta(days=i), Decimal(100), 1) for i in range(20)]
    assert losing_days_check(green).status is AnomalyStatus.FLAGGED
    # One red day of 20 is 5 %: not below 5 %, clear.
    mixed = [*green[:19], DailyPnl(start + timedelta(days=19), Decimal(-1), 1)]
    assert losing_days_check(mixed).status is AnomalyStatus.CLEAR
    assert losing_days_check(green[:19]).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_prices_all_on_whole_points_then_round_number_flagged() -> None:
    # 40 NQ prices, a quarter expected round (10): 40 observed, z = 30 / sqrt(40 * 3/16) = 10.95.
    invented = [(Decimal(25_000 + i), QUARTER) for i in range(40)]
    result = round_number_check(invented)
    assert result.status is AnomalyStatus.FLAGGED
    assert "40 of 40 prices on round numbers, 10.0 expected" in result.detail


def test_prices_spread_over_the_ticks_then_round_number_clear() -> None:
    # 0.00, 0.25, 0.50, 0.75 in turn: 10 round of 40, exactly as expected.
    spread = [(Decimal(25_000) + QUARTER * i, QUARTER) for i in range(40)]
    assert round_number_check(spread).status is AnomalyStatus.CLEAR


def test_round_number_needs_30_prices() -> None:
    few = [(Decimal(25_000 + i), QUARTER) for i in range(29)]
    assert round_number_check(few).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_last_digit_uniform_then_clear_and_all_one_digit_then_flagged() -> None:
    uniform = [(Decimal(25_000) + QUARTER * i, QUARTER) for i in range(100)]
    assert last_digit_check(uniform).status is AnomalyStatus.CLEAR  # 10 of each digit: chi² 0
    # Every price a whole point ending in 0 ticks: 25,000 * 4 = 100,000 -> digit 0 always;
    # chi² = (50 - 5)² / 5 + 9 * 5 = 405 + 45 = 450.
    stuck = [(Decimal(25_000 + 5 * i), QUARTER) for i in range(50)]
    result = last_digit_check(stuck)
    assert result.status is AnomalyStatus.FLAGGED
    assert "chi-square 450.00" in result.detail
    assert last_digit_check(stuck[:49]).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_active_hours() -> None:
    assert is_active_hour(ct(2025, 12, 3, 2, 0))
    assert is_active_hour(ct(2025, 12, 3, 15, 14))
    assert not is_active_hour(ct(2025, 12, 3, 15, 15))
    assert not is_active_hour(ct(2025, 12, 3, 20, 0))  # Asian evening
    assert not is_active_hour(ct(2025, 11, 30, 18, 0))  # Sunday evening


def test_fills_mostly_in_the_asian_evening_then_off_hours_flagged() -> None:
    night = [ct(2025, 12, 3, 20, i) for i in range(13)]
    day = [ct(2025, 12, 3, 9, i) for i in range(7)]
    # 13 of 20 = 65 % outside: flagged; 12 of 20 = 60 %: not above 60 %, clear.
    assert off_hours_check(night + day).status is AnomalyStatus.FLAGGED
    assert off_hours_check(night[:12] + day + [ct(2025, 12, 3, 9, 30)]).status is (
        AnomalyStatus.CLEAR
    )
    assert off_hours_check(night[:19]).status is AnomalyStatus.NOT_ENOUGH_DATA


def test_too_perfect_record_then_every_record_check_flags() -> None:
    # 60 winning round trips of $100, three a day on 20 weekdays, each at a round price.
    days = [ct(2025, 11, 3) + timedelta(days=d) for d in range(28)]
    weekdays = [d for d in days if d.weekday() < 5][:20]
    trips = [trip(100, day + timedelta(minutes=10 * k)) for day in weekdays for k in range(3)]
    stats = pilot_stats(trips, Decimal(50_000))
    prices = [(Decimal(25_000 + 3 * i), QUARTER) for i in range(60)]
    checks = {c.code: c.status for c in anomaly_checks(
        stats, [t.pnl for t in trips], prices, [t.closed_at for t in trips]
    )}
    assert checks == {
        "win_rate_too_high": AnomalyStatus.FLAGGED,
        "equity_too_smooth": AnomalyStatus.FLAGGED,
        "too_few_losing_days": AnomalyStatus.FLAGGED,
        "round_number_prices": AnomalyStatus.FLAGGED,
        "last_digit_not_uniform": AnomalyStatus.FLAGGED,
        "off_hours_cluster": AnomalyStatus.CLEAR,  # 10:00 CT is active
    }
