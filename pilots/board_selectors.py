"""Reads for the leaderboard and the pilot profiles (never writes).

Everything a page shows of a pilot's record comes from its stored
:class:`pilots.models.PilotRecord` (``data`` is :func:`pilots.report.report_data`
plus ``data["flags"]``), computed by :mod:`pilots.records`; nothing is
recomputed per request. The board ranks the *verified* statistics (what the
score is made of: ``data["listing"]["verified_statistics"]``).

Privacy (issue 11): a pilot is shown by display name, markets, nominal size
and record only; never its owner, account or who follows it (a count only).
A rejected pilot is off the board and its profile is its owner's alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, FloatField, IntegerField, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from pilots.board.series import (
    EquityPoint,
    MonthlyReturns,
    days_from_data,
    equity_curve,
    monthly_returns,
)
from pilots.models import Pilot, PilotRecord, Subscription
from pilots.selectors import OPEN

PER_PAGE = 25
"""Listed pilots per leaderboard page."""

HISTORY_DAYS = (30, 60, 90)
"""The history-length filter's choices: at least this many calendar days of verified history."""

_VERIFIED = "data__listing__verified_statistics__"

SORTS: Mapping[str, tuple[str, bool]] = {
    "score": ("score", True),
    "return": ("return_pct", True),
    "drawdown": ("max_drawdown_pct", False),
    "days": ("trading_days", True),
    "win_rate": ("win_rate", True),
}
"""Sort key -> (annotation, descending by default): best first for each
(the smallest drawdown is the best)."""


@dataclass(frozen=True, slots=True)
class BoardFilters:
    """What the leaderboard shows: ``market`` a product root in
    ``Pilot.markets`` ("" any), ``min_days`` calendar days of verified
    history (0 any), ``verified_only`` review approved (the badge), ``sort``
    a key of :data:`SORTS`, ``descending`` its direction."""

    market: str = ""
    min_days: int = 0
    verified_only: bool = False
    sort: str = "score"
    descending: bool = True


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One pilot on a page of the board.

    ``position`` the rank by score among every listed pilot (``None`` when
    not listed), whatever the page's sort and filters; ``followers`` a count;
    ``verified`` review approved; ``statistics`` the verified statistics
    and ``score`` the score components as the record stores them (empty
    without a record); ``reasons`` why it is not listed.
    """

    pilot: Pilot
    position: int | None
    followers: int
    verified: bool
    seasoned: bool
    flagged: bool
    has_record: bool
    statistics: Mapping[str, Any] = field(default_factory=dict)
    score: Mapping[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard page: ``listed`` a page of :class:`BoardRow` ranked,
    ``waiting`` a page of pilots not listed yet (own page number),
    ``markets`` every product root a visible pilot trades (for the filter)."""

    listed: Page[BoardRow]
    waiting: Page[BoardRow]
    markets: tuple[str, ...]


def _visible_pilots() -> QuerySet[Pilot]:
    return Pilot.objects.exclude(review=Pilot.Review.REJECTED)


def board_markets() -> tuple[str, ...]:
    """Every product root traded by a pilot on the board, sorted."""
    roots: set[str] = set()
    for markets in _visible_pilots().values_list("markets", flat=True):
        roots.update(str(m) for m in markets or ())
    return tuple(sorted(roots))


def _pilot_ids_trading(market: str) -> list[int]:
    # JSON "contains" is not available on SQLite (the embedded default):
    # the list of pilots is read once and matched here.
    return [
        pk
        for pk, markets in _visible_pilots().values_list("pk", "markets")
        if market in (markets or ())
    ]


def _listed_records() -> QuerySet[PilotRecord]:
    """Listed records of visible pilots, with their verified statistics as columns."""
    return (
        PilotRecord.objects.filter(listed=True)
        .exclude(pilot__review=Pilot.Review.REJECTED)
        .select_related("pilot")
        .annotate(
            return_pct=Cast(KT(_VERIFIED + "return_pct"), FloatField()),
            max_drawdown_pct=Cast(KT(_VERIFIED + "max_drawdown_pct"), FloatField()),
            trading_days=Cast(KT(_VERIFIED + "trading_days"), IntegerField()),
            calendar_days=Cast(KT(_VERIFIED + "calendar_days"), IntegerField()),
            win_rate=Cast(KT(_VERIFIED + "win_rate"), FloatField()),
        )
    )


# The published order (pilots.ranking.rank): score, then more trading days;
# the pilot's id keeps the order stable across pages.
_RANK_ORDER = (F("score").desc(nulls_last=True), F("trading_days").desc(), "pilot_id")


def board_positions() -> dict[int, int]:
    """Pilot id -> 1-based rank by score among every listed pilot on the board."""
    ids = _listed_records().order_by(*_RANK_ORDER).values_list("pilot_id", flat=True)
    return {pilot_id: position for position, pilot_id in enumerate(ids, start=1)}


def follower_counts(pilot_ids: Sequence[int]) -> dict[int, int]:
    """Pilot id -> how many users follow it now (watching or mirroring); never who."""
    rows = (
        Subscription.objects.filter(pilot_id__in=pilot_ids, status__in=OPEN)
        .values("pilot_id")
        .annotate(n=Count("pk"))
        .values_list("pilot_id", "n")
    )
    return dict(rows)


