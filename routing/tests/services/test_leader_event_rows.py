"""The leader event's row goes to the server with the leader's lock
(routing.services.leader_event_rows): one round trip, the same row.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Route
from routing.engine.types import LeaderFill, Side
from routing.models import LeaderEvent
from routing.services import route_state
from routing.services.leader_events import IngestResult, leader_event_ingest

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
PRICE = Decimal("21539.50")


def _ingest(route: Route, event_id: str, seconds: int, seq: int) -> IngestResult:
    fill = LeaderFill(
        event_id, "lead", "MNQH5", Side.BUY, 2, PRICE, T0 + timedelta(seconds=seconds), seq=seq
    )
    return leader_event_ingest(
        account=route.leader,
        fill=fill,
        source="test",
        claimed=True,
        received_at=T0 + timedelta(seconds=seconds, milliseconds=3),
    )


def _leader_event_statements(sql: list[str]) -> list[str]:
    return [s for s in sql if '"routing_leaderevent"' in s]


def test_event_when_routes_cached_then_stored_right_after_the_lock_and_key_reads(
    route: Route,
) -> None:
    # Arrange: the first event caches the leader's routes.
    _ingest(route, "f1", 0, 1)
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f2", 5, 2)
    # Assert: lock, key, pending fills, then the event: nothing in between,
    # and no statement to put its flag right (f1's fill, left pending, is
    # settled: its flag cleared).
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]
    assert "FOR UPDATE" in sql[0] and '"accounts_brokeraccount"' in sql[0]
    assert '"routing_routeconfigversion"' in sql[1]
    assert sql[2].startswith("SELECT") and '"routing_leaderevent"' in sql[2]
    assert sql[3].startswith('INSERT INTO "routing_leaderevent"')
    assert not [s for s in _leader_event_statements(sql) if 'SET "fill_pending" = true' in s]
    stored = LeaderEvent.objects.get(pk=result.event.pk)
    assert (stored.external_id, stored.price, stored.occurred_at, stored.seq) == (
        "f2",
        PRICE,
        T0 + timedelta(seconds=5),
        2,
    )
    assert stored.received_at == T0 + timedelta(seconds=5, milliseconds=3)
    assert (stored.source, stored.side, stored.qty, stored.fill_pending) == ("test", "buy", 2, True)
    assert result.event.fill_pending is True
    assert result.event.account is not None and result.event.account.pk == route.leader.pk


def test_event_when_routes_not_cached_then_its_fill_is_still_left_pending(route: Route) -> None:
    # Arrange: a worker just started: no routes in memory, so no spec to go by.
    route_state.route_cache_clear()
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f1", 0, 1)
    # Assert: stored with the lock, then its flag set once the spec is known.
    flagged = [
        s
        for s in _leader_event_statements([q["sql"] for q in queries.captured_queries])
        if s.startswith('UPDATE "routing_leaderevent" SET "fill_pending" = true')
    ]
    assert len(flagged) == 1
    assert LeaderEvent.objects.get(pk=result.event.pk).fill_pending is True
    assert result.event.fill_pending is True
    assert result.leader_fill is not None
