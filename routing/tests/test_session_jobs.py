"""The session jobs: the beat schedule, RedBeat and the session_open task.

The beat's clock moves through celery's own schedule API (``nowfun``); the
task's through its ``at`` argument. CME sessions open at 17:00 America/Chicago
Sunday to Thursday: 17:00 CST = 23:00 UTC, 17:00 CDT = 22:00 UTC. DST starts
Sun 2026-03-08 and ends Sun 2026-11-01.
"""

from __future__ import annotations

import copy
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.schedules import crontab, maybe_schedule, schedule
from django.conf import settings
from django.utils import timezone
from redbeat.schedulers import (
    RedBeatConfig,
    RedBeatScheduler,
    RedBeatSchedulerEntry,
    acquire_distributed_beat_lock,
    get_redis,
)

from conftest import Route
from copytrade.celery import app as celery_app
from journal.models import EventType, JournalEntry
from routing.engine.sessions import session_start, trading_date
from routing.models import AccountSession
from routing.tasks import SESSION_OPEN_TASK, session_open

OPEN = celery_app.conf.beat_schedule["session-open"]
CATCH_UP = celery_app.conf.beat_schedule["session-open-catch-up"]


def _crontab(now: datetime) -> crontab:
    """The beat entry's crontab as the beat sees it at ``now``."""
    bound = copy.deepcopy(OPEN["schedule"])
    bound.app = celery_app
    bound.nowfun = lambda: now
    return bound


def _next_run(last_run_at: datetime) -> datetime:
    """When the beat fires next after a run at ``last_run_at`` (UTC)."""
    return (last_run_at + _crontab(last_run_at).remaining_estimate(last_run_at)).astimezone(UTC)


# -- the schedule --------------------------------------------------------------


def test_beat_schedule_runs_session_open_at_17_chicago_sunday_to_thursday() -> None:
    assert OPEN["task"] == SESSION_OPEN_TASK == session_open.name
    assert SESSION_OPEN_TASK in celery_app.tasks
    cron = OPEN["schedule"]
    assert (cron.minute, cron.hour) == ({0}, {17})
    assert cron.day_of_week == {0, 1, 2, 3, 4}  # celery counts Sunday as 0
    assert str(celery_app.timezone) == "America/Chicago"


def test_catch_up_runs_the_same_task_every_minute_and_drops_stale_messages() -> None:
    assert CATCH_UP["task"] == SESSION_OPEN_TASK
    every = maybe_schedule(CATCH_UP["schedule"], app=celery_app)
    assert isinstance(every, schedule)
    assert every.run_every == timedelta(seconds=60)
    assert CATCH_UP["options"]["expires"] < 60


@pytest.mark.parametrize(
    ("last_run_at", "expected"),
    [
        # Spring: Thu 03-05 17:00 CST (23:00 UTC) -> Sun 03-08 17:00 CDT (22:00 UTC),
        # 71 hours later: three days less the hour DST took.
        (datetime(2026, 3, 5, 23, 0, tzinfo=UTC), datetime(2026, 3, 8, 22, 0, tzinfo=UTC)),
        # Sun 03-08 17:00 CDT -> Mon 17:00 CDT, 24 hours.
        (datetime(2026, 3, 8, 22, 0, tzinfo=UTC), datetime(2026, 3, 9, 22, 0, tzinfo=UTC)),
        # Fall: Thu 10-29 17:00 CDT (22:00 UTC) -> Sun 11-01 17:00 CST (23:00 UTC), 73 hours.
        (datetime(2026, 10, 29, 22, 0, tzinfo=UTC), datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 23, 0, tzinfo=UTC), datetime(2026, 11, 2, 23, 0, tzinfo=UTC)),
        # A plain weekend in winter: Thu 01-15 17:00 CST -> Sun 01-18 17:00 CST, 72 hours.
        (datetime(2026, 1, 15, 23, 0, tzinfo=UTC), datetime(2026, 1, 18, 23, 0, tzinfo=UTC)),
        # Mid-week: Tue -> Wed.
        (datetime(2026, 1, 13, 23, 0, tzinfo=UTC), datetime(2026, 1, 14, 23, 0, tzinfo=UTC)),
    ],
)
def test_next_run_across_dst_changes_and_weekends(
    last_run_at: datetime, expected: datetime
) -> None:
    assert _next_run(last_run_at) == expected


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # Two weeks around the spring change: the open moves from 23:00 to 22:00 UTC.
        (
            datetime(2026, 2, 27, 23, 0, tzinfo=UTC),  # Fri: no session opens
            [(d, 23) for d in (1, 2, 3, 4, 5)] + [(d, 22) for d in (8, 9, 10, 11, 12)],
        ),
        # And around the fall change: from 22:00 back to 23:00 UTC.
        (
            datetime(2026, 10, 23, 22, 0, tzinfo=UTC),
            [(d, 22) for d in (25, 26, 27, 28, 29)] + [(d, 23) for d in (1, 2, 3, 4, 5)],
        ),
    ],
)
def test_beat_fires_exactly_at_every_session_open(
    first: datetime, expected: list[tuple[int, int]]
) -> None:
    fired = []
    at = first
    for _ in range(len(expected)):
        at = _next_run(at)
        fired.append(at)

    assert [(t.day, t.hour) for t in fired] == expected
    assert all(t.minute == t.second == 0 for t in fired)
    # The beat and the sessions module agree: each firing is a session's start.
    assert [session_start(t) for t in fired] == fired
    assert all(session_start(t - timedelta(seconds=1)) < t for t in fired)


