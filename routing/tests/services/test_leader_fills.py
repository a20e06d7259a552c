"""The leader's own fill, recorded with its event's broker answers.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5 (max 5
contracts), Funded 150K at 3. A leader buy of 2 MNQH5 @ 21539.50 makes
market buys of 1 and 6.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Route
from journal.fills import FillInput, fills_record
from journal.models import EventType, Fill, JournalEntry, Position
from routing.brokers.base import OrderResult
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Incident, LeaderEvent
from routing.services.leader_events import IngestResult, leader_event_ingest
from routing.services.leader_fills import leader_fills_recover
from routing.services.order_results import copy_orders_record, event_answers_record

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)
PRICE = Decimal("21539.50")


def _ingest(
    route: Route, event_id: str, side: Side, qty: int, *, at: datetime = T0
) -> IngestResult:
    fill = LeaderFill(event_id, "lead", "MNQH5", side, qty, PRICE, at)
    return leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)


def _rejected(result: IngestResult) -> list[tuple[int, OrderResult]]:
    return [
        (order_id, OrderResult.rejected(request.client_order_id, "market closed"))
        for order_id, (_, request) in result.requests.items()
    ]


def _leader_qty(route: Route) -> int | None:
    row = Position.objects.filter(account=route.leader, symbol="MNQH5").first()
    return None if row is None else row.qty


def _position_before(route: Route, event_id: str) -> int:
    entry = JournalEntry.objects.get(
        event_type=EventType.LEADER_EVENT_RECEIVED, extra_data__event_id=event_id
    )
    return entry.extra_data["position_before"]


def test_claimed_ingest_when_stored_then_leader_fill_left_pending_for_the_answers(
    route: Route,
) -> None:
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f1", Side.BUY, 2)
    # Assert: the event's transaction wrote no fill; the fill rides in the result.
    assert not [q for q in queries.captured_queries if "journal_fill" in q["sql"]]
    assert LeaderEvent.objects.get(pk=result.event.pk).fill_pending is True
    assert not Fill.objects.filter(account=route.leader).exists()
    assert result.leader_fill == FillInput(
        account_id=route.leader.pk,
        broker_fill_id="f1",
        symbol="MNQH5",
        side="buy",
        qty=2,
        price=PRICE,
        point_value=Decimal(2),
        filled_at=T0,
    )


def test_answers_when_recorded_with_the_leader_fill_then_leader_position_moves_and_flag_clears(
    route: Route,
) -> None:
    result = _ingest(route, "f1", Side.BUY, 2)
    assert result.leader_fill is not None
    # Act
    event_answers_record(
        results=_rejected(result), feed={}, leader_fills={result.event.pk: result.leader_fill}
    )
    # Assert
    assert _leader_qty(route) == 2
    assert LeaderEvent.objects.get(pk=result.event.pk).fill_pending is False
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"rejected"}


def test_event_without_answers_when_recorded_then_leader_fill_recorded_alone(
    route: Route,
) -> None:
    result = _ingest(route, "f1", Side.BUY, 2)
    assert result.leader_fill is not None
    # Act: no order went out (or every answer is unknown).
    event_answers_record(results=[], feed={}, leader_fills={result.event.pk: result.leader_fill})
    # Assert
    assert _leader_qty(route) == 2
    assert LeaderEvent.objects.get(pk=result.event.pk).fill_pending is False


def test_next_event_when_answers_never_recorded_then_pending_fill_counts_first(
    route: Route,
) -> None:
    # Arrange: the first buy's answers (and the leader's fill) were never recorded.
    first = _ingest(route, "f1", Side.BUY, 2)
    # Act: the leader sells 2, which closes its position only if the buy counted.
    second = _ingest(route, "f2", Side.SELL, 2, at=T0 + timedelta(seconds=1))
    # Assert: the buy was recorded before the sell was decided, so the sell
    # is the exit of a long 2 (copies: exits of what each follower holds).
    assert _position_before(route, "f2") == 2
    assert not LeaderEvent.objects.get(pk=first.event.pk).fill_pending
    assert _leader_qty(route) == 2  # the sell's own fill is pending now
    assert {o.intent for o in second.orders} == {"exit"}


def test_answers_when_leader_fill_given_for_an_unrelated_leader_then_refused(
    route: Route,
) -> None:
    result = _ingest(route, "f1", Side.BUY, 2)
    assert result.leader_fill is not None
    stray = dataclasses.replace(result.leader_fill, account_id=route.small.pk)
    # Act / Assert: nothing recorded
    with pytest.raises(ValueError, match=f"accounts \\[{route.small.pk}\\] lead none"):
        copy_orders_record(results=_rejected(result), leader_fills={result.event.pk: stray})
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"sent"}


def test_leader_fill_when_its_id_holds_other_content_then_incident_on_the_route(
    route: Route,
) -> None:
    # Arrange: the leader's journal holds fill id "f1" with another price.
    fills_record(
        [
            FillInput(
                account_id=route.leader.pk,
                broker_fill_id="f1",
                symbol="MNQH5",
                side="buy",
                qty=2,
                price=Decimal("21000.00"),
                point_value=Decimal(2),
                filled_at=T0 - timedelta(days=1),
            )
        ]
    )
    result = _ingest(route, "f1", Side.BUY, 2)
    assert result.leader_fill is not None
    # Act
    event_answers_record(
        results=_rejected(result), feed={}, leader_fills={result.event.pk: result.leader_fill}
    )
    # Assert: not journaled twice, raised as an incident on the leader's route.
    assert Fill.objects.filter(account=route.leader).count() == 1
    incident = Incident.objects.get(kind=Incident.Kind.FILL_ID_REUSED)
    assert incident.group_id == route.group.pk
    assert not LeaderEvent.objects.get(pk=result.event.pk).fill_pending


def test_recover_when_fills_pending_then_recorded_in_order_for_the_leaders_asked(
    route: Route,
) -> None:
    # Arrange: a buy of 2 then a sell of 1, neither answer recorded.
    _ingest(route, "f1", Side.BUY, 2)
    _ingest(route, "f2", Side.SELL, 1, at=T0 + timedelta(seconds=1))
    assert _leader_qty(route) == 2  # the second ingest settled the first
    # Act: another leader's recovery leaves these alone; this one's settles.
    assert leader_fills_recover([route.small.pk]) == 0
    settled = leader_fills_recover([route.leader.pk])
    # Assert
    assert settled == 1
    assert _leader_qty(route) == 1
    assert not LeaderEvent.objects.filter(fill_pending=True).exists()
    assert leader_fills_recover(None) == 0
