"""Statistical anomaly checks: flags that send a pilot to manual review.

A flag never removes a trade or a pilot: it asks a person to look. Each
check returns an :class:`AnomalyCheck` that is ``flagged``, ``clear`` or
``not_enough_data`` (with the minimum it needs), and a detail with the
numbers. Pure: values in, values out. Every threshold is a constant below
with the reason for its value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum

from pilots.stats import DailyPnl, PilotStats, wilson_interval
from routing.engine.sessions import CHICAGO

WIN_RATE_LOWER_BOUND = 0.85
"""Flag when the 95 % Wilson lower bound of the win rate exceeds 85 %.

A lower bound, not the rate: 9 wins of 10 (bound 0.60) is luck, 50 wins in
a row (bound 0.93) is not. Even scalpers with wide stops rarely sustain
hit rates above 80 % over many trades; a bound above 0.85 needs at least
22 straight wins (all-win lower bound n / (n + 1.96²)), so short streaks are
never flagged. No separate minimum: the bound itself accounts for n.
"""

SMOOTH_R2 = 0.99
SMOOTH_MIN_TRADES = 50
"""Flag when the cumulative PnL over trade number fits a straight line with R² >= 0.99
(at least 50 round trips).

Simulated random walks of 50 trades with a per-trade Sharpe ratio of 0.3
(an outstanding trader: a t-statistic of 2.1 over 50 trades) reach R² >= 0.99
less than 1 % of the time (median 0.86, 99th percentile 0.98; 2,000 paths,
seeded); at 0.5 per trade the median is 0.95. Below 50 trades a few lucky
trades line up too easily.
"""

LOSING_DAYS_MAX_SHARE = 0.05
LOSING_DAYS_MIN_DAYS = 20
"""Flag when fewer than 5 % of trading days lose (at least 20 trading days).

A trader who wins 80 % of days, already exceptional, has all of 20 days
green with probability 0.8^20 = 1.2 %. A record with nearly no red days over
a month is far more often a curated record than a real one.
"""

ROUND_MIN_PRICES = 30
ROUND_MIN_EXPECTED = 5.0
ROUND_Z = 3.09
ROUND_MIN_RATIO = 2.0
"""Round-number prices: flag when the share of prices on a round number is both
significantly (one-sided z > 3.09, p < 0.001) and materially (at least twice)
above what the tick grid gives by chance.

