"""The beat schedule runs inside the web process when there is no Celery beat."""

from __future__ import annotations

import asyncio
import logging

import pytest
from celery.schedules import crontab

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
