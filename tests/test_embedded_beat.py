"""The beat schedule runs inside the web process when there is no Celery beat."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from celery.schedules import crontab

from copytrade import embedded_beat
from copytrade.celery import app
from copytrade.embedded_beat import EmbeddedBeat

calls: list[str] = []


@app.task(name="tests.beat_probe", shared=False)
def beat_probe(label: str) -> None:
    calls.append(label)


@app.task(name="tests.beat_broken", shared=False)
def beat_broken() -> None:
    raise RuntimeError("broken on purpose")


def test_every_scheduled_task_exists() -> None:
    # A misspelt task name would only fail when its time came.
    app.loader.import_default_modules()
    missing = {entry["task"] for entry in app.conf.beat_schedule.values()} - set(app.tasks)
    assert missing == set()


@pytest.mark.asyncio
async def test_due_entries_run_and_a_failing_one_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Arrange: a probe every 50 ms, a broken task every 50 ms, and a yearly
    # entry (Jan 1st 00:00) that is not due in the test's half second.
    calls.clear()
    beat = EmbeddedBeat(
        app,
        {
            "often": {"task": "tests.beat_probe", "schedule": 0.05, "args": ("often",)},
            "broken": {"task": "tests.beat_broken", "schedule": 0.05},
            "yearly": {
                "task": "tests.beat_probe",
                "schedule": crontab(minute=0, hour=0, day_of_month=1, month_of_year=1),
                "args": ("yearly",),
            },
        },
    )
    stop = asyncio.Event()
    # Act
    with caplog.at_level(logging.ERROR, logger="copytrade.embedded_beat"):
        running = asyncio.create_task(beat.run(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await running
    # Assert
    assert calls.count("often") >= 3
    assert "yearly" not in calls
    assert beat.runs["broken"] >= 3
    assert "embedded beat: broken (tests.beat_broken) failed" in caplog.text


@pytest.mark.asyncio
async def test_the_web_process_runs_beat_only_without_a_broker(settings) -> None:
    # The test settings have a broker (Redis): a beat process runs the jobs.
    assert settings.EMBEDDED_BEAT is False
    embedded_beat.ensure_embedded_beat()
    assert embedded_beat._task is None
    # The embedded default (no REDIS_URL): the web process runs them.
    settings.EMBEDDED_BEAT = True
    embedded_beat.ensure_embedded_beat()
    try:
        assert embedded_beat._task is not None and not embedded_beat._task.done()
    finally:
        embedded_beat._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await embedded_beat._task
        embedded_beat._task = None
