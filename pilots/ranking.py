"""The published leaderboard score and the listing rules.

Pure: takes each pilot's verified statistics (:class:`pilots.stats.PilotStats`,
computed from *verified* round trips only) and returns scores, their
components (shown on the page) and why a pilot is not listed.

The score, as published::

    base        = return % / max(max drawdown %, 1)          (return over drawdown)
    consistency = 1 - largest winning day / net profit       (clipped to [0, 1]; 0 if net <= 0)
    experience  = min(trading days, 60) / 60
    weight      = (1/2 + consistency/2) · (1/2 + experience/2)        (in [1/4, 1])
    score       = base · weight     when base >= 0
                  base / weight     when base < 0

* Return over drawdown ranks risk-adjusted, never raw return: 30 % made
  with a 5 % drawdown (base 6) ranks above 50 % with 35 % (base 1.43). The
  drawdown is floored at 1 % of nominal: below that a drawdown says more
  about how few trades there were than about risk control, and one lucky
  week would otherwise top the board.
* Consistency follows the prop firms' consistency rules, which cap the
  share of the profit made on the single best day: Topstep's 50 % rule and
  Apex's 30 % rule (their published payout rules). A record whose best day
  is half its profit keeps 3/4 of its base on this factor.
* Experience rewards a longer verified record up to 60 trading days (about
  three months), the same horizon as the 60-day mark.
* A losing record (base < 0) is *divided* by the weight, so consistency and
  experience can only ever raise a score, whatever its sign.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from pilots.stats import PilotStats

MIN_CALENDAR_DAYS = 30
"""Listing needs verified history spanning at least 30 calendar days (issue 11)."""

MIN_TRADING_DAYS = 15
"""... and at least 15 trading days with a verified round trip (issue 11)."""

SEASONED_CALENDAR_DAYS = 60
"""A pilot with 60+ calendar days of verified history gets the 60-day mark."""

DRAWDOWN_FLOOR_PCT = Decimal(1)
"""Smallest max drawdown (% of nominal) the return is divided by."""

EXPERIENCE_FULL_DAYS = 60
"""Trading days at which the experience factor reaches 1."""

TOPSTEP_CONSISTENCY = 0.50
"""Topstep: the best day may be at most 50 % of the profit (payout rule)."""

APEX_CONSISTENCY = 0.30
"""Apex: the best day may be at most 30 % of the profit (payout rule)."""


@dataclass(frozen=True, slots=True)
class RankingRecord:
    """What the score and the listing read from a record.

    ``return_pct`` and ``max_drawdown_pct`` in percent of nominal (``Decimal``,
    drawdown >= 0); ``net_pnl`` and ``largest_winning_day`` in dollars
    (``largest_winning_day`` ``None`` when no day was positive);
    ``trading_days`` and ``calendar_days`` counts of verified history.
    """

    return_pct: Decimal
    max_drawdown_pct: Decimal
    net_pnl: Decimal
    largest_winning_day: Decimal | None
    trading_days: int
    calendar_days: int

    @classmethod
    def of(cls, stats: PilotStats) -> RankingRecord:
        """The fields of ``stats`` (computed from verified round trips)."""
        return cls(
            return_pct=stats.return_pct, max_drawdown_pct=stats.max_drawdown_pct,
            net_pnl=stats.net_pnl, largest_winning_day=stats.largest_winning_day,
            trading_days=stats.trading_days, calendar_days=stats.calendar_days,
        )


@dataclass(frozen=True, slots=True)
class ScoreComponents:
    """A pilot's score and each part of it, for the page (floats are statistics).

    ``return_over_drawdown`` is the base; ``largest_day_share`` the best
    day's share of net profit (``None`` when net PnL <= 0); ``consistency``,
    ``experience`` in [0, 1]; ``weight`` in [0.25, 1]; ``passes_topstep`` /
    ``passes_apex`` whether the best day is within 50 % / 30 % of profit.
    """

    return_pct: Decimal
    max_drawdown_pct: Decimal
    return_over_drawdown: float
    largest_day_share: float | None
    consistency: float
    experience: float
    weight: float
    score: float
    passes_topstep: bool
    passes_apex: bool


@dataclass(frozen=True, slots=True)
class Listing:
    """Whether a record is listed, every reason it is not, and the 60-day mark."""

    listed: bool
    reasons: tuple[str, ...]
    seasoned: bool


@dataclass(frozen=True, slots=True)
class RankedPilot:
    """One pilot on the board: ``position`` 1-based when listed, else ``None``."""

    key: Hashable
    position: int | None
    components: ScoreComponents
    listing: Listing


def score(record: RankingRecord) -> ScoreComponents:
    """The published score of ``record`` (formula in the module docstring)."""
    drawdown = max(record.max_drawdown_pct, DRAWDOWN_FLOOR_PCT)
    base = float(record.return_pct / drawdown)
    share = None
    consistency = 0.0
    if record.net_pnl > 0:
        best = record.largest_winning_day or Decimal(0)
        share = float(best / record.net_pnl)
        consistency = min(1.0, max(0.0, 1.0 - share))
    experience = min(record.trading_days, EXPERIENCE_FULL_DAYS) / EXPERIENCE_FULL_DAYS
    weight = (0.5 + consistency / 2) * (0.5 + experience / 2)
    value = base * weight if base >= 0 else base / weight
    return ScoreComponents(
        return_pct=record.return_pct, max_drawdown_pct=record.max_drawdown_pct,
        return_over_drawdown=base, largest_day_share=share, consistency=consistency,
        experience=experience, weight=weight, score=value,
        passes_topstep=share is not None and share <= TOPSTEP_CONSISTENCY,
        passes_apex=share is not None and share <= APEX_CONSISTENCY,
    )


def listing(record: RankingRecord) -> Listing:
    """Listed when verified history spans >= 30 calendar days and >= 15 trading days.

    Each unmet rule is a reason with the numbers (``"12 trading days of
    verified history; listing needs 15"``); ``seasoned`` when the history
    spans 60+ calendar days.
    """
    reasons = []
    if record.calendar_days < MIN_CALENDAR_DAYS:
        reasons.append(
            f"{_days(record.calendar_days, 'calendar')} of verified history; listing needs "
            f"{MIN_CALENDAR_DAYS}"
        )
    if record.trading_days < MIN_TRADING_DAYS:
        reasons.append(
            f"{_days(record.trading_days, 'trading')} of verified history; listing needs "
            f"{MIN_TRADING_DAYS}"
        )
    return Listing(
        listed=not reasons, reasons=tuple(reasons),
        seasoned=record.calendar_days >= SEASONED_CALENDAR_DAYS,
    )


def rank(records: Iterable[tuple[Hashable, RankingRecord]]) -> tuple[RankedPilot, ...]:
    """The board: listed pilots by score (highest first), then the unlisted ones.

    ``records`` are ``(key, record)`` pairs, ``key`` the caller's pilot id.
    Ties are broken by more trading days, then by the order given (stable).
    Unlisted pilots keep the given order and have ``position`` ``None``.
    """
    scored = [(key, record, score(record), listing(record)) for key, record in records]
    listed = sorted(
        (item for item in scored if item[3].listed),
        key=lambda item: (-item[2].score, -item[1].trading_days),
    )
    ranked = [
        RankedPilot(key, position, components, listed_)
        for position, (key, _, components, listed_) in enumerate(listed, start=1)
    ]
    ranked.extend(
        RankedPilot(key, None, components, listed_)
        for key, _, components, listed_ in scored if not listed_.listed
    )
    return tuple(ranked)


def _days(n: int, kind: str) -> str:
    """``"1 calendar day"``, ``"7 calendar days"``."""
    return f"{n} {kind} day{'' if n == 1 else 's'}"
