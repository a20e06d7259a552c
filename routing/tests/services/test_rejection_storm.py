"""A rejection storm: every follower's entry rejected in one batch of answers.

Recorded one by one, each rejected order cost about 16 statements (its
quarantine, its incident, the route lock, the expected position backed out),
all inside the answers' transaction that holds the leader's lock: 199
rejections took 3,196 statements and 1.7 s, so the leader's next event (an
exit) waited that long.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.brokers.base import OrderResult
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, ExpectedPosition, Incident, Quarantine
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import event_answers_record

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)


def _storm(route: Route, extra_followers: int) -> list[tuple[int, OrderResult]]:
    CopyGroup.objects.filter(pk=route.group.pk).update(quarantine=True)
    for i in range(extra_followers):
        account = broker_account_create(
            owner=route.leader.owner, name=f"F{i}", balance=Decimal(50_000)
        )
        follower_add(group=route.group, account=account, ratio=Decimal(1))
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)
    return [
        (order_id, OrderResult.rejected(request.client_order_id, "market closed"))
        for order_id, (_, request) in result.requests.items()
    ]


def _statements(route: Route, followers: int, name: str) -> int:
    """Statements recording a storm on a new route of ``followers``."""
    leader = broker_account_create(owner=route.owner, name=f"Lead {name}", balance=Decimal(1))
    group = copy_group_create(owner=route.owner, name=name, leader=leader)
    for i in range(followers):
        account = broker_account_create(
            owner=route.owner, name=f"{name} {i}", balance=Decimal(50_000)
        )
        follower_add(group=group, account=account, ratio=Decimal(1))
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    result = leader_event_ingest(account=leader, fill=fill, source="test", claimed=True)
    answers = [
        (order_id, OrderResult.rejected(request.client_order_id, "market closed"))
        for order_id, (_, request) in result.requests.items()
    ]
    assert len(answers) == followers
    with CaptureQueriesContext(connection) as queries:
        event_answers_record(results=answers, feed={})
    return len(queries.captured_queries)


def test_every_rejection_is_quarantined_journaled_and_backed_out_and_the_route_locked_once(
    route: Route,
) -> None:
    # Arrange: 2 + 20 followers, every entry rejected.
    answers = _storm(route, 20)
    # Act
    event_answers_record(results=answers, feed={})
    # Assert: each order rejected, its contract quarantined, one incident
    # each, its expected position back at 0; the route locked by the first.
    orders = CopyOrder.objects.filter(pk__in=[pk for pk, _ in answers])
    assert set(orders.values_list("status", flat=True)) == {"rejected"}
    assert Quarantine.objects.filter(symbol="MNQH5", released_at=None).count() == 22
    assert Incident.objects.filter(kind=Incident.Kind.REJECTED_ORDER).count() == 22
    assert set(ExpectedPosition.objects.values_list("qty", flat=True)) == {0}
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert group.level == 4 and group.level_reason.startswith("incident: rejected_order: ")
    journal = JournalEntry.objects.filter(group_id=route.group.pk)
    assert journal.filter(event_type=EventType.QUARANTINE_STARTED).count() == 22
    assert journal.filter(event_type=EventType.INCIDENT).count() == 22
    assert journal.filter(event_type=EventType.ROUTE_LEVEL_CHANGED).count() == 1
    # Recording the same answers again records nothing twice.
    event_answers_record(results=answers, feed={})
    assert Incident.objects.count() == 22
    assert Quarantine.objects.count() == 22


def test_statements_do_not_grow_with_the_rejections(route: Route) -> None:
    assert _statements(route, 40, "Many") == _statements(route, 3, "Few")
