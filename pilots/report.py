"""The report ``pilot_stats`` prints: statistics, row results, flags, listing.

Pure: assembles values computed elsewhere and renders them as JSON-ready
data (:func:`report_data`) or text (:func:`report_text`). Money is written
as a string of its ``Decimal`` (no float rounding), statistics as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pilots.anomalies import AnomalyCheck, AnomalyStatus, anomaly_checks
from pilots.ranking import Listing, RankingRecord, ScoreComponents, listing, score
from pilots.stats import PilotStats, pilot_stats
from pilots.trades import RoundTrip
from pilots.verification import RowResult, Status


@dataclass(frozen=True, slots=True)
class Report:
    """Everything about one record.

    ``source`` describes the input (file, format, account, zone, market
    data, nominal size); ``stats`` covers every round trip of the export,
    ``verified_stats`` only those whose every row was verified (what would
    count toward rank); ``listing`` and ``components`` are computed from
    ``verified_stats``; ``notes`` are caveats to show.
    """

    source: dict[str, Any]
    stats: PilotStats
    results: tuple[RowResult, ...]
    anomalies: tuple[AnomalyCheck, ...]
    verified_stats: PilotStats
    listing: Listing
    components: ScoreComponents
    notes: tuple[str, ...]


def verified_trips(trips: Sequence[RoundTrip], results: Sequence[RowResult]) -> list[RoundTrip]:
    """The round trips every one of whose rows is ``verified`` (a trip without rows never is)."""
    status = {result.row: result.status for result in results}
    return [
        trip for trip in trips
        if trip.rows and all(status.get(row) is Status.VERIFIED for row in trip.rows)
    ]


def build_report(*, source: dict[str, Any], trips: Sequence[RoundTrip], nominal: Decimal,
                 results: Sequence[RowResult], prices: Sequence[tuple[Decimal, Decimal]],
                 times: Sequence[datetime], notes: Sequence[str] = ()) -> Report:
    """A :class:`Report` of ``trips`` (close order) on a ``nominal`` size in dollars.

    ``results`` are the rows' verification results; ``prices`` the
    ``(price, tick size)`` and ``times`` the time of every fill, for the
    anomaly checks (:func:`pilots.anomalies.anomaly_checks`). Raises
    ``ValueError`` when ``nominal`` <= 0.
    """
    stats = pilot_stats(trips, nominal)
    verified = pilot_stats(verified_trips(trips, results), nominal)
    record = RankingRecord.of(verified)
    return Report(
        source=source, stats=stats, results=tuple(results),
        anomalies=anomaly_checks(stats, [t.pnl for t in trips], prices, times),
        verified_stats=verified, listing=listing(record), components=score(record),
        notes=tuple(notes),
    )


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def stats_data(stats: PilotStats) -> dict[str, Any]:
    """A JSON-ready dict of ``stats``: money and percents as strings, statistics as numbers."""
    interval = stats.win_rate_interval
    return {
        "nominal": _money(stats.nominal),
        "round_trips": stats.trades, "wins": stats.wins, "losses": stats.losses,
        "scratches": stats.scratches,
        "net_pnl": _money(stats.net_pnl), "return_pct": _money(stats.return_pct),
        "max_drawdown": _money(stats.max_drawdown),
        "max_drawdown_pct": _money(stats.max_drawdown_pct),
        "win_rate": stats.win_rate,
        "win_rate_wilson_95": None if interval is None else [interval.low, interval.high],
        "average_win": _money(stats.average_win), "average_loss": _money(stats.average_loss),
        "profit_factor": _money(stats.profit_factor),
        "trading_days": stats.trading_days, "calendar_days": stats.calendar_days,
        "first_day": None if stats.first_day is None else stats.first_day.isoformat(),
        "last_day": None if stats.last_day is None else stats.last_day.isoformat(),
        "daily_pnl": [
            {"day": d.day.isoformat(), "pnl": str(d.pnl), "round_trips": d.trades}
            for d in stats.daily
        ],
        "sharpe_daily": stats.sharpe, "sharpe_annualised_sqrt252": stats.sharpe_annualised,
        "skewness": stats.skewness, "kurtosis": stats.kurtosis, "psr_0": stats.psr,
    }


def report_data(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    counts = {status.value: 0 for status in Status}
    for result in report.results:
        counts[result.status.value] += 1
    parts = report.components
    return {
        "source": report.source,
        "statistics": stats_data(report.stats),
        "verification": {
            "counts": counts,
            "rows": [
                {
                    "row": r.row, "symbol": r.symbol, "status": r.status.value,
                    "failures": [
                        {"check": f.check.value, "execution": f.execution, "reason": f.reason}
                        for f in r.failures
                    ],
                    "unverified": [
                        {"check": f.check.value, "execution": f.execution, "reason": f.reason}
                        for f in r.missing
                    ],
                }
                for r in report.results
            ],
        },
        "anomalies": [
            {"code": a.code, "status": a.status.value, "detail": a.detail}
            for a in report.anomalies
        ],
        "listing": {
            "eligible": report.listing.listed, "reasons": list(report.listing.reasons),
            "sixty_day_mark": report.listing.seasoned,
            "verified_statistics": stats_data(report.verified_stats),
            "score": {
                "score": parts.score, "return_over_drawdown": parts.return_over_drawdown,
                "largest_day_share": parts.largest_day_share,
                "consistency": parts.consistency, "experience": parts.experience,
                "weight": parts.weight, "passes_topstep_50": parts.passes_topstep,
                "passes_apex_30": parts.passes_apex,
            },
        },
        "notes": list(report.notes),
    }


def _dollars(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def _number(value: float | Decimal | None, digits: int = 2, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def report_text(report: Report) -> str:
    """The report as text for a terminal, one section after another."""
    s, src = report.stats, report.source
    interval = s.win_rate_interval
    wilson = "" if interval is None else (
        f" (95 % Wilson {interval.low:.1%} to {interval.high:.1%})"
    )
    lines = [
        f"Record: {src['file']} ({src['format']}, account {src['account']}), "
        f"zone-less times read in {src['timezone']}",
        f"Nominal account size: {_dollars(s.nominal)}",
        *(f"Market data: {item}" for item in src["market_data"]),
        "",
        "Statistics (every round trip in the export; PnL before commissions unless the "
        "export states fees)",
        f"  Round trips         {s.trades} (wins {s.wins}, losses {s.losses}, "
        f"scratches {s.scratches})",
        f"  Net PnL             {_dollars(s.net_pnl)}",
        f"  Return on nominal   {_number(s.return_pct, suffix=' %')}",
        f"  Max drawdown        {_dollars(s.max_drawdown)} "
        f"({_number(s.max_drawdown_pct, suffix=' %')} of nominal)",
        f"  Win rate            {_number(None if s.win_rate is None else s.win_rate * 100, 1)}"
        f" %{wilson}",
        f"  Average win / loss  {_dollars(s.average_win)} / {_dollars(s.average_loss)}",
        f"  Profit factor       {_number(s.profit_factor)}",
        f"  Trading days        {s.trading_days} over {s.calendar_days} calendar days",
        f"  Sharpe (daily)      {_number(s.sharpe, 3)} per day, "
        f"{_number(s.sharpe_annualised)} annualised (x sqrt 252)",
        f"  PSR(0)              {_number(s.psr, 3)} (skewness {_number(s.skewness)}, "
        f"kurtosis {_number(s.kurtosis)})",
        "  Daily PnL           " + (", ".join(
            f"{d.day.isoformat()} {_dollars(d.pnl)}" for d in s.daily
        ) or "none"),
        "",
    ]
    counts = report_data(report)["verification"]["counts"]
    lines.append(
        f"Verification ({len(report.results)} rows: {counts['verified']} verified, "
        f"{counts['failed']} failed, {counts['unverifiable']} unverifiable)"
    )
    for r in report.results:
        lines.append(f"  row {r.row:<5} {r.symbol:<7} {r.status.value}")
        for finding in r.failures:
            lines.append(f"      failed {finding.check.value} ({finding.execution}): "
                         f"{finding.reason}")
        if r.status is Status.UNVERIFIABLE:
            for finding in r.missing:
                lines.append(f"      not checked {finding.check.value} ({finding.execution}): "
                             f"{finding.reason}")
    lines += ["", "Anomaly flags (a flag sends the pilot to manual review, never removes)"]
    for check in report.anomalies:
        mark = "FLAGGED" if check.status is AnomalyStatus.FLAGGED else check.status.value
        lines.append(f"  {check.code:<24} {mark:<16} {check.detail}")
    v, parts = report.verified_stats, report.components
    lines += [
        "",
        f"Listing (verified round trips only: {v.trades} of {s.trades}, "
        f"{v.trading_days} trading days over {v.calendar_days} calendar days)",
    ]
    if report.listing.listed:
        mark = " with the 60-day mark" if report.listing.seasoned else ""
        lines.append(f"  Eligible for listing{mark}")
    else:
        lines.append("  Not eligible for listing:")
        lines += [f"    - {reason}" for reason in report.listing.reasons]
    lines.append(
        f"  Score {parts.score:.3f} from return/drawdown {parts.return_over_drawdown:.3f} and "
        f"weight {parts.weight:.3f} (consistency {parts.consistency:.2f}, "
        f"experience {parts.experience:.2f})"
    )
    if report.notes:
        lines += ["", "Notes", *(f"  - {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"
