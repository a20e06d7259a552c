"""``manage.py`` on a scratch SQLite file (the embedded default), in a child process.

The suite runs on PostgreSQL; code that writes its own SQL per vendor (bulk
writes, hot reads, triggers, date truncation) is also checked on SQLite by
running the real ``manage.py`` in a child whose environment names a scratch
file, so no connection of the test process is re-pointed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from django.conf import settings


def sqlite_manage(db: Path) -> Callable[..., str]:
    """``manage(*args) -> stdout``: ``manage.py *args`` on the SQLite file
    ``db`` with the embedded default's settings (no ``REDIS_URL``); a
    non-zero exit fails the test with the child's stderr."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env |= {"DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "copytrade.settings.base"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    return manage
