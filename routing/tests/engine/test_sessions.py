"""The CME session of a trading date (routing.engine.sessions.session_bounds):
by hand around a DST change and a weekend, and by property against
trading_date for any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routing.engine.sessions import session_bounds, trading_date


def test_monday_after_the_spring_dst_change_opens_sunday_evening() -> None:
    # 2026-03-08 (Sunday) clocks go to CDT (UTC-5): Sunday 17:00 CDT = 22:00 UTC.
    start, end = session_bounds(date(2026, 3, 9))
    assert start == datetime(2026, 3, 8, 22, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)  # Monday 17:00 CDT


def test_friday_session_runs_to_the_sunday_open() -> None:
    # Winter (CST, UTC-6): Thursday 17:00 CST = 23:00 UTC; the weekend is Friday's.
    start, end = session_bounds(date(2026, 12, 4))
    assert start == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


def test_no_session_closes_on_a_weekend_day() -> None:
    for day in (date(2026, 12, 5), date(2026, 12, 6)):
        start, end = session_bounds(day)
        assert start == end


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)))
def test_every_instant_lies_in_its_trading_dates_session(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    day = trading_date(at)
    start, end = session_bounds(day)
    assert start <= at < end
    assert trading_date(start) == day and trading_date(end) != day
    assert trading_date(end - timedelta(microseconds=1)) == day
