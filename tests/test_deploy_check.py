"""``check --deploy`` is clean with the production settings the README
documents (HTTPS=true behind TLS), and warns without them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
# The README's "Deployment behind TLS" variables (a throwaway secret).
PRODUCTION = {
    "HTTPS": "true",
    "ALLOWED_HOSTS": "copytrade.example.com",
    "DATABASE_URL": "postgres://copytrade@db.internal:5432/copytrade",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def _check(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "HTTPS", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="copytrade.settings.base",
        SECRET_KEY=secrets.token_urlsafe(60),
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_is_clean_with_the_documented_production_settings() -> None:
    done = _check(PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_deploy_check_fails_without_https() -> None:
    done = _check({k: v for k, v in PRODUCTION.items() if k != "HTTPS"})
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout
