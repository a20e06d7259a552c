"""Verification of each row: trading hours, future, backdating, price in the bar.

Good and tampered fills: the real NQ 5-minute bars (shared/data, SOURCES.md
section 4) and an MNQZ5 fill of the Performance.csv export next to them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pilots.bars import Bar, BarError, BarSeries, MarketData
from pilots.market_data import MarketDataError, load_bars
from pilots.tests.factories import ct
from pilots.verification import (
    Check,
    Execution,
    RecordRow,
    RowResult,
    Status,
    VerificationPolicy,
    globex_closed_reason,
    verify_row,
)
from routing.contract_specs import SPECS_BY_ROOT

TICKS = {root: spec.tick_size for root, spec in SPECS_BY_ROOT.items()}
BARS_5M = "arielSofer_aiTradeReports/marketData_5m.json"
# Performance.csv rows 19-20: sell fill 163781411176 of MNQZ5 @ 25660.00 at 10:07:44
# exporter time (UTC+2) = 2025-12-03 08:07:44 UTC (02:07:44 CT, Wednesday), inside the
# 08:05 UTC NQ bar.
REAL_TIME = datetime(2025, 12, 3, 8, 7, 44, tzinfo=UTC)
REAL_PRICE = Decimal("25660.00")
CHECKED = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def nq(shared_data: Path) -> MarketData:
    return MarketData([load_bars(shared_data / BARS_5M, family="NQ")], SPECS_BY_ROOT)


def row(time: datetime, price: Decimal | None, symbol: str = "MNQZ5", number: int = 7,
        received_at: datetime | None = None) -> RecordRow:
    return RecordRow(number, symbol, (Execution("fill", time, price),), received_at)


def check(record: RecordRow, market: MarketData,
          policy: VerificationPolicy | None = None) -> RowResult:
    return verify_row(record, market=market, tick_sizes=TICKS, checked_at=CHECKED,
                      policy=policy)


def test_real_fill_inside_its_bar_then_verified(nq: MarketData) -> None:
    result = check(row(REAL_TIME, REAL_PRICE), nq)
    assert (result.row, result.status, result.failures) == (7, Status.VERIFIED, ())


def test_real_bars_are_the_5_minute_nq_bars(nq: MarketData) -> None:
    (series,) = nq.series
    assert series.interval == timedelta(minutes=5)
    covered = nq.covering("MNQZ5", REAL_TIME)
    assert covered is not None
    assert covered[1].start == datetime(2025, 12, 3, 8, 5, tzinfo=UTC)


def covering_bar(market: MarketData) -> Bar:
    covered = market.covering("MNQZ5", REAL_TIME)
    assert covered is not None
    return covered[1]


def test_price_one_tick_beyond_the_high_then_still_verified(nq: MarketData) -> None:
    bar = covering_bar(nq)
    assert check(row(REAL_TIME, bar.high + Decimal("0.25")), nq).status is Status.VERIFIED
    assert check(row(REAL_TIME, bar.low - Decimal("0.25")), nq).status is Status.VERIFIED


def test_price_two_ticks_beyond_the_high_then_failed_with_the_bar(nq: MarketData) -> None:
    bar = covering_bar(nq)
    tampered = bar.high + Decimal("0.50")
    result = check(row(REAL_TIME, tampered), nq)
    assert result.status is Status.FAILED
    (failure,) = result.failures
    assert failure.check is Check.PRICE_RANGE
    assert f"price {tampered} is outside the NQ 5-minute bar" in failure.reason
    assert f"low {bar.low} - high {bar.high}" in failure.reason


def test_mini_fill_is_priced_by_the_same_bars(nq: MarketData) -> None:
    assert check(row(REAL_TIME, REAL_PRICE, symbol="NQZ5"), nq).status is Status.VERIFIED


def test_other_product_without_bars_then_unverifiable_never_verified(nq: MarketData) -> None:
    result = check(row(REAL_TIME, Decimal("4240.9"), symbol="MGCG6"), nq)
    assert result.status is Status.UNVERIFIABLE
    assert "no market data for this contract" in result.missing[0].reason


def test_time_outside_the_bars_then_unverifiable(nq: MarketData) -> None:
    # Tuesday 2025-11-25 10:00 CT: Globex open, but the 5-minute bars start 2025-12-02.
    result = check(row(ct(2025, 11, 25, 10), REAL_PRICE), nq)
    assert result.status is Status.UNVERIFIABLE
    assert "no bar covers" in result.missing[0].reason


def test_no_price_in_the_export_then_unverifiable(nq: MarketData) -> None:
    result = check(row(REAL_TIME, None), nq)
    assert result.status is Status.UNVERIFIABLE
    assert result.missing[0].reason == "the export states no price"


def test_timestamp_shifted_into_the_daily_halt_then_failed(nq: MarketData) -> None:
    # Wednesday 2025-12-03 16:30 CT is in the 16:00-17:00 maintenance halt.
    result = check(row(ct(2025, 12, 3, 16, 30), REAL_PRICE), nq)
    assert result.status is Status.FAILED
    assert result.failures[0].check is Check.TRADING_HOURS
    assert "daily halt" in result.failures[0].reason


def test_timestamp_shifted_into_the_weekend_then_failed(nq: MarketData) -> None:
    # Saturday 2025-12-06 10:00 CT.
    result = check(row(ct(2025, 12, 6, 10), REAL_PRICE), nq)
    assert result.failures[0].check is Check.TRADING_HOURS
    assert "weekend close" in result.failures[0].reason


def test_timestamp_in_the_future_then_failed(nq: MarketData) -> None:
    # Received at 10:00:00 CT, stamped 10:00:03: 3 s ahead, beyond the 2 s tolerance.
    received = ct(2025, 12, 3, 10)
    result = check(row(received + timedelta(seconds=3), REAL_PRICE, received_at=received), nq)
    future = [f for f in result.failures if f.check is Check.NOT_IN_FUTURE]
    assert future and "3 s after it was received" in future[0].reason
    # Within the tolerance it is not a future fill.
    ok = check(row(received + timedelta(seconds=2), REAL_PRICE, received_at=received), nq)
    assert not [f for f in ok.failures if f.check is Check.NOT_IN_FUTURE]


def test_export_row_after_the_check_time_then_failed_as_future(nq: MarketData) -> None:
    later = CHECKED + timedelta(days=1)
    result = check(row(later, REAL_PRICE), nq)
    assert any(f.check is Check.NOT_IN_FUTURE and "after it was checked" in f.reason
               for f in result.failures)


def test_live_fill_backdated_beyond_the_window_then_failed(nq: MarketData) -> None:
    # Received 16 min after its time; the window is 15 min.
    received = REAL_TIME + timedelta(minutes=16)
    result = check(row(REAL_TIME, REAL_PRICE, received_at=received), nq)
    assert result.status is Status.FAILED
    assert result.failures[0].check is Check.NOT_BACKDATED
    assert "16 min before it was received" in result.failures[0].reason
    fresh = check(row(REAL_TIME, REAL_PRICE, received_at=REAL_TIME + timedelta(minutes=15)), nq)
    assert fresh.status is Status.VERIFIED


def test_backdating_window_is_a_policy(nq: MarketData) -> None:
    received = REAL_TIME + timedelta(minutes=16)
    wide = VerificationPolicy(max_backdate=timedelta(hours=1))
    assert check(row(REAL_TIME, REAL_PRICE, received_at=received), nq,
                 policy=wide).status is Status.VERIFIED


@pytest.mark.parametrize(
    ("local", "open_"),
    [
        ((2025, 11, 30, 16, 59), False),  # Sunday before the open
        ((2025, 11, 30, 17, 0), True),  # Sunday open
        ((2025, 12, 1, 15, 59), True),  # Monday before the halt
        ((2025, 12, 1, 16, 0), False),  # Monday halt starts
        ((2025, 12, 1, 17, 0), True),  # Monday reopen
        ((2025, 12, 5, 15, 59), True),  # Friday last minute
        ((2025, 12, 5, 17, 30), False),  # Friday evening: weekend
        ((2025, 12, 6, 12, 0), False),  # Saturday
        ((2026, 3, 8, 17, 0), True),  # Sunday of the DST change, 17:00 CDT
    ],
)
def test_globex_hours(local: tuple[int, int, int, int, int], open_: bool) -> None:
    assert (globex_closed_reason(ct(*local)) is None) is open_


def _bar(start: datetime, low: str, high: str) -> Bar:
    return Bar(start, Decimal(low), Decimal(high), Decimal(low), Decimal(high))


def test_one_minute_bars_for_one_contract_month_only() -> None:
    # NQZ5 1-minute bars do not price an H6 fill (a deferred month trades at a spread).
    start = ct(2025, 12, 3, 9)
    series = BarSeries([_bar(start, "100", "101"), _bar(start + timedelta(minutes=1), "101",
                                                        "102")],
                       interval=timedelta(minutes=1), family="NQ", month="Z5")
    market = MarketData([series], SPECS_BY_ROOT)
    at = start + timedelta(seconds=30)
    assert check(row(at, Decimal("100.5")), market).status is Status.VERIFIED
    assert check(row(at, Decimal("100.5"), symbol="MNQH6"), market).status is Status.UNVERIFIABLE
    # Bars cover [start, start + 1 min): 2 minutes after the last start nothing covers.
    late = start + timedelta(minutes=2)
    assert check(row(late, Decimal("101")), market).status is Status.UNVERIFIABLE


def test_bars_of_a_day_or_of_seconds_are_refused() -> None:
    with pytest.raises(BarError, match="1-minute to 1-hour"):
        BarSeries([], interval=timedelta(days=1), family="NQ")
    with pytest.raises(BarError, match="1-minute to 1-hour"):
        BarSeries([], interval=timedelta(seconds=30), family="NQ")


def test_bar_with_low_above_high_is_refused() -> None:
    bad = Bar(ct(2025, 12, 3), Decimal(100), Decimal(99), Decimal(101), Decimal(100))
    with pytest.raises(BarError, match="bar 0"):
        BarSeries([bad], interval=timedelta(minutes=5), family="NQ")


def test_market_data_file_with_a_bad_price_names_the_bar_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bars.json"
    path.write_text('[{"time": 1764651900, "open": 1, "high": 2, "low": 1, "close": 2},'
                    ' {"time": 1764652200, "open": "x", "high": 2, "low": 1, "close": 2}]')
    with pytest.raises(MarketDataError, match=r"bars.json, row 2, field 'open'"):
        load_bars(path, family="NQ")


def test_market_data_csv_of_chicago_one_minute_bars(shared_data: Path) -> None:
    # The ESM8 1-minute bars (SOURCES.md section 7): first bar 08:30 CT = 13:30 UTC (CDT).
    series = load_bars(shared_data / "cdries_rTrawl/ESM8_1min_2018-05-07.derived.csv",
                       family="ES", month="M8")
    assert series.interval == timedelta(minutes=1)
    assert series.bars[0].start == datetime(2018, 5, 7, 13, 30, tzinfo=UTC)
    assert (series.bars[0].low, series.bars[0].high) == (Decimal("2668.0"), Decimal("2670.75"))
