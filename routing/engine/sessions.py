"""The CME trading session: 17:00 to 16:00 America/Chicago, Sunday to Friday.

Source: CME Globex trading hours for equity index, energy and metals futures
(shared/data/SOURCES.md section 8): the session opens at 17:00 CT Sunday to
Thursday and closes at 16:00 CT the next day; the trading date is the day it
closes. Wall-clock arithmetic in America/Chicago keeps both DST changes right.
Pure: the caller passes the time in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
SESSION_OPEN = time(17, 0)
# Monday=0 … Sunday=6: sessions open on Sunday to Thursday evenings.
_OPEN_WEEKDAYS = frozenset({6, 0, 1, 2, 3})


def session_start(at: datetime) -> datetime:
    """UTC start of the session that most recently opened at or before ``at``.

    ``at`` must be timezone-aware (raises ``ValueError`` otherwise). On a
    weekend this is Thursday's 17:00 open (Friday's trading date).
    """
    return _session_of(at)[0]


def trading_date(at: datetime) -> date:
    """The CME trading date of the session containing ``at`` (the day it closes).

    ``at`` must be timezone-aware (raises ``ValueError`` otherwise)."""
    return _session_of(at)[2]


# The session last looked up, ``(UTC start, UTC end, trading date)``, reused
# while the times asked about fall in it: a leader event's or an answer
# batch's few hundred lookups (each fill's session total, each account's
# session row) are all in one session, and the wall-clock arithmetic in
# Chicago costs some microseconds a call. One tuple, swapped whole, so a
# thread never reads half of one; a stale one is only missed.
_last_session: list[tuple[datetime, datetime, date]] = []


def _session_of(at: datetime) -> tuple[datetime, datetime, date]:
    if at.tzinfo is None:
        raise ValueError("session_start needs a timezone-aware datetime")
    if _last_session:
        found = _last_session[0]
        if found[0] <= at < found[1]:
            return found
    start = _opened_before(at.astimezone(CHICAGO))
    found = (start.astimezone(UTC), _next_open(start), start.date() + timedelta(days=1))
    _last_session[:] = [found]
    return found


def _opened_before(local: datetime) -> datetime:
    """The Chicago 17:00 open at or before Chicago time ``local``."""
    day = local.date()
    for _ in range(8):
        opened = datetime.combine(day, SESSION_OPEN, tzinfo=CHICAGO)
        if day.weekday() in _OPEN_WEEKDAYS and opened <= local:
            return opened
        day -= timedelta(days=1)
    raise AssertionError("a session opens every week")  # unreachable: 8 days cover a week


def _next_open(opened: datetime) -> datetime:
    """UTC of the first 17:00 open after the Chicago open ``opened``."""
    for ahead in range(1, 8):
        candidate = opened.date() + timedelta(days=ahead)
        if candidate.weekday() in _OPEN_WEEKDAYS:
            return datetime.combine(candidate, SESSION_OPEN, tzinfo=CHICAGO).astimezone(UTC)
    raise AssertionError("a session opens every week")  # unreachable: 7 days cover a week


def session_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the session whose trading date is ``day``:
    every aware ``at`` with ``start <= at < end`` has ``trading_date(at) ==
    day``. ``start`` is the 17:00 CT open before ``day`` (Sunday's for a
    Monday); ``end`` the next open, so the 16:00-17:00 break (and a weekend)
    belongs to the session that closed before it, as :func:`trading_date`
    counts it. For a day no session closes on (a Saturday or Sunday) the
    range is empty (``start == end``)."""
    close = datetime.combine(day, time(15, 59, 59), tzinfo=CHICAGO)
    start, end, closes = _session_of(close)
    if closes != day:
        return start, start
    return start, end