A price is *round* on a whole point when the tick is below 1 point (NQ
0.25: a quarter of prices by chance), on a multiple of 10 ticks otherwise
(YM, tick 1: a tenth). Needs 30 prices and an expected round count of at
least 5, where the normal approximation to the binomial holds. Real order
flow already clusters on round numbers (Harris, "Stock price clustering
and discreteness", Review of Financial Studies 4(3), 1991), hence the
strict level and the factor 2: invented prices cluster far more.
"""

DIGIT_MIN_PRICES = 50
DIGIT_CHI2_CRITICAL = 27.877
"""Benford-style last-digit test (Nigrini, "Benford's Law", Wiley 2012, ch. 8 on
last-digit tests): the last digit of each price counted in ticks should be
uniform over 0-9 for prices spread over many ticks. Flag when the chi-square
statistic with 9 degrees of freedom exceeds 27.877 (p < 0.001). Needs 50
prices (5 expected per digit, the usual minimum for a chi-square cell).
First-digit Benford does not apply to prices, which stay within a few
percent of each other.
"""

ACTIVE_START = time(2, 0)
ACTIVE_END = time(15, 15)
OFF_HOURS_MAX_SHARE = 0.60
OFF_HOURS_MIN_TRADES = 20
"""Active hours: 02:00-15:15 America/Chicago, Monday to Friday (the European
morning through the US equity close); the Asian evening after the 17:00
reopen is the thinnest part of the Globex day.

Those 13 1/4 hours are 58 % of the 23-hour session, so a trader spread
evenly over the clock has 42 % of fills outside them. Flag when more than
60 % are outside (the record leans to the thin hours, not merely spans
them), with at least 20 fills. A trader who keeps Asian hours is reviewed,
not removed.
"""


class AnomalyStatus(StrEnum):
    """The outcome of one anomaly check."""

    FLAGGED = "flagged"  # send to manual review
    CLEAR = "clear"  # tested, nothing unusual
    NOT_ENOUGH_DATA = "not_enough_data"  # below the check's minimum: not tested


@dataclass(frozen=True, slots=True)
class AnomalyCheck:
    """One check: its ``code``, ``status`` and a ``detail`` with the numbers and threshold."""

    code: str
    status: AnomalyStatus
    detail: str


def win_rate_check(wins: int, trades: int) -> AnomalyCheck:
    """``win_rate_too_high``: Wilson lower bound above :data:`WIN_RATE_LOWER_BOUND`."""
    code = "win_rate_too_high"
    if trades == 0:
        return AnomalyCheck(code, AnomalyStatus.NOT_ENOUGH_DATA, "no round trips")
    low = wilson_interval(wins, trades).low
    detail = (f"{wins} wins of {trades} round trips: 95 % Wilson lower bound {low:.3f} "
              f"(flagged above {WIN_RATE_LOWER_BOUND})")
    status = AnomalyStatus.FLAGGED if low > WIN_RATE_LOWER_BOUND else AnomalyStatus.CLEAR
    return AnomalyCheck(code, status, detail)


def r_squared(values: Sequence[float]) -> float | None:
    """R² of the least-squares line of ``values`` against their index 0, 1, 2...

    ``r² = cov(x, y)² / (var x · var y)``; ``None`` with fewer than 3 values
    or constant values (a flat line has no fit to speak of).
    """
    n = len(values)
    if n < 3:
        return None
    mean_x, mean_y = (n - 1) / 2, math.fsum(values) / n
    sxy = math.fsum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    sxx = math.fsum((i - mean_x) ** 2 for i in range(n))
    syy = math.fsum((y - mean_y) ** 2 for y in values)
    if syy == 0:
        return None
    return sxy * sxy / (sxx * syy)


def smooth_equity_check(pnls: Sequence[Decimal]) -> AnomalyCheck:
    """``equity_too_smooth``: cumulative PnL per round trip on a line (R² >= 0.99, >= 50 trips)."""
    code = "equity_too_smooth"
    if len(pnls) < SMOOTH_MIN_TRADES:
        return AnomalyCheck(code, AnomalyStatus.NOT_ENOUGH_DATA,
                            f"{len(pnls)} round trips; the test needs {SMOOTH_MIN_TRADES}")
    equity, curve = Decimal(0), []
    for pnl in pnls:
        equity += pnl
        curve.append(float(equity))
    fit = r_squared(curve)
    rising = equity > 0
    flagged = fit is not None and fit >= SMOOTH_R2 and rising
    detail = (f"R² of cumulative PnL over {len(pnls)} round trips "
              f"{'undefined' if fit is None else f'{fit:.4f}'} (flagged at >= {SMOOTH_R2} "
              "when the record gains)")
    return AnomalyCheck(code, AnomalyStatus.FLAGGED if flagged else AnomalyStatus.CLEAR, detail)


def losing_days_check(daily: Sequence[DailyPnl]) -> AnomalyCheck:
    """``too_few_losing_days``: under 5 % losing trading days over at least 20 days."""
    code = "too_few_losing_days"
    if len(daily) < LOSING_DAYS_MIN_DAYS:
        return AnomalyCheck(code, AnomalyStatus.NOT_ENOUGH_DATA,
                            f"{len(daily)} trading days; the test needs {LOSING_DAYS_MIN_DAYS}")
    losing = sum(1 for day in daily if day.pnl < 0)
    share = losing / len(daily)
    detail = (f"{losing} losing days of {len(daily)} ({share:.0%}; flagged below "
              f"{LOSING_DAYS_MAX_SHARE:.0%})")
    status = AnomalyStatus.FLAGGED if share < LOSING_DAYS_MAX_SHARE else AnomalyStatus.CLEAR
    return AnomalyCheck(code, status, detail)


def round_unit(tick: Decimal) -> Decimal:
    """The round number for a tick size: 1 point below a 1-point tick, else 10 ticks."""
    return Decimal(1) if tick < 1 else tick * 10


def round_number_check(prices: Sequence[tuple[Decimal, Decimal]]) -> AnomalyCheck:
    """``round_number_prices``: ``(price, tick)`` pairs on round numbers too often.

    Expected count = sum of tick / unit per price; z = (observed - expected) /
    sqrt(sum p(1 - p)). See :data:`ROUND_MIN_PRICES` for the thresholds.
    """
    code = "round_number_prices"
    chances = [float(tick / round_unit(tick)) for _, tick in prices]
    expected = math.fsum(chances)
    if len(prices) < ROUND_MIN_PRICES or expected < ROUND_MIN_EXPECTED:
        return AnomalyCheck(
            code, AnomalyStatus.NOT_ENOUGH_DATA,
            f"{len(prices)} prices, {expected:.1f} round by chance; the test needs "
            f"{ROUND_MIN_PRICES} prices and {ROUND_MIN_EXPECTED:.0f} expected",
        )
    observed = sum(1 for price, tick in prices if price % round_unit(tick) == 0)
    spread = math.sqrt(math.fsum(p * (1 - p) for p in chances))
    z = (observed - expected) / spread if spread else 0.0
    flagged = z > ROUND_Z and observed >= ROUND_MIN_RATIO * expected
    detail = (f"{observed} of {len(prices)} prices on round numbers, {expected:.1f} expected "
              f"by chance (z {z:.2f}; flagged above {ROUND_Z} and at {ROUND_MIN_RATIO:.0f}x)")
    return AnomalyCheck(code, AnomalyStatus.FLAGGED if flagged else AnomalyStatus.CLEAR, detail)


def last_digit_check(prices: Sequence[tuple[Decimal, Decimal]]) -> AnomalyCheck:
    """``last_digit_not_uniform``: chi-square of the last digit of price / tick vs uniform."""
    code = "last_digit_not_uniform"
    n = len(prices)
    if n < DIGIT_MIN_PRICES:
        return AnomalyCheck(code, AnomalyStatus.NOT_ENOUGH_DATA,
                            f"{n} prices; the test needs {DIGIT_MIN_PRICES}")
    counts = [0] * 10
    for price, tick in prices:
        counts[int(price / tick) % 10] += 1
    expected = n / 10
    chi2 = math.fsum((c - expected) ** 2 / expected for c in counts)
    detail = (f"last digits (in ticks) 0-9: {counts}; chi-square {chi2:.2f} "
              f"(flagged above {DIGIT_CHI2_CRITICAL}, 9 degrees of freedom, p < 0.001)")
    status = AnomalyStatus.FLAGGED if chi2 > DIGIT_CHI2_CRITICAL else AnomalyStatus.CLEAR
    return AnomalyCheck(code, status, detail)


def is_active_hour(at: datetime) -> bool:
    """Whether ``at`` (aware) is Monday-Friday 02:00-15:15 America/Chicago."""
    local = at.astimezone(CHICAGO)
    return local.weekday() < 5 and ACTIVE_START <= local.time() < ACTIVE_END


def off_hours_check(times: Sequence[datetime]) -> AnomalyCheck:
    """``off_hours_cluster``: more than 60 % of fills outside the active hours (>= 20 fills)."""
    code = "off_hours_cluster"
    n = len(times)
    if n < OFF_HOURS_MIN_TRADES:
        return AnomalyCheck(code, AnomalyStatus.NOT_ENOUGH_DATA,
                            f"{n} fills; the test needs {OFF_HOURS_MIN_TRADES}")
    outside = sum(1 for at in times if not is_active_hour(at))
    share = outside / n
    detail = (f"{outside} of {n} fills outside 02:00-15:15 CT ({share:.0%}; flagged above "
              f"{OFF_HOURS_MAX_SHARE:.0%})")
    status = AnomalyStatus.FLAGGED if share > OFF_HOURS_MAX_SHARE else AnomalyStatus.CLEAR
    return AnomalyCheck(code, status, detail)


def anomaly_checks(
    stats: PilotStats, trip_pnls: Sequence[Decimal],
    prices: Sequence[tuple[Decimal, Decimal]], times: Sequence[datetime],
) -> tuple[AnomalyCheck, ...]:
    """Every check on a record: its statistics, round-trip PnLs in close order,
    ``(price, tick)`` of each fill and each fill's time (aware)."""
    return (
        win_rate_check(stats.wins, stats.trades),
        smooth_equity_check(trip_pnls),
        losing_days_check(stats.daily),
        round_number_check(prices),
        last_digit_check(prices),
        off_hours_check(times),
    )