def _row(pilot: Pilot, record: PilotRecord | None, position: int | None, followers: int
         ) -> BoardRow:
    data = record.data if record is not None else {}
    listing = data.get("listing", {})
    return BoardRow(
        pilot=pilot,
        position=position,
        followers=followers,
        verified=pilot.review == Pilot.Review.APPROVED,
        seasoned=bool(record and record.seasoned),
        flagged=bool(record and record.flagged),
        has_record=record is not None,
        statistics=listing.get("verified_statistics", {}),
        score=listing.get("score", {}),
        reasons=tuple(listing.get("reasons", ())),
    )


def leaderboard(filters: BoardFilters, *, page: str | int | None = 1,
                waiting_page: str | int | None = 1, per_page: int | None = None) -> Board:
    """The leaderboard under ``filters``, one page of each section.

    Listed pilots in ``filters.sort`` order (ties by score, then trading
    days); pilots not listed yet (no record, or a record short of the
    listing rules, with its reasons) oldest published first. Page numbers
    out of range or not numbers give the nearest page (``get_page``);
    ``per_page`` defaults to :data:`PER_PAGE` (read at call time).
    """
    per_page = per_page or PER_PAGE
    records = _listed_records()
    waiting = _visible_pilots().filter(Q(record__isnull=True) | Q(record__listed=False))
    if filters.market:
        ids = _pilot_ids_trading(filters.market)
        records = records.filter(pilot_id__in=ids)
        waiting = waiting.filter(pk__in=ids)
    if filters.verified_only:
        records = records.filter(pilot__review=Pilot.Review.APPROVED)
        waiting = waiting.filter(review=Pilot.Review.APPROVED)
    if filters.min_days:
        records = records.filter(calendar_days__gte=filters.min_days)
        waiting = waiting.filter(
            **{"record__" + _VERIFIED + "calendar_days__gte": filters.min_days}
        )
    column, _ = SORTS.get(filters.sort, SORTS["score"])
    key = F(column).desc(nulls_last=True) if filters.descending else F(column).asc(
        nulls_last=True
    )
    listed_page = Paginator(records.order_by(key, *_RANK_ORDER), per_page).get_page(page)
    waiting_list = Paginator(
        waiting.select_related("record").order_by("published_at", "pk"), per_page
    ).get_page(waiting_page)

    shown = [r.pilot_id for r in listed_page] + [p.pk for p in waiting_list]
    followers = follower_counts(shown)
    positions = board_positions()
    listed_page.object_list = [
        _row(r.pilot, r, positions.get(r.pilot_id), followers.get(r.pilot_id, 0))
        for r in listed_page
    ]
    waiting_list.object_list = [
        _row(p, getattr(p, "record", None), None, followers.get(p.pk, 0)) for p in waiting_list
    ]
    return Board(listed=listed_page, waiting=waiting_list, markets=board_markets())


def pilot_for_viewer(*, pilot_id: int, viewer: User) -> Pilot | None:
    """The pilot ``viewer`` may open (with its record), or ``None``: a
    rejected pilot is its owner's alone."""
    pilot = Pilot.objects.filter(pk=pilot_id).select_related("record").first()
    if pilot is None:
        return None
    if pilot.review == Pilot.Review.REJECTED and pilot.owner_id != viewer.pk:
        return None
    return pilot


def open_subscription(*, subscriber: User, pilot: Pilot) -> Subscription | None:
    """``subscriber``'s own open subscription to ``pilot`` (watching or mirroring), or ``None``."""
    return Subscription.objects.filter(subscriber=subscriber, pilot=pilot, status__in=OPEN).first()


@dataclass(frozen=True, slots=True)
class PilotProfile:
    """What a pilot's profile shows to ``viewer``.

    ``row`` the board's view of the pilot (rank, badge, marks, components);
    ``everything`` the statistics of every fill since publishing and
    ``row.statistics`` those of the verified round trips (what ranks);
    ``equity`` the closing balance per trading date from the nominal size
    (verified round trips); ``months`` the monthly returns table;
    ``verification`` the counts ``{"verified", "failed", "unverifiable"}``;
    ``anomalies`` every anomaly check ``{"code", "status", "detail"}``;
    ``flags`` why the record waits for review; ``is_own`` whether
    ``viewer`` is the pilot; ``subscription`` the viewer's own open one.
    """

    row: BoardRow
    everything: Mapping[str, Any]
    equity: list[EquityPoint]
    months: list[MonthlyReturns]
    verification: Mapping[str, int]
    anomalies: list[Mapping[str, Any]]
    flags: list[str]
    notes: list[str]
    is_own: bool
    subscription: Subscription | None


def pilot_profile(*, pilot: Pilot, viewer: User) -> PilotProfile:
    """The profile of ``pilot`` (from :func:`pilot_for_viewer`) as ``viewer`` sees it."""
    record = getattr(pilot, "record", None)
    position = board_positions().get(pilot.pk) if record is not None and record.listed else None
    row = _row(pilot, record, position, follower_counts([pilot.pk]).get(pilot.pk, 0))
    data = record.data if record is not None else {}
    days = days_from_data(row.statistics.get("daily_pnl", ()))
    start = timezone.localtime(pilot.published_at).date()
    is_own = pilot.owner_id == viewer.pk
    return PilotProfile(
        row=row,
        everything=data.get("statistics", {}),
        equity=equity_curve(days, pilot.nominal_balance, start),
        months=monthly_returns(days, pilot.nominal_balance),
        verification=data.get("verification", {}).get("counts", {}),
        anomalies=list(data.get("anomalies", ())),
        flags=list(data.get("flags", ())),
        notes=list(data.get("notes", ())),
        is_own=is_own,
        subscription=None if is_own else open_subscription(subscriber=viewer, pilot=pilot),
    )
