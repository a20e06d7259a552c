"""Health you can see: ``GET /healthz/``, the engine badge on every page and
the per-route broker connection state, read from real heartbeat rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import Route
from routing.models import LeaderLease
from routing.selectors import engine_status, route_connections
from routing.services.leases import engine_worker_beat, engine_worker_stop

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 17, 2, 11, tzinfo=UTC)


@pytest.fixture
def alice_client(route: Route) -> Client:
    client = Client()
    client.force_login(route.owner)
    return client


# -- /healthz/ -----------------------------------------------------------------


def test_healthz_when_a_worker_beat_just_now_then_200_running() -> None:
    engine_worker_beat(worker_id="w1", leaders=0, adapters={"paper": True})
    engine_worker_beat(worker_id="w2", leaders=0)
    response = Client().get(reverse("healthz"))  # no login
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    last = datetime.fromisoformat(body["engine"]["last_heartbeat"])
    assert timezone.now() - last < timedelta(seconds=5)
    assert body == {
        "engine": {
            "status": "running",
            "last_heartbeat": body["engine"]["last_heartbeat"],
            "workers": 2,
        },
        "database": "ok",
        "redis": "ok",
    }


def test_healthz_when_no_heartbeat_ever_then_503_down() -> None:
    response = Client().get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {
        "engine": {"status": "down", "last_heartbeat": None, "workers": 0},
        "database": "ok",
        "redis": "ok",
    }


def test_healthz_when_the_newest_beat_is_past_the_ttl_then_503_stale() -> None:
    seen = timezone.now() - timedelta(seconds=20)
    engine_worker_beat(worker_id="w1", leaders=1, at=seen)
    response = Client().get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {
        "engine": {"status": "stale", "last_heartbeat": seen.isoformat(), "workers": 0},
        "database": "ok",
        "redis": "ok",
    }


def test_healthz_when_redis_not_configured_then_not_configured_and_200(settings) -> None:
    settings.REDIS_URL = ""
    engine_worker_beat(worker_id="w1", leaders=0)
    response = Client().get(reverse("healthz"))
    assert (response.status_code, response.json()["redis"]) == (200, "not configured")


def test_healthz_when_redis_unreachable_then_down_and_503(settings) -> None:
    # A real connection attempt to a closed local port, not a mock.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    engine_worker_beat(worker_id="w1", leaders=0)
    response = Client().get(reverse("healthz"))
    assert (response.status_code, response.json()["redis"]) == (503, "down")
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_when_the_database_is_unreachable_then_503_database_down() -> None:
    # Arrange: a real failure, isolated to this test: the default connection
    # is closed and pointed at a local port nothing listens on, then restored.
    # (Transactional: closing the connection mid-transaction would break the
    # test's own rollback.)
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        # Act
        response = Client().get(reverse("healthz"))
    finally:
        connection.close()
        connection.settings_dict.update(original)
    # Assert: the engine cannot be read without the database: down.
    assert response.status_code == 503
    assert response.json() == {
        "engine": {"status": "down", "last_heartbeat": None, "workers": 0},
        "database": "down",
        "redis": "ok",
    }
    assert "127.0.0.1" not in response.content.decode()


def test_healthz_refuses_writes() -> None:
    assert Client().post(reverse("healthz")).status_code == 405


# -- engine_status rules ---------------------------------------------------------


def test_engine_status_rules_running_stale_down() -> None:
    engine_worker_beat(worker_id="a", leaders=0, at=T0)
    assert engine_status(at=T0 + timedelta(seconds=7)).status == "running"
    stale = engine_status(at=T0 + timedelta(seconds=8))  # TTL 8 s: no longer live
    assert (stale.status, stale.last_heartbeat, stale.workers) == ("stale", T0, 0)
    assert engine_status(at=T0 + timedelta(seconds=59)).status == "stale"
    assert engine_status(at=T0 + timedelta(seconds=60)).status == "down"
    # A clean stop is down at once, not stale.
    engine_worker_stop(worker_id="a", at=T0 + timedelta(seconds=1))
    stopped = engine_status(at=T0 + timedelta(seconds=2))
    assert (stopped.status, stopped.last_heartbeat) == ("down", T0)


# -- pages -------------------------------------------------------------------------


def _badge(client: Client, route: Route) -> str:
    page = client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    start = page.index('data-testid="engine-state"')
    return " ".join(page[page.index(">", start) + 1 : page.index("</span>", start)].split())


def test_engine_badge_when_running_then_stale_then_down(alice_client: Client, route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        engine_worker_beat(worker_id="a", leaders=1)
        engine_worker_beat(worker_id="b", leaders=0)
        assert _badge(alice_client, route) == "Engine running (2 workers)"
    with time_machine.travel(T0 + timedelta(seconds=3), tick=False):
        engine_worker_stop(worker_id="b")
        assert _badge(alice_client, route) == "Engine running (1 worker)"
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert _badge(alice_client, route) == "Engine stale since 17:02:11"
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert _badge(alice_client, route) == "Engine down"


def test_engine_badge_on_the_journal_page_too(alice_client: Client) -> None:
    page = alice_client.get(reverse("journal")).content.decode()
    assert 'data-testid="engine-state"' in page
    assert "Engine down" in page


def test_route_connections_when_no_engine_then_unknown(alice_client: Client, route: Route) -> None:
    assert route_connections(group=route.group) == {"paper": "unknown"}
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "paper unknown" in page


def test_route_connections_read_the_lease_holder_first_then_the_freshest(
    alice_client: Client, route: Route
) -> None:
    # Arrange: "old" holds the leader's lease and is connected; "new" beat
    # later but its paper adapter is down.
    now = timezone.now()
    engine_worker_beat(
        worker_id="old", leaders=1, adapters={"paper": True}, at=now - timedelta(seconds=2)
    )
    engine_worker_beat(worker_id="new", leaders=0, adapters={"paper": False}, at=now)
    # Without a lease: the freshest heartbeat.
    assert route_connections(group=route.group) == {"paper": "disconnected"}
    LeaderLease.objects.create(
        leader=route.leader, worker_id="old", generation=1, expires_at=now + timedelta(seconds=8)
    )
    # Assert: the worker copying this route is the one that counts.
    assert route_connections(group=route.group) == {"paper": "connected"}
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "paper connected" in page
