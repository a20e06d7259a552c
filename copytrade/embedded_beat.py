"""Celery beat's schedule, run inside the web process (embedded default).

Without a broker (no ``REDIS_URL``) Celery runs tasks eagerly and no beat
process exists, so the periodic jobs (``copytrade/celery.py``: the session
open and its catch-up, import jobs whose reader died, pilots' records) would
never run under ``make run``. This runs the same schedule, with Celery's own
schedule objects deciding when an entry is due, on the web process's event
loop; each task runs in a thread of its own (never the engine's database
thread, which a slow task would stall), one at a time.

A task that fails is logged with its name and retried at its next due time;
the tasks themselves journal what users must see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule, maybe_schedule
from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

# Beat wakes at least this often, whatever the schedule (Celery beat's own
# maximum interval in this project: CELERY_BEAT_MAX_LOOP_INTERVAL).
MAX_SLEEP_SECONDS = 60.0


def entry_schedule(value: Any, app: Celery) -> BaseSchedule:
    """A beat entry's ``schedule`` as a Celery schedule object of ``app``
    (seconds or a timedelta become an interval, as Celery beat reads them:
    :func:`celery.schedules.maybe_schedule`). Raises ``TypeError`` for
    anything else."""
    result = maybe_schedule(value, app=app)
    if not isinstance(result, BaseSchedule):
        raise TypeError(f"not a beat schedule: {value!r}")
    return result


class EmbeddedBeat:
    """Runs ``entries`` (Celery's ``beat_schedule`` shape: name -> {"task",
    "schedule", optional "args", "kwargs"}) of ``app`` until stopped."""

    def __init__(self, app: Celery, entries: Mapping[str, Mapping[str, Any]]) -> None:
        self.app = app
        self.entries = {name: dict(entry) for name, entry in entries.items()}
        # Bound to the app: crontab entries read its time zone.
        self.schedules = {name: entry_schedule(e["schedule"], app) for name, e in entries.items()}
        self.runs: dict[str, int] = dict.fromkeys(entries, 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: run each entry when its schedule says it is
        due, counting from when this started (as a fresh beat does)."""
        started = self.app.now()
        last: dict[str, datetime] = dict.fromkeys(self.entries, started)
        while not stop.is_set():
            wait = MAX_SLEEP_SECONDS
            for name, entry in self.entries.items():
                due, next_seconds = self.schedules[name].is_due(last[name])
                if due:
                    last[name] = self.app.now()
                    await self._run(name, entry)
                wait = min(wait, max(float(next_seconds), 0.01))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _run(self, name: str, entry: Mapping[str, Any]) -> None:
        task = self.app.tasks[entry["task"]]
        args, kwargs = entry.get("args", ()), entry.get("kwargs", {})
        try:
            result = await database_sync_to_async(task.apply, thread_sensitive=False)(args, kwargs)
        except Exception:
            # One job's failure must not stop the others (nor the web process).
            logger.exception("embedded beat: %s (%s) failed", name, entry["task"])
        else:
            if result.failed():  # an eager run keeps the task's error in its result
                logger.error(
                    "embedded beat: %s (%s) failed: %r", name, entry["task"], result.result
                )
        self.runs[name] += 1


_task: asyncio.Task[None] | None = None


def ensure_embedded_beat() -> None:
    """Start the embedded beat on the running loop once, when
    ``settings.EMBEDDED_BEAT`` (no broker configured, so no beat process
    either); restart it if it died."""
    global _task
    if not settings.EMBEDDED_BEAT:
        return
    if _task is not None and not _task.done():
        return
    from copytrade.celery import app

    beat = EmbeddedBeat(app, app.conf.beat_schedule)
    _task = asyncio.get_running_loop().create_task(beat.run(asyncio.Event()), name="beat")
    logger.info("periodic jobs run inside the web process (no Celery beat configured)")


class EmbeddedBeatStarter:
    """ASGI middleware: ensure the embedded beat runs, then pass through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ensure_embedded_beat()
        await self.app(scope, receive, send)
