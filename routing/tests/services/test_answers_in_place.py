"""Broker answers update their copy orders in place (PostgreSQL heap-only updates).

Defect (issue 9, found measuring the sustained case): the order router's
partial index on ``status`` made every answer's UPDATE (SENT -> FILLED) a
new row version with a new entry in each of the table's indexes, and the
table's full pages left no room for the new version next to the old one:
none of an event's answers was updated in place. At 200 followers that
index work held the answers' transaction some 2.7 ms a leader event
(18.8 ms against 16.1 ms with the updates in place, medians of 400 events).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from accounts.services import broker_account_create
from conftest import Route
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.services.copy_groups import follower_add
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import event_answers_record
from routing.services.orders import copy_order_claim, copy_orders_pending
from routing.tests.answers import filled_answers

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
PRICE = Decimal("21539.50")


def _updates() -> tuple[int, int]:
    """Rows of ``routing_copyorder`` this transaction updated, and of them
    those updated in place (heap-only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            ["routing_copyorder", "routing_copyorder"],
        )
        updated, in_place = cursor.fetchone()
    return updated, in_place


def test_answers_when_recorded_then_every_order_updated_in_place(route: Route) -> None:
    # Arrange: 12 followers (the route's two and ten at ratio 1), their
    # orders of one leader buy of 2 stored SENT.
    for index in range(10):
        account = broker_account_create(
            owner=route.owner, name=f"F{index:02d}", balance=Decimal(50_000)
        )
        follower_add(group=route.group, account=account, ratio=Decimal(1))
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, PRICE, T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)
    answers = filled_answers(result.requests, PRICE, T0)
    assert len(answers) == 12
    before = _updates()
    # Act
    event_answers_record(results=answers, feed={})
    # Assert: twelve rows updated, all of them in place; and they are filled.
    updated, in_place = _updates()
    assert (updated - before[0], in_place - before[1]) == (12, 12)
    orders = CopyOrder.objects.filter(leader_event=result.event)
    assert set(orders.values_list("status", flat=True)) == {"filled"}
    assert not orders.filter(awaiting_claim=True).exists()


def test_awaiting_claim_when_status_moves_then_the_database_keeps_it(route: Route) -> None:
    # Arrange: an event's orders stored PENDING for the order router.
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, PRICE, T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test")
    pending = sorted(o.pk for o in result.orders if o.status == CopyOrder.Status.PENDING)
    assert len(pending) == 2
    # The orders as the ingest returns them say what their rows say.
    assert {o.pk: o.awaiting_claim for o in result.orders} == dict(
        CopyOrder.objects.filter(leader_event=result.event).values_list("pk", "awaiting_claim")
    )
    assert copy_orders_pending() == pending
    # Act: the router claims the first one (PENDING -> SENT).
    assert copy_order_claim(order_id=pending[0]) is not None
    # Assert: only the other still waits, for the router's poll and the column.
    assert copy_orders_pending() == pending[1:]
    assert dict(CopyOrder.objects.filter(pk__in=pending).values_list("pk", "awaiting_claim")) == {
        pending[0]: False,
        pending[1]: True,
    }
