"""The Celery app and its beat schedule; configuration comes from Django
settings (CELERY_ namespace)."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copytrade.settings.base")

app = Celery("copytrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _redbeat_url_by_its_own_name(sender: Celery, **kwargs: object) -> None:
    # RedBeat 2.4 reads CELERY_REDBEAT_REDIS_URL through the Django namespace
    # but checks that it was set among app.conf.keys(), which list it under
    # the Django name: it would warn at every start that it falls back to the
    # broker URL, a fallback 2.5 removes. Set it again under its own name.
    url = sender.conf.get("redbeat_redis_url")
    if url:
        sender.conf.redbeat_redis_url = url


# Crontab entries are read in the app's timezone, America/Chicago
# (CELERY_TIMEZONE), so 17:00 stays 17:00 CT on both sides of a DST change.
# The zone has to be the app's: RedBeat stores a schedule in Redis as plain
# crontab fields and rebuilds a plain crontab from them, so a per-entry zone
# would not survive the round trip.
app.conf.beat_schedule = {
    # CME sessions open at 17:00 CT Sunday to Thursday and close at 16:00 CT
    # the next day; a session's trading date is the day it closes, so the
    # trading dates are Monday to Friday (routing.engine.sessions). Friday
    # 17:00 opens nothing: Friday's session closed at 16:00 and the next one
    # opens Sunday 17:00 (Monday's trading date).
    "session-open": {
        "task": "routing.session_open",
        "schedule": crontab(minute=0, hour=17, day_of_week="sun-thu"),
    },
    # The same idempotent task every minute: a worker or beat that was down at
    # 17:00 (or a worker clock a second behind the scheduler's) resets the
    # accounts within a minute of coming back. Messages queued while no
    # worker was up expire instead of piling up: one run is enough.
    "session-open-catch-up": {
        "task": "routing.session_open",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Uploads whose reader died (a Celery worker killed mid-read) end FAILED
    # with the reason within minutes, not only at the next upload.
    "import-jobs-expire": {
        "task": "routing.import_jobs_expire",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Pilots' records: those with new fills every 5 minutes, all of them
    # nightly after the 16:00 CT close (bars of the day loaded by then).
    "pilot-records-due": {
        "task": "pilots.records_refresh_due",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "pilot-records-nightly": {
        "task": "pilots.records_refresh_all",
        "schedule": crontab(minute=30, hour=16),
    },
}