def test_is_due_around_the_spring_open() -> None:
    thursday_run = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
    # Sun 16:59 CDT (21:59 UTC): not due, check again in 60 s.
    assert _crontab(datetime(2026, 3, 8, 21, 59, tzinfo=UTC)).is_due(thursday_run) == (False, 60)
    # Sun 17:00 CDT (22:00 UTC): due; the next is Monday 17:00 CDT, 24 h on.
    assert _crontab(datetime(2026, 3, 8, 22, 0, tzinfo=UTC)).is_due(thursday_run) == (
        True,
        24 * 3600,
    )
    # Fri 17:00 CST: no session opens; 47 h to Sunday 17:00 CDT.
    friday = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert _crontab(friday).is_due(thursday_run) == (False, 47 * 3600)


def test_is_due_around_the_fall_open() -> None:
    thursday_run = datetime(2026, 10, 29, 22, 0, tzinfo=UTC)
    # Sun 22:00 UTC is 16:00 CST (it would be 17:00 under CDT): an hour to go.
    assert _crontab(datetime(2026, 11, 1, 22, 0, tzinfo=UTC)).is_due(thursday_run) == (
        False,
        3600,
    )
    assert _crontab(datetime(2026, 11, 1, 23, 0, tzinfo=UTC)).is_due(thursday_run)[0] is True


def test_a_beat_down_over_the_open_fires_once_when_it_returns() -> None:
    thursday_run = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
    # Back Mon 10:00 CDT (15:00 UTC), Sunday's open missed: due now, then
    # Monday 17:00 CDT (22:00 UTC), 7 hours on.
    back = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert _crontab(back).is_due(thursday_run) == (True, 7 * 3600)
    # Having run at `back`, it is not due again until then.
    assert _crontab(back + timedelta(minutes=1)).is_due(back) == (False, 7 * 3600 - 60)


# -- RedBeat: the schedule in Redis and the one-scheduler lock ------------------


