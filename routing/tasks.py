"""Celery tasks of the routing app: the session jobs of the risk engine and
the reading of uploaded exports (import jobs).

The session jobs are scheduled by Celery beat (``copytrade/celery.py``): at
the CME session open (17:00 America/Chicago, Sunday to Thursday) and every
minute as a catch-up, so a worker or scheduler that was down at the boundary
resets the accounts when it returns. Import jobs are queued by
``routing.services.import_jobs`` when an upload has been stored; jobs whose
reader died are ended by beat every 5 minutes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from routing.services.account_sessions import account_sessions_roll

logger = logging.getLogger(__name__)

SESSION_OPEN_TASK = "routing.session_open"


@shared_task(name=SESSION_OPEN_TASK, acks_late=True)
def session_open(at: str | None = None) -> int:
    """Reset every follower account into the current CME session; returns how
    many accounts this run reset (0 when all were current already).

    ``at``: an ISO 8601 time with an offset to roll as of (a replay, or a
    test moving the clock); default now. Raises ``ValueError`` for a time
    without an offset. Idempotent: each reset is keyed by (account, trading
    date) by a unique constraint, so a redelivered, doubled or concurrent run
    resets each account once. That is what makes ``acks_late`` safe: the
    broker redelivers a run whose worker died mid-way.
    """
    when = timezone.now() if at is None else datetime.fromisoformat(at)
    if timezone.is_naive(when):
        raise ValueError(f"session_open needs a time with an offset, got {at!r}")
    count = account_sessions_roll(at=when)
    # Every minute the catch-up finds nothing to do: only resets are worth a line.
    level = logging.INFO if count else logging.DEBUG
    logger.log(level, "session open as of %s: %d accounts reset", when.isoformat(), count)
    return count


IMPORT_JOB_PARSE_TASK = "routing.import_job_parse"
# Seconds one upload may be read for: the task's soft time limit, past which
# Celery raises SoftTimeLimitExceeded inside the read (the job then fails
# saying so). Reading the 200,000 rows UPLOAD_MAX_ROWS allows takes tens of
# seconds, well above the project's 60 s default.
IMPORT_JOB_TIME_LIMIT = 600


# No acks_late: a job is claimed once (pending -> running), so a redelivered
# message would find it running and do nothing; a job whose worker died is
# ended by import_jobs_expire.
@shared_task(
    name=IMPORT_JOB_PARSE_TASK,
    soft_time_limit=IMPORT_JOB_TIME_LIMIT,
    time_limit=IMPORT_JOB_TIME_LIMIT + 60,
)
def import_job_parse_task(job_id: int) -> None:
    """Read import job ``job_id``'s stored upload and import it
    (``routing.services.import_jobs.import_job_run``); nothing when it is
    not pending."""
    from routing.services.import_jobs import import_job_run  # the service queues this task

    import_job_run(job_id=job_id)


IMPORT_JOBS_EXPIRE_TASK = "routing.import_jobs_expire"


@shared_task(name=IMPORT_JOBS_EXPIRE_TASK)
def import_jobs_expire_task() -> int:
    """End the import jobs that lost their reader, and delete stray stored
    uploads (``routing.services.import_jobs.import_jobs_expire``); returns
    how many jobs it ended. Scheduled by beat every 5 minutes; idempotent."""
    from routing.services.import_jobs import import_jobs_expire

    ended = import_jobs_expire(at=timezone.now())
    if ended:
        logger.warning("%d import job(s) ended: their reader stopped", ended)
    return ended
