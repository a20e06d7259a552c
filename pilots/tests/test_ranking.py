"""The published score, its components and the listing rules, worked by hand."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pilots.ranking import RankingRecord, listing, rank, score
from pilots.stats import pilot_stats
from pilots.tests.factories import ct, trip


def record(ret: int, dd: int, *, best_share: str = "0.2", trading_days: int = 30,
           calendar_days: int = 45) -> RankingRecord:
    """A record on a $100,000 nominal: ``ret`` % return, ``dd`` % max drawdown."""
    net = Decimal(ret) * 1000
    return RankingRecord(
        return_pct=Decimal(ret), max_drawdown_pct=Decimal(dd), net_pnl=net,
        largest_winning_day=net * Decimal(best_share) if net > 0 else None,
        trading_days=trading_days, calendar_days=calendar_days,
    )


def test_30_percent_with_5_drawdown_ranks_above_50_percent_with_35() -> None:
    # Same consistency (best day 20 % of profit) and experience (30 trading days):
    # weight = (0.5 + 0.8/2) * (0.5 + 0.5/2) = 0.9 * 0.75 = 0.675;
    # steady: 30 / 5 = 6.0 -> 4.05; wild: 50 / 35 = 1.428571 -> 0.964286.
    steady, wild = record(30, 5), record(50, 35)
    board = rank([("wild", wild), ("steady", steady)])
    assert [(p.key, p.position) for p in board] == [("steady", 1), ("wild", 2)]
    assert board[0].components.score == pytest.approx(6.0 * 0.675)
    assert board[1].components.score == pytest.approx(50 / 35 * 0.675)


def test_components_are_returned_for_the_page() -> None:
    parts = score(record(30, 5))
    assert parts.return_over_drawdown == pytest.approx(6.0)
    assert parts.largest_day_share == pytest.approx(0.2)
    assert parts.consistency == pytest.approx(0.8)
    assert parts.experience == pytest.approx(0.5)  # 30 of 60 trading days
    assert parts.weight == pytest.approx(0.675)
    assert parts.passes_topstep and parts.passes_apex  # 20 % <= 50 % and <= 30 %


def test_best_day_forty_percent_passes_topstep_not_apex_and_ranks_lower() -> None:
    # Share 0.4: consistency 0.6, weight (0.5 + 0.3) * 0.75 = 0.6 -> 6 * 0.6 = 3.6 < 4.05.
    lumpy = score(record(30, 5, best_share="0.4"))
    assert lumpy.score == pytest.approx(3.6)
    assert lumpy.passes_topstep and not lumpy.passes_apex
    assert lumpy.score < score(record(30, 5)).score


def test_more_experience_ranks_higher_with_otherwise_equal_records() -> None:
    # 60 trading days: experience 1, weight 0.9 -> 5.4; 15 days: 0.25, weight 0.5625 -> 3.375.
    assert score(record(30, 5, trading_days=60)).score == pytest.approx(5.4)
    assert score(record(30, 5, trading_days=15)).score == pytest.approx(3.375)


def test_losing_record_is_divided_by_its_weight() -> None:
    # Return -10 %, drawdown 20 %: base -0.5; no profit -> consistency 0; experience 0.5:
    # weight 0.5 * 0.75 = 0.375 -> -0.5 / 0.375 = -1.3333. More experience lifts it:
    # 60 days -> weight 0.5 -> -1.0.
    assert score(record(-10, 20)).score == pytest.approx(-0.5 / 0.375)
    assert score(record(-10, 20, trading_days=60)).score == pytest.approx(-1.0)
    assert score(record(-10, 20)).largest_day_share is None


def test_tiny_drawdown_is_floored_at_one_percent() -> None:
    # 3 % return with 0.1 % drawdown: 3 / max(0.1, 1) = 3, not 30.
    assert score(record(3, 0)).return_over_drawdown == pytest.approx(3.0)


def test_listing_needs_30_calendar_and_15_trading_days_with_each_reason() -> None:
    short = listing(record(30, 5, trading_days=12, calendar_days=20))
    assert not short.listed
    assert short.reasons == (
        "20 calendar days of verified history; listing needs 30",
        "12 trading days of verified history; listing needs 15",
    )
    assert listing(record(30, 5, trading_days=15, calendar_days=30)).listed


def test_sixty_calendar_days_get_the_mark() -> None:
    assert not listing(record(30, 5, calendar_days=59)).seasoned
    assert listing(record(30, 5, calendar_days=60)).seasoned


def test_unlisted_pilots_come_last_without_a_position() -> None:
    board = rank([
        ("new", record(80, 2, trading_days=5, calendar_days=6)),
        ("listed", record(10, 5)),
    ])
    assert [(p.key, p.position) for p in board] == [("listed", 1), ("new", None)]
    assert board[1].listing.reasons


def test_record_from_statistics() -> None:
    # +600 on Mon, -100 on Tue, +400 on Wed on $10,000: net 900 (9 %), best day 600,
    # drawdown 100 (1 %), 3 trading days over 3 calendar days.
    stats = pilot_stats(
        [trip(600, ct(2025, 12, 1)), trip(-100, ct(2025, 12, 2)), trip(400, ct(2025, 12, 3))],
        Decimal(10_000),
    )
    parts = score(RankingRecord.of(stats))
    assert parts.return_over_drawdown == pytest.approx(9.0)
    assert parts.largest_day_share == pytest.approx(600 / 900)
    assert not parts.passes_topstep


ranking_records = st.builds(
    RankingRecord,
    return_pct=st.decimals(-100, 300, places=2),
    max_drawdown_pct=st.decimals(0, 100, places=2),
    net_pnl=st.decimals(-100_000, 300_000, places=2),
    largest_winning_day=st.none() | st.decimals("0.01", 300_000, places=2),
    trading_days=st.integers(0, 400),
    calendar_days=st.integers(0, 600),
)


@given(ranking_records, st.integers(1, 100))
def test_more_trading_days_never_lowers_a_score(rec: RankingRecord, more: int) -> None:
    longer = replace(rec, trading_days=rec.trading_days + more)
    assert score(longer).score >= score(rec).score - 1e-12


@given(ranking_records, st.decimals("0.01", 50, places=2))
def test_a_deeper_drawdown_never_raises_a_profitable_score(rec: RankingRecord,
                                                           extra: Decimal) -> None:
    assume(rec.return_pct >= 0)
    deeper = replace(rec, max_drawdown_pct=rec.max_drawdown_pct + extra)
    assert score(deeper).score <= score(rec).score + 1e-12


@given(ranking_records)
def test_components_stay_in_their_ranges(rec: RankingRecord) -> None:
    parts = score(rec)
    assert 0.0 <= parts.consistency <= 1.0
    assert 0.0 <= parts.experience <= 1.0
    assert 0.25 <= parts.weight <= 1.0
    assert (parts.score >= 0) == (rec.return_pct >= 0)
