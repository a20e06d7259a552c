"""Chart and table series of a pilot's record: equity, drawdown, monthly returns.

Pure: takes the daily PnL a record stores (``data["listing"]
["verified_statistics"]["daily_pnl"]``: one ``{"day", "pnl", "round_trips"}``
per CME trading date with a round trip, PnL a ``Decimal`` string in dollars)
and the pilot's declared nominal size, returns exact ``Decimal`` series.

The equity curve starts at the nominal size and adds each day's PnL: it is
the closing balance of each trading date. Its drawdown (equity minus the
running high-water mark, which starts at the nominal size) is therefore the
drawdown at daily closes; the statistic "max drawdown" follows every round
trip (:func:`pilots.stats.max_drawdown`) and can be deeper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class DayPnl:
    """One trading date's net PnL (dollars) and round-trip count."""

    day: date
    pnl: Decimal
    round_trips: int


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The balance at one trading date's close.

    ``equity`` in dollars (nominal + PnL so far); ``drawdown`` dollars below
    the high-water mark (<= 0); ``drawdown_pct`` the same in percent of the
    nominal size (<= 0).
    """

    day: date
    pnl: Decimal
    equity: Decimal
    drawdown: Decimal
    drawdown_pct: Decimal


@dataclass(frozen=True, slots=True)
class MonthlyReturns:
    """One calendar year's row of the monthly returns table.

    ``months`` has 12 entries (January first): the month's summed daily PnL
    over the nominal size in percent, ``None`` for a month without a trading
    date in the record. ``total`` is the year's PnL over the nominal size
    in percent (the sum of its months: returns are on a fixed base, not
    compounded, as in :mod:`pilots.stats`).
    """

    year: int
    months: tuple[Decimal | None, ...]
    total: Decimal


def days_from_data(rows: Iterable[Mapping[str, Any]]) -> list[DayPnl]:
    """The stored ``daily_pnl`` rows as :class:`DayPnl`, in date order.

    Raises ``ValueError`` (or ``decimal.InvalidOperation``) on a row that is
    not a record's: a missing key, a bad date or amount.
    """
    days = [
        DayPnl(date.fromisoformat(row["day"]), Decimal(row["pnl"]), int(row["round_trips"]))
        for row in rows
    ]
    return sorted(days, key=lambda d: d.day)


def equity_curve(days: Sequence[DayPnl], nominal: Decimal, start: date) -> list[EquityPoint]:
    """The closing equity of every day in ``days`` after a first point at ``start``.

    The first point is the nominal size on ``start`` (the record's start,
    e.g. the publishing date; moved to the day before the first trading
    date when it is not earlier). Empty without days: nothing to draw.
    """
    if not days:
        return []
    first = min(start, days[0].day - timedelta(days=1))
    points = [EquityPoint(first, _ZERO, nominal, _ZERO, _ZERO)]
    equity = peak = nominal
    for day in days:
        equity += day.pnl
        peak = max(peak, equity)
        drawdown = equity - peak
        points.append(
            EquityPoint(day.day, day.pnl, equity, drawdown, drawdown / nominal * _HUNDRED)
        )
    return points


def monthly_returns(days: Sequence[DayPnl], nominal: Decimal) -> list[MonthlyReturns]:
    """Per calendar month: the sum of its daily PnL / ``nominal`` x 100, by year.

    Years from the first to the last trading date, oldest first. A day
    belongs to the month of its CME trading date (a Sunday-evening fill
    counts on Monday's date). Raises ``ValueError`` when ``nominal`` <= 0.
    """
    if not nominal > 0:
        raise ValueError(f"nominal account size must be > 0 dollars, got {nominal}")
    if not days:
        return []
    sums: dict[tuple[int, int], Decimal] = {}
    for day in days:
        key = (day.day.year, day.day.month)
        sums[key] = sums.get(key, _ZERO) + day.pnl
    rows = []
    for year in range(days[0].day.year, days[-1].day.year + 1):
        months = tuple(
            None if (year, m) not in sums else sums[(year, m)] / nominal * _HUNDRED
            for m in range(1, 13)
        )
        total = sum((v for v in months if v is not None), _ZERO)
        rows.append(MonthlyReturns(year, months, total))
    return rows


def chart_data(points: Sequence[EquityPoint]) -> dict[str, Any]:
    """The JSON the profile's chart script reads (``json_script``).

    ``days`` ISO dates; ``equity`` and ``drawdown`` dollars as numbers
    rounded to cents (a chart needs floats; the tables keep the exact
    values); ``drawdown_pct`` percent of nominal to 2 dp.
    """
    return {
        "days": [p.day.isoformat() for p in points],
        "equity": [float(round(p.equity, 2)) for p in points],
        "drawdown": [float(round(p.drawdown, 2)) for p in points],
        "drawdown_pct": [float(round(p.drawdown_pct, 2)) for p in points],
    }