@pytest.fixture
def redbeat_app() -> Iterator[Celery]:
    """An app configured like the project's, its RedBeat keys under a prefix
    of its own in the test Redis database, removed afterwards."""
    app = Celery("copytrade-redbeat-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    prefix = f"copytrade-test-redbeat-{uuid.uuid4().hex}:"
    app.conf.update(
        redbeat_redis_url=celery_app.conf.redbeat_redis_url,
        redbeat_key_prefix=prefix,
        beat_schedule=copy.deepcopy(celery_app.conf.beat_schedule),
    )
    yield app
    client = get_redis(app)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_project_app_uses_redbeat_on_the_redis_url_without_falling_back() -> None:
    assert celery_app.conf.beat_scheduler == "redbeat.RedBeatScheduler"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        config = RedBeatConfig(celery_app)  # warns when it falls back to broker_url
    assert config.redis_url == settings.REDIS_URL
    # Five beat intervals: a standby takes over within 5 minutes.
    assert celery_app.conf.beat_max_loop_interval * 5 == 300


def test_redbeat_stores_the_schedule_and_reads_it_back_in_chicago_time(
    redbeat_app: Celery,
) -> None:
    scheduler = RedBeatScheduler(app=redbeat_app)
    try:
        key = RedBeatSchedulerEntry.generate_key(redbeat_app, "session-open")
        entry = RedBeatSchedulerEntry.from_key(key, app=redbeat_app)
        catch_up = RedBeatSchedulerEntry.from_key(
            RedBeatSchedulerEntry.generate_key(redbeat_app, "session-open-catch-up"),
            app=redbeat_app,
        )
        assert entry.task == catch_up.task == SESSION_OPEN_TASK
        assert catch_up.schedule.run_every == timedelta(seconds=60)
        assert catch_up.options == {"expires": 55}
        # A new entry counts as run at the scheduler's start: the catch-up is
        # due within its minute, the open at the next 17:00 Chicago.
        assert catch_up.due_at - timezone.now() <= timedelta(seconds=60)
        # (RedBeat's due_at adds the time left *now* to the last run: off by
        # the milliseconds since the scheduler started.)
        assert abs(entry.due_at - _next_run(entry.last_run_at)) < timedelta(seconds=5)
        # Rebuilt from the JSON in Redis: still 17:00 Chicago across the spring change.
        thursday = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
        entry.schedule.nowfun = lambda: thursday
        assert thursday + entry.schedule.remaining_estimate(thursday) == datetime(
            2026, 3, 8, 22, 0, tzinfo=UTC
        )
        assert scheduler.lock_timeout == 300
    finally:
        scheduler.close()


def test_redbeat_lets_one_scheduler_hold_the_lock(redbeat_app: Celery) -> None:
    first = RedBeatScheduler(app=redbeat_app)
    second = RedBeatScheduler(app=redbeat_app)
    client = get_redis(redbeat_app)
    try:
        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=first))
        assert first.lock is not None
        assert first.lock.owned()
        assert second.lock_key == first.lock_key
        # What the second beat's start-up would wait on.
        standby = client.lock(second.lock_key, timeout=second.lock_timeout)
        assert standby.acquire(blocking=False) is False

        first.close()  # a clean shutdown releases it
        assert standby.acquire(blocking=False) is True
        standby.release()
    finally:
        first.close()
        second.close()


# -- the task ------------------------------------------------------------------


@pytest.mark.django_db
def test_session_open_task_runs_and_returns_the_count(route: Route) -> None:
    monday = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Mon 08:00 CDT

    assert session_open.delay(at=monday.isoformat()).get() == 2
    # Redelivered or doubled by a second scheduler: nothing more happens.
    assert session_open.delay(at=monday.isoformat()).get() == 0

    assert set(AccountSession.objects.values_list("account_id", "trading_date")) == {
        (route.small.pk, date(2026, 3, 9)),
        (route.large.pk, date(2026, 3, 9)),
    }
    assert JournalEntry.objects.filter(event_type=EventType.SESSION_RESET).count() == 2


@pytest.mark.django_db
def test_session_open_task_accepts_other_offsets(route: Route) -> None:
    # 17:00 in Chicago on the fall DST Sunday, given in Chicago time.
    assert session_open.delay(at="2026-11-01T17:00:00-06:00").get() == 2

    assert set(AccountSession.objects.values_list("trading_date", flat=True)) == {date(2026, 11, 2)}


@pytest.mark.django_db
def test_session_open_task_defaults_to_now(route: Route) -> None:
    before = trading_date(timezone.now())
    count = session_open.delay().get()
    after = trading_date(timezone.now())

    assert count == 2
    days = set(AccountSession.objects.values_list("trading_date", flat=True))
    assert days <= {before, after}
    assert len(days) == 1


@pytest.mark.django_db
def test_session_open_task_refuses_a_time_without_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        session_open(at="2026-03-09T08:00:00")
