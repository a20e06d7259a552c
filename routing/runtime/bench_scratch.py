"""Where the engine benchmark runs: a child process on a scratch database.

The parent (``manage.py bench_engine``) creates a scratch database, a
temporary SQLite file or a PostgreSQL database that must not exist yet,
runs the benchmark in a child process pointed at it, and drops it. The
child refuses to run on anything but the scratch database it was given,
migrates it and runs :func:`routing.runtime.bench.run_benchmark`. The
configured database is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from routing.runtime.bench_config import SCRATCH_ENV, SETTINGS_MODULE, BenchConfig, BenchError

# -- parent: scratch database and child process -----------------------------------


def run_isolated(
    config: BenchConfig,
    *,
    database_url: str | None = None,
    skip_unreachable: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any] | None:
    """Run the benchmark in a child process on a scratch database; return its
    JSON document (``None`` when ``skip_unreachable`` and PostgreSQL is not
    reachable). SQLite by default; ``database_url`` names a PostgreSQL
    database that must not exist yet: it is created and dropped here."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    if database_url is None:
        with tempfile.TemporaryDirectory(prefix="copytrade-bench-") as tmp:
            path = str(Path(tmp) / "bench.sqlite3")
            env[SCRATCH_ENV] = json.dumps({"vendor": "sqlite", "name": path})
            return _run_child(config, env, log)
    name, admin_url = _scratch_name(database_url)
    try:
        admin = _connect(admin_url)
    except _Unreachable as exc:
        if skip_unreachable:
            log(f"PostgreSQL not reachable, benchmark skipped: {exc}")
            return None
        raise BenchError(f"PostgreSQL not reachable: {exc}") from exc
    with admin, _scratch_postgres(admin, name, log):
        env["DATABASE_URL"] = database_url
        env[SCRATCH_ENV] = json.dumps({"vendor": "postgresql", "name": name})
        return _run_child(config, env, log)


def _run_child(
    config: BenchConfig, env: dict[str, str], log: Callable[[str], None]
) -> dict[str, Any]:
    from django.conf import settings

    manage = Path(settings.BASE_DIR) / "manage.py"
    command = [sys.executable, str(manage), "bench_engine", "--child", *config.as_args()]
    log(f"benchmark child: {' '.join(command[1:])}")
    # The child's stderr (progress, profile) goes straight to ours.
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py, no shell
        command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"benchmark child failed with exit status {done.returncode}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"benchmark child printed no JSON document: {exc}") from exc


class _Unreachable(Exception):
    pass


def _scratch_name(url: str) -> tuple[str, str]:
    """The scratch database ``url`` names, and the URL of the server's
    ``postgres`` maintenance database (same credentials)."""
    from django.conf import settings

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise BenchError(f"--database-url must be a postgres:// URL, got scheme {parts.scheme!r}")
    name = parts.path.lstrip("/")
    if not name or name in ("postgres", "template0", "template1") or "/" in name:
        raise BenchError(f"--database-url must name a scratch database, got {name or 'none'!r}")
    configured = settings.DATABASES["default"]
    if configured.get("ENGINE", "").endswith("postgresql") and configured.get("NAME") == name:
        raise BenchError(f"{name!r} is this project's configured database; name a scratch one")
    return name, urlunsplit(parts._replace(path="/postgres"))


def _connect(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise _Unreachable(str(exc).strip()) from exc


@contextlib.contextmanager
def _scratch_postgres(admin: Any, name: str, log: Callable[[str], None]) -> Iterator[None]:
    """Create database ``name`` (refused when it exists), drop it afterwards."""
    from psycopg import sql

    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists:
        raise BenchError(
            f"database {name!r} already exists: the benchmark creates and drops its own "
            "scratch database and never touches an existing one (drop it or name another)"
        )
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"scratch database {name!r} created")
    try:
        yield
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        log(f"scratch database {name!r} dropped")


# -- child: guard, migrate, run ----------------------------------------------------


def run_child(config: BenchConfig, *, log: Callable[[str], None]) -> dict[str, Any]:
    """In the child process: point at the scratch database named by the
    parent (refusing anything else), migrate it, run every case."""
    from django.core.management import call_command

    from routing.runtime.bench import run_benchmark

    notes = _enter_scratch()
    call_command("migrate", verbosity=0, interactive=False)
    return run_benchmark(config, notes=notes, log=log)


def _enter_scratch() -> list[str]:
    from django.conf import settings
    from django.db import connections

    raw = os.environ.get(SCRATCH_ENV)
    if not raw:
        raise BenchError(
            "--child runs only in the process bench_engine starts on a scratch database"
        )
    scratch = json.loads(raw)
    connection = connections["default"]
    if connection.connection is not None:
        raise BenchError("a database connection was opened before the scratch switch")
    if scratch["vendor"] == "sqlite" and connection.vendor == "sqlite":
        # The embedded default's settings, on the scratch file instead of
        # db.sqlite3 (what django.test.utils does for a test database).
        settings.DATABASES["default"]["NAME"] = scratch["name"]
        connection.settings_dict["NAME"] = scratch["name"]
    if connection.vendor != scratch["vendor"] or str(connection.settings_dict["NAME"]) != str(
        scratch["name"]
    ):
        raise BenchError(
            f"configured database {connection.vendor} {connection.settings_dict['NAME']!r} "
            f"is not the scratch database {scratch['name']!r}: refusing to run"
        )
    return []
