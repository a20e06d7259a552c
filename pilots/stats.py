"""A pilot's record in numbers: PnL, drawdown, win rate, Sharpe and PSR.

Pure: takes round trips (:mod:`pilots.trades`) and a declared nominal
account size, returns :class:`PilotStats`. No Django, no I/O, no clock.

Units. Money is ``Decimal`` dollars; returns and drawdowns relative to the
nominal size are ``Decimal`` percent (``Decimal("30")`` is 30 %), exact
because they are money over money. Statistics that are estimates (win-rate
interval, Sharpe ratio, skewness, kurtosis, PSR) are ``float``.

Days. A round trip belongs to the CME trading date of its close
(:func:`routing.engine.sessions.trading_date`: the session opens 17:00
America/Chicago, the date is the day it closes). The daily return series
used for the Sharpe ratio covers *every* trading date (Monday to Friday)
from the first to the last day with a round trip, a date without one
counting as a 0 return: a pilot who sits out bad-looking days is not scored
as if those days did not exist. A day's return is its PnL over the nominal
size, not over that day's opening equity: futures are sized in contracts
against a declared account, and a fixed base keeps a drawdown from
inflating the returns that follow it. Exchange holidays are not known here and
count as flat days (a slightly lower Sharpe, never a higher one for a
profitable record).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import NormalDist

from pilots.trades import RoundTrip
from routing.engine.sessions import trading_date

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

WILSON_Z_95 = NormalDist().inv_cdf(0.975)
"""1.959963984540054: the two-sided 95 % standard normal quantile."""

TRADING_DAYS_PER_YEAR = 252
"""Annualisation of daily Sharpe ratios: sqrt(252) (the usual US trading-year count)."""


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """Net PnL (dollars) of the round trips closed on one trading date, and their count."""

    day: date
    pnl: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence interval ``[low, high]`` of a proportion, both in [0, 1]."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class PilotStats:
    """Statistics of one record; every figure documented with its unit.

    Counts: ``trades`` round trips, of which ``wins`` (PnL > 0), ``losses``
    (PnL < 0) and ``scratches`` (PnL = 0). ``win_rate`` = wins / trades
    (scratches count as non-wins), ``win_rate_interval`` its 95 % Wilson
    interval; both ``None`` without trades.

    Money (``Decimal`` dollars): ``nominal`` the declared account size,
    ``net_pnl``, ``gross_profit`` (sum of wins, >= 0), ``gross_loss`` (sum
    of losses, <= 0), ``average_win`` (> 0) / ``average_loss`` (< 0, ``None``
    without wins / losses), ``max_drawdown`` (>= 0), ``largest_winning_day``
    (the best day's PnL when > 0, else ``None``).

    Percent of ``nominal`` (``Decimal``): ``return_pct``, ``max_drawdown_pct``.
    ``profit_factor`` = gross profit / |gross loss| (``Decimal``, ``None``
    when there is no losing trade: undefined).

    Days: ``daily`` the PnL per trading date with a round trip, in date
    order; ``trading_days`` = len(daily); ``calendar_days`` = last - first
    trading date + 1 (0 without trades); ``daily_returns`` the fractions
    pnl / nominal over every Monday-Friday date of that span (``float``).

    Sharpe (``float``): ``sharpe`` = mean / sample standard deviation of
    ``daily_returns``, per day, *not* annualised; ``sharpe_annualised`` =
    ``sharpe`` x sqrt(252); ``skewness`` and ``kurtosis`` (non-excess: 3 for
    a normal distribution) of the daily returns; ``psr`` the probabilistic
    Sharpe ratio PSR(0) in [0, 1]. Each is ``None`` when it is undefined
    (fewer than 2 days, or every day the same return).
    """

    nominal: Decimal
    trades: int
    wins: int
    losses: int
    scratches: int
    win_rate: float | None
    win_rate_interval: Interval | None
    net_pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    average_win: Decimal | None
    average_loss: Decimal | None
    profit_factor: Decimal | None
    return_pct: Decimal
    max_drawdown: Decimal
    max_drawdown_pct: Decimal
    daily: tuple[DailyPnl, ...]
    trading_days: int
    calendar_days: int
    largest_winning_day: Decimal | None
    daily_returns: tuple[float, ...]
    sharpe: float | None
    sharpe_annualised: float | None
    skewness: float | None
    kurtosis: float | None
    psr: float | None

    @property
    def first_day(self) -> date | None:
        """The first trading date with a round trip, ``None`` without trades."""
        return self.daily[0].day if self.daily else None

    @property
    def last_day(self) -> date | None:
        """The last trading date with a round trip, ``None`` without trades."""
        return self.daily[-1].day if self.daily else None


def daily_pnl(trips: Iterable[RoundTrip]) -> tuple[DailyPnl, ...]:
    """Net PnL per CME trading date of the round trips' close, in date order.

    Only dates with at least one round trip appear. The trading date is
    :func:`routing.engine.sessions.trading_date` of ``closed_at`` (sessions
    roll at 17:00 America/Chicago, DST-aware).
    """
    pnl: dict[date, Decimal] = {}
    count: dict[date, int] = {}
    for trip in trips:
        day = trading_date(trip.closed_at)
        pnl[day] = pnl.get(day, _ZERO) + trip.pnl
        count[day] = count.get(day, 0) + 1
    return tuple(DailyPnl(day, pnl[day], count[day]) for day in sorted(pnl))


def max_drawdown(pnls: Iterable[Decimal], start: Decimal) -> Decimal:
    """Largest fall (dollars, >= 0) of equity below its running high-water mark.

    Equity starts at ``start`` (the nominal size, which is also the first
    high-water mark) and adds each PnL in order; the drawdown after a step
    is high-water mark - equity. Applied to closed round trips this is the
    closed-trade drawdown (intraday open-position swings are not in an
    export's round trips). Source: the usual peak-to-trough definition, as in
    prop firms' trailing drawdown (Topstep, Apex) on closed balance.
    """
    equity = peak = start
    worst = _ZERO
    for pnl in pnls:
        equity += pnl
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def wilson_interval(successes: int, n: int, z: float = WILSON_Z_95) -> Interval:
    """Wilson score interval of a proportion ``successes / n``.

    ``centre = (p + z²/2n) / (1 + z²/n)``, ``half = z / (1 + z²/n) ·
    sqrt(p(1-p)/n + z²/4n²)``; ``[centre - half, centre + half]``. The exact
    interval always holds ``p`` and lies in [0, 1] (its low end is exactly 0
    at 0 successes); the float bounds are clipped to both, since rounding
    left ``centre - half`` at 7e-18 for 0 of 47. Source: E. B. Wilson, "Probable
    inference, the law of succession, and statistical inference", JASA 22
    (1927) 209-212. Unlike the normal ("Wald") interval it never leaves
    [0, 1] and is not degenerate at 0 or n successes.

    Raises ``ValueError`` when ``n`` <= 0 or ``successes`` is not in [0, n].
    """
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def sharpe_ratio(returns: Sequence[float]) -> float | None:
    """Per-period Sharpe ratio: mean / sample standard deviation (n - 1), no risk-free rate.

    Not annualised (multiply by sqrt(252) for daily returns). ``None`` with
    fewer than 2 returns or a standard deviation of 0. Source: W. F. Sharpe,
    "The Sharpe Ratio", Journal of Portfolio Management 21(1), 1994 (ex-post
    ratio with a zero benchmark: futures margin earns the risk-free rate, so
    the excess return of a futures account is its PnL).
    """
    n = len(returns)
    if n < 2:
        return None
    mean = math.fsum(returns) / n
    variance = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance)


def moments(returns: Sequence[float]) -> tuple[float, float] | None:
    """``(skewness, kurtosis)`` of ``returns``: population (biased) moment ratios.

    ``skewness = m3 / m2^1.5``, ``kurtosis = m4 / m2²`` (non-excess: 3 for a
    normal distribution), ``mk`` the k-th central moment with divisor n, as
    gamma3 and gamma4 in Bailey & López de Prado (2012). ``None`` with fewer than 2
    returns or zero variance.
    """
    n = len(returns)
    if n < 2:
        return None
    mean = math.fsum(returns) / n
    m2 = math.fsum((r - mean) ** 2 for r in returns) / n
    if m2 <= 0:
        return None
    m3 = math.fsum((r - mean) ** 3 for r in returns) / n
    m4 = math.fsum((r - mean) ** 4 for r in returns) / n
    return m3 / m2**1.5, m4 / (m2 * m2)


def probabilistic_sharpe_ratio(
    sharpe: float, n: int, skewness: float, kurtosis: float, benchmark: float = 0.0
) -> float | None:
    """PSR(SR*): probability that the true Sharpe ratio exceeds ``benchmark``.

    ``PSR = Φ( (SR - SR*) · sqrt(n - 1) / sqrt(1 - g3·SR + (g4 - 1)/4 · SR²) )``
    with Φ the standard normal CDF, ``SR`` the observed *per-period*
    (non-annualised) Sharpe ratio of ``n`` returns, g3 their skewness and g4
    their (non-excess) kurtosis. Source: D. H. Bailey and M. López de
    Prado, "The Sharpe Ratio Efficient Frontier", Journal of Risk 15(2),
    2012, eq. (11) (the variance of the SR estimator after Mertens, 2002).

    The result is in [0, 1]. For fixed moments it increases with ``sharpe``
    while g3·SR < 2 (the derivative of the argument is proportional to
    1 - g3·SR/2), which covers every realistic daily record. ``None`` when
    ``n`` < 2 or the variance term is not positive (degenerate moments).
    """
    if n < 2:
        return None
    variance = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe * sharpe
    if variance <= 0:
        return None
    z = (sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(variance)
    return NormalDist().cdf(z)


def session_dates(first: date, last: date) -> tuple[date, ...]:
    """Every CME trading date (Monday to Friday) from ``first`` to ``last``, inclusive."""
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return tuple(day for day in days if day.weekday() < 5)


def pilot_stats(trips: Sequence[RoundTrip], nominal: Decimal) -> PilotStats:
    """Every statistic of a record of round trips on a declared ``nominal`` size (dollars).

    ``trips`` in close order (the drawdown follows that order; ties keep
    the given order). Raises ``ValueError`` when ``nominal`` <= 0. See
    :class:`PilotStats` for each field and the functions above for the
    formulas and their sources.
    """
    if not nominal > 0:
        raise ValueError(f"nominal account size must be > 0 dollars, got {nominal}")
    ordered = sorted(trips, key=lambda trip: trip.closed_at)
    n = len(ordered)
    wins = [t.pnl for t in ordered if t.is_win]
    losses = [t.pnl for t in ordered if t.is_loss]
    net = sum((t.pnl for t in ordered), _ZERO)
    gross_profit = sum(wins, _ZERO)
    gross_loss = sum(losses, _ZERO)
    drawdown = max_drawdown((t.pnl for t in ordered), nominal)
    daily = daily_pnl(ordered)

    returns: tuple[float, ...] = ()
    if daily:
        by_day = {d.day: d.pnl for d in daily}
        returns = tuple(
            float(by_day.get(day, _ZERO) / nominal)
            for day in session_dates(daily[0].day, daily[-1].day)
        )
    sharpe = sharpe_ratio(returns)
    shape = moments(returns)
    psr = None
    if sharpe is not None and shape is not None:
        psr = probabilistic_sharpe_ratio(sharpe, len(returns), *shape)
    best_day = max((d.pnl for d in daily), default=None)

    return PilotStats(
        nominal=nominal,
        trades=n,
        wins=len(wins),
        losses=len(losses),
        scratches=n - len(wins) - len(losses),
        win_rate=len(wins) / n if n else None,
        win_rate_interval=wilson_interval(len(wins), n) if n else None,
        net_pnl=net,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        average_win=gross_profit / len(wins) if wins else None,
        average_loss=gross_loss / len(losses) if losses else None,
        profit_factor=gross_profit / -gross_loss if losses else None,
        return_pct=net / nominal * _HUNDRED,
        max_drawdown=drawdown,
        max_drawdown_pct=drawdown / nominal * _HUNDRED,
        daily=daily,
        trading_days=len(daily),
        calendar_days=(daily[-1].day - daily[0].day).days + 1 if daily else 0,
        largest_winning_day=best_day if best_day is not None and best_day > 0 else None,
        daily_returns=returns,
        sharpe=sharpe,
        sharpe_annualised=sharpe * math.sqrt(TRADING_DAYS_PER_YEAR) if sharpe is not None else None,
        skewness=shape[0] if shape else None,
        kurtosis=shape[1] if shape else None,
        psr=psr,
    )
