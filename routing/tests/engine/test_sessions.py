"""The CME session of a trading date (routing.engine.sessions.session_bounds):
by hand around a DST change and a weekend, and by property against
trading_date for any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.engine import sessions
from routing.engine.sessions import session_bounds, session_start, trading_date


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


_instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@given(_instants, _instants, st.integers(min_value=-3 * 86_400, max_value=3 * 86_400))
def test_a_lookup_answers_as_a_first_one_whatever_was_asked_before(
    a: datetime, b: datetime, seconds: int
) -> None:
    # The session last looked up is reused: asking about an instant in it, in
    # another session, or just past its end must answer as a first lookup does.
    for other in (b, a + timedelta(seconds=seconds)):
        sessions._last_session.clear()
        first = (session_start(other), trading_date(other))
        session_start(a)
        assert (session_start(other), trading_date(other)) == first


def test_the_last_microsecond_and_the_next_open_after_a_lookup() -> None:
    # Friday 2026-12-04's session: Thursday 17:00 CST to Sunday 17:00 CST (23:00 UTC).
    trading_date(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))  # a Saturday: Friday's session
    sunday_open = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert trading_date(sunday_open - timedelta(microseconds=1)) == date(2026, 12, 4)
    assert trading_date(sunday_open) == date(2026, 12, 7)
    assert session_start(sunday_open) == sunday_open
    # Friday 17:00 CST opens nothing: still Friday's session, after the Monday one was looked up.
    assert trading_date(datetime(2026, 12, 4, 23, 0, tzinfo=UTC)) == date(2026, 12, 4)


def test_a_naive_time_is_refused_even_inside_the_last_session() -> None:
    trading_date(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        trading_date(datetime(2026, 12, 2, 15, 0))
