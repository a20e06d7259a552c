"""Celery tasks of the pilots app: keeping pilots' records current.

Scheduled by Celery beat (``copytrade/celery.py``): every 5 minutes the
pilots whose account has new fills are recomputed (when trades arrive),
and every night all of them (a bar loaded since, or a rule changed,
moves a record without a new fill). The copy path never waits for it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from journal.models import EventType
from journal.services import journal_record
from pilots.models import Pilot
from pilots.records import pilot_record_refresh, pilots_due

logger = logging.getLogger(__name__)


@shared_task(name="pilots.records_refresh_due", acks_late=True)
def records_refresh_due() -> int:
    """Recompute the records of pilots with fills newer than their record;
    returns how many. Idempotent (a record is a function of the fills and
    bars), so a redelivered run only repeats work."""
    return _refresh(pilots_due())


@shared_task(name="pilots.records_refresh_all", acks_late=True)
def records_refresh_all() -> int:
    """Recompute every pilot's record; returns how many."""
    return _refresh(list(Pilot.objects.order_by("pk")))


def _refresh(pilots: list[Pilot]) -> int:
    at = timezone.now()
    done = 0
    for pilot in pilots:
        try:
            pilot_record_refresh(pilot, at=at)
        except ValueError as exc:
            # One pilot's bad record (a contract without a spec) must not
            # stop the others; it stays as it was, and the pilot's journal
            # says why (the operator's log too).
            logger.error("record of pilot %s (%s) not refreshed: %s", pilot.pk, pilot, exc)
            journal_record(
                owner_id=pilot.owner_id,
                event_type=EventType.PILOT_RECORD_FAILED,
                account_id=pilot.account_id,
                actor_label="verification",
                occurred_at=at,
                message=f"Record of pilot {pilot.display_name} not refreshed: {exc}",
                extra_data={"pilot": pilot.pk},
            )
            continue
        done += 1
    return done
