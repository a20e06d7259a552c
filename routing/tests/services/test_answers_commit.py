"""event_answers_record: one transaction whose commit does not wait for the disk."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conftest import Route
from routing.brokers.base import OrderResult
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import event_answers_record

T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)
ASYNC = "SET LOCAL synchronous_commit TO OFF"


def _sent(route: Route) -> list[tuple[int, OrderResult]]:
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)
    return [
        (order_id, OrderResult.rejected(request.client_order_id, "market closed"))
        for order_id, (_, request) in result.requests.items()
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_answers_alone_commit_without_waiting_for_the_disk_and_are_recorded(
    route: Route,
) -> None:
    # Arrange: an event's two orders stored SENT, both rejected by the broker.
    answers = _sent(route)
    # Act
    with CaptureQueriesContext(connection) as queries:
        event_answers_record(results=answers, feed={})
    # Assert: the setting opens the transaction, the answers are stored, and
    # the connection is back to waiting for the disk afterwards.
    statements = [q["sql"] for q in queries.captured_queries]
    assert statements.count(ASYNC) == 1
    assert statements.index(ASYNC) < min(
        i for i, sql in enumerate(statements) if "routing_copyorder" in sql
    )
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"rejected"}
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_answers_inside_a_callers_transaction_leave_its_commit_alone(route: Route) -> None:
    answers = _sent(route)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        event_answers_record(results=answers, feed={})
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            setting = cursor.fetchone()[0]
    assert setting == "on"
    assert ASYNC not in [q["sql"] for q in queries.captured_queries]
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"rejected"}
