"""Statistics of a record, each worked by hand in the comments."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from statistics import NormalDist

import pytest

from pilots.stats import (
    daily_pnl,
    max_drawdown,
    moments,
    pilot_stats,
    probabilistic_sharpe_ratio,
    session_dates,
    sharpe_ratio,
    wilson_interval,
)
from pilots.tests.factories import ct, trip

# The worked record: nominal $10,000, five round trips (times America/Chicago).
#   A  Mon 2025-12-01 09:00  +300  -> trading date Mon 12-01
#   B  Mon 2025-12-01 12:00  -100  -> Mon 12-01
#   C  Mon 2025-12-01 17:30  -400  -> Tue 12-02 (the session rolled at 17:00)
#   D  Wed 2025-12-03 10:00  +500  -> Wed 12-03
#   E  Fri 2025-12-05 10:00     0  -> Fri 12-05 (a scratch)
NOMINAL = Decimal(10_000)
RECORD = (
    trip(300, ct(2025, 12, 1, 9)),
    trip(-100, ct(2025, 12, 1, 12)),
    trip(-400, ct(2025, 12, 1, 17, 30)),
    trip(500, ct(2025, 12, 3, 10)),
    trip(0, ct(2025, 12, 5, 10)),
)


def test_daily_pnl_when_session_rolls_at_17_then_evening_trade_is_next_day() -> None:
    # Mon: 300 - 100 = 200 (2 trades); Tue: -400; Wed: 500; Fri: 0. Thursday has none.
    days = daily_pnl(RECORD)
    assert [(d.day, d.pnl, d.trades) for d in days] == [
        (date(2025, 12, 1), Decimal(200), 2),
        (date(2025, 12, 2), Decimal(-400), 1),
        (date(2025, 12, 3), Decimal(500), 1),
        (date(2025, 12, 5), Decimal(0), 1),
    ]


def test_daily_pnl_when_sunday_evening_then_monday_trading_date() -> None:
    # Sunday 2025-11-30 18:00 CT is in the session that opened Sunday 17:00: Monday's date.
    (day,) = daily_pnl([trip(50, ct(2025, 11, 30, 18))])
    assert day.day == date(2025, 12, 1)


def test_worked_record_counts_money_and_days() -> None:
    stats = pilot_stats(RECORD, NOMINAL)
    # Net 300 - 100 - 400 + 500 + 0 = 300 -> 300 / 10,000 = 3 %.
    assert stats.net_pnl == Decimal(300)
    assert stats.return_pct == Decimal(3)
    # Equity 10,000 -> 10,300 (peak) -> 10,200 -> 9,800 -> 10,300 -> 10,300:
    # deepest fall 10,300 - 9,800 = 500 = 5 % of nominal.
    assert stats.max_drawdown == Decimal(500)
    assert stats.max_drawdown_pct == Decimal(5)
    # Wins 300, 500; losses -100, -400; one scratch.
    assert (stats.trades, stats.wins, stats.losses, stats.scratches) == (5, 2, 2, 1)
    assert stats.win_rate == pytest.approx(2 / 5)
    # Average win (300 + 500) / 2 = 400; average loss (-100 - 400) / 2 = -250.
    assert stats.average_win == Decimal(400)
    assert stats.average_loss == Decimal(-250)
    # Profit factor 800 / 500 = 1.6.
    assert stats.gross_profit == Decimal(800)
    assert stats.gross_loss == Decimal(-500)
    assert stats.profit_factor == Decimal("1.6")
    # Trading days Mon, Tue, Wed, Fri = 4; calendar days 12-01..12-05 = 5.
    assert stats.trading_days == 4
    assert stats.calendar_days == 5
    assert stats.first_day == date(2025, 12, 1)
    assert stats.last_day == date(2025, 12, 5)
    assert stats.largest_winning_day == Decimal(500)


def test_worked_record_daily_returns_sharpe_and_psr() -> None:
    stats = pilot_stats(RECORD, NOMINAL)
    # Daily returns Mon..Fri, Thursday flat: 200/10k, -400/10k, 500/10k, 0, 0.
    assert stats.daily_returns == pytest.approx((0.02, -0.04, 0.05, 0.0, 0.0))
    # Mean 0.03 / 5 = 0.006; deviations 0.014, -0.046, 0.044, -0.006, -0.006;
    # squares sum 0.000196 + 0.002116 + 0.001936 + 0.000036 + 0.000036 = 0.00432;
    # sample variance 0.00432 / 4 = 0.00108; SR = 0.006 / sqrt(0.00108) = 1 / sqrt(30).
    assert stats.sharpe == pytest.approx(1 / math.sqrt(30))
    assert stats.sharpe_annualised == pytest.approx(math.sqrt(252 / 30))
    # Population moments: m2 = 0.00432 / 5 = 0.000864;
    # m3 = (0.014³ - 0.046³ + 0.044³ - 2 * 0.006³) / 5
    #    = (2.744 - 97.336 + 85.184 - 0.432)e-6 / 5 = -1.968e-6;
    # m4 = (0.014⁴ + 0.046⁴ + 0.044⁴ + 2 * 0.006⁴) / 5
    #    = (0.038416 + 4.477456 + 3.748096 + 0.002592)e-6 / 5 = 1.653312e-6.
    m2, m3, m4 = 0.000864, -1.968e-6, 1.653312e-6
    skew, kurt = m3 / m2**1.5, m4 / m2**2  # -0.07749, 2.21477
    assert stats.skewness == pytest.approx(skew)
    assert stats.kurtosis == pytest.approx(kurt)
    assert skew == pytest.approx(-0.0775, abs=1e-4)
    assert kurt == pytest.approx(2.2148, abs=1e-4)
    # PSR(0) = Φ(SR * sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR²)), n = 5:
    # 1 + 0.07749 * 0.18257 + 1.21477 / 4 / 30 = 1.02427; z = 0.18257 * 2 / 1.01206 = 0.36079.
    sr = 1 / math.sqrt(30)
    z = sr * 2 / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert z == pytest.approx(0.3608, abs=1e-4)
    assert stats.psr == pytest.approx(NormalDist().cdf(z))
    assert stats.psr == pytest.approx(0.6409, abs=1e-4)


def test_wilson_interval_two_of_five() -> None:
    # p = 0.4, z² = 3.84146, z²/n = 0.768291, denominator 1.768291;
    # centre = (0.4 + 0.384146) / 1.768291 = 0.443449;
    # half = 1.959964 / 1.768291 * sqrt(0.24 / 5 + 3.84146 / 100) = 1.108394 * 0.293963 = 0.325826.
    interval = wilson_interval(2, 5)
    assert interval.low == pytest.approx(0.443449 - 0.325826, abs=1e-5)
    assert interval.high == pytest.approx(0.443449 + 0.325826, abs=1e-5)


def test_wilson_interval_all_successes_then_upper_bound_is_one() -> None:
    # p = 1: centre = (1 + z²/2n) / (1 + z²/n), half = z/(1 + z²/n) * z/(2n) -> high = 1,
    # low = 1 / (1 + z²/n) = 20 / (20 + 3.84146) = 0.838874 for n = 20.
    interval = wilson_interval(20, 20)
    assert interval.high == pytest.approx(1.0)
    assert interval.low == pytest.approx(20 / (20 + 1.959964**2), abs=1e-6)


@pytest.mark.parametrize(("successes", "n"), [(0, 0), (-1, 5), (6, 5)])
def test_wilson_interval_when_counts_impossible_then_value_error(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        wilson_interval(successes, n)


def test_max_drawdown_when_equity_only_rises_then_zero() -> None:
    assert max_drawdown([Decimal(1), Decimal(2)], Decimal(100)) == Decimal(0)


def test_max_drawdown_counts_from_the_nominal_size() -> None:
    # Starting at 1,000 (the first high-water mark), a first trade of -200 is a 200 drawdown,
    # then +500 (peak 1,300) and -400 -> 900: the deeper fall is 400.
    pnls = [Decimal(-200), Decimal(500), Decimal(-400)]
    assert max_drawdown(pnls, Decimal(1000)) == Decimal(400)


def test_sharpe_when_fewer_than_two_days_or_flat_then_none() -> None:
    assert sharpe_ratio([0.01]) is None
    assert sharpe_ratio([0.01, 0.01]) is None
    assert moments([0.01, 0.01]) is None


def test_psr_when_sharpe_zero_then_one_half() -> None:
    # z = 0 for SR = SR* = 0 whatever the moments: Φ(0) = 0.5.
    assert probabilistic_sharpe_ratio(0.0, 30, -1.0, 6.0) == pytest.approx(0.5)


def test_psr_of_normal_returns_matches_the_closed_form() -> None:
    # g3 = 0, g4 = 3: z = SR sqrt(n - 1) / sqrt(1 + SR²/2); SR 0.1, n 101: 1 / sqrt(1.005).
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(
        NormalDist().cdf(1 / math.sqrt(1.005))
    )


def test_session_dates_skip_the_weekend() -> None:
    # Fri 12-05 .. Tue 12-09: Fri, Mon, Tue.
    assert session_dates(date(2025, 12, 5), date(2025, 12, 9)) == (
        date(2025, 12, 5), date(2025, 12, 8), date(2025, 12, 9),
    )


def test_no_trades_then_empty_record() -> None:
    stats = pilot_stats([], NOMINAL)
    assert (stats.trades, stats.trading_days, stats.calendar_days) == (0, 0, 0)
    assert stats.win_rate is None and stats.win_rate_interval is None
    assert stats.sharpe is None and stats.psr is None
    assert stats.max_drawdown == 0 and stats.net_pnl == 0
    assert stats.profit_factor is None


def test_nominal_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match="nominal account size"):
        pilot_stats(RECORD, Decimal(0))
