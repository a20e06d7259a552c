"""``manage.py run_copy_engine`` as its own process against the test database
(issue 10, defects 4 and 5): a follower with no adapter and a database blip
leave the process running and copying."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from accounts.models import BrokerAccount
from accounts.services import broker_account_create
from conftest import Route
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Incident
from routing.services.copy_groups import follower_add
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
ROOT = Path(settings.BASE_DIR)


def _fill(event_id: str, leader: BrokerAccount, side: Side, qty: int) -> LeaderFill:
    return LeaderFill(event_id, leader.external_id, "MNQH6", side, qty, Decimal("21000"), T0)


def _statuses(account: BrokerAccount) -> list[str]:
    return list(
        CopyOrder.objects.filter(account=account).order_by("pk").values_list("status", flat=True)
    )


def _until(check: Callable[[], bool], engine: subprocess.Popen[bytes], seconds: float) -> bool:
    for _ in range(int(seconds / 0.1)):
        if check():
            return True
        if engine.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def _terminate_other_backends() -> int:
    """Kill every backend on the test database but this test's own."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(name, None)
    with psycopg.connect(**params, autocommit=True) as own:
        rows = own.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [connection.connection.info.backend_pid],
        ).fetchall()
    return len(rows)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_engine_process_with_follower_without_adapter_and_database_blip_keeps_copying(
    route: Route,
) -> None:
    # Arrange: a tradovate follower (no adapter in the engine) whose order a
    # previous run left SENT, the other followers' orders left PENDING.
    bad = broker_account_create(
        owner=route.owner,
        name="Tradovate 50K",
        balance=Decimal(50_000),
        platform=BrokerAccount.Platform.TRADOVATE,
        external_id="TV-123",
    )
    follower_add(group=route.group, account=bad, ratio=Decimal(1))
    entry = leader_event_ingest(
        account=route.leader, fill=_fill("f0", route.leader, Side.BUY, 2), source="t"
    )
    assert copy_order_claim(order_id=next(o.pk for o in entry.orders if o.account == bad))
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        # The production settings (connections kept 60 s between calls, so
        # the blip breaks a connection the engine holds), on the test database.
        "DJANGO_SETTINGS_MODULE": "copytrade.settings.base",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
    }
    connection.ensure_connection()
    # Act: the engine process starts (recovers the leftovers), then the
    # database drops its connections, then the leader exits.
    engine = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_copy_engine",
            "--poll-seconds",
            "0.1",
            "--worker-id",
            "fault-test",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _until(
            lambda: (
                _statuses(bad) == ["rejected"]
                and _statuses(route.large) == ["filled"]
                and _statuses(route.small) == ["filled"]
            ),
            engine,
            30,
        ), [_statuses(a) for a in (bad, route.small, route.large)]
        assert _terminate_other_backends() >= 1
        time.sleep(1.0)
        assert engine.poll() is None
        leader_event_ingest(
            account=route.leader, fill=_fill("f1", route.leader, Side.SELL, 2), source="t"
        )
        assert _until(
            lambda: (
                _statuses(route.large) == ["filled", "filled"]
                and _statuses(route.small) == ["filled", "filled"]
            ),
            engine,
            30,
        ), [_statuses(a) for a in (bad, route.small, route.large)]
        assert engine.poll() is None  # still running
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
        try:
            output = engine.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            engine.kill()
            output = engine.communicate()[0].decode()
    # Assert: a clean stop; the bad follower's order rejected with the reason,
    # an incident on its route.
    assert engine.returncode == 0, output[-3000:]
    rejected = CopyOrder.objects.get(account=bad, leader_event__external_id="f0")
    assert rejected.status == "rejected"
    assert "no broker adapter for platform 'tradovate'" in rejected.reason
    # The blip reached the engine (the main loop or the lease renewal met it);
    # psycopg words a terminated backend either way, depending on whether
    # the server's notice arrived before the socket closed.
    assert (
        "terminating connection due to administrator command" in output
        or "server closed the connection unexpectedly" in output
    ), output[-3000:]
    assert Incident.objects.filter(group=route.group).exists()
