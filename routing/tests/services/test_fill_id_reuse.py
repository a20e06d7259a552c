"""Issue 10, defect 1: a broker fill id re-used with other content is an
incident (journaled with both contents, route locked at level 4), never a
silently dropped fill; an exact re-delivery is still skipped.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
A leader buy of 4 MNQH6 @ 21000.00 makes a market order of 2 for Eval 25K;
a second such buy makes another 2 (target 4, max 5 contracts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Route
from journal.fills import FillIdReusedError, FillInput, fill_record, fills_record
from journal.models import EventType, Fill, JournalEntry, Position
from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, Incident
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim, copy_order_record_result

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
MNQ_POINT_VALUE = Decimal(2)


def _eval_order(route: Route, event_id: str, time: datetime) -> CopyOrder:
    """Ingest a leader buy of 4 MNQH6 and claim its orders; Eval 25K's (2)."""
    fill = LeaderFill(event_id, "lead", "MNQH6", Side.BUY, 4, Decimal("21000.00"), time)
    result = leader_event_ingest(account=route.leader, fill=fill, source="t")
    for order_id in result.pending_order_ids:
        assert copy_order_claim(order_id=order_id) is not None
    return CopyOrder.objects.get(leader_event=result.event, account=route.small)


def _filled(order: CopyOrder, fill_id: str, price: str, time: datetime) -> OrderResult:
    fill = BrokerFill(
        fill_id=fill_id,
        client_order_id=order.client_order_id,
        account=order.account.external_id,
        symbol="MNQH6",
        side=Side.BUY,
        qty=2,
        price=Decimal(price),
        time=time,
    )
    return OrderResult(
        client_order_id=order.client_order_id,
        broker_order_id=f"b-{order.pk}",
        status=OrderStatus.FILLED,
        filled_qty=2,
        avg_price=Decimal(price),
        fills=(fill,),
    )


def _input(route: Route, fill_id: str, qty: int, price: str) -> FillInput:
    return FillInput(
        account_id=route.small.pk,
        broker_fill_id=fill_id,
        symbol="MNQH6",
        side="buy",
        qty=qty,
        price=Decimal(price),
        point_value=MNQ_POINT_VALUE,
        filled_at=T0,
    )


def _level(group: CopyGroup) -> int:
    group.refresh_from_db()
    return group.level


def test_fills_record_skips_a_redelivery_and_returns_a_reuse_as_a_conflict(
    route: Route,
) -> None:
    first = fills_record([_input(route, "x-1", 2, "21000.00")])
    assert [f.broker_fill_id for f in first.stored] == ["x-1"]

    again = fills_record([_input(route, "x-1", 2, "21000.00")])
    reused = fills_record(
        [_input(route, "x-1", 3, "21000.00"), _input(route, "x-2", 1, "21004.00")]
    )

    assert (again.stored, again.conflicts) == ([], [])
    assert [f.broker_fill_id for f in reused.stored] == ["x-2"]
    (conflict,) = reused.conflicts
    assert (conflict.stored.qty, conflict.received.qty) == (2, 3)
    # 2 @ 21000 then 1 @ 21004: 3 held at (42000 + 21004) / 3 = 21001.333...
    position = Position.objects.get(account=route.small, symbol="MNQH6")
    assert position.qty == 3
    assert Fill.objects.filter(account=route.small).count() == 2


def test_fills_record_repeat_within_one_batch_with_other_content_is_a_conflict(
    route: Route,
) -> None:
    recorded = fills_record([_input(route, "x-1", 2, "21000.00"), _input(route, "x-1", 2, "21001")])

    assert [f.qty for f in recorded.stored] == [2]
    (conflict,) = recorded.conflicts
    assert (conflict.stored.price, conflict.received.price) == (Decimal("21000.00"), 21001)


def test_fill_record_raises_for_a_reused_id_and_stores_nothing(route: Route) -> None:
    kwargs = {"account_id": route.small.pk, "broker_fill_id": "x-1", "symbol": "MNQH6"}
    common = {"qty": 1, "point_value": MNQ_POINT_VALUE, "filled_at": T0}
    fill_record(**kwargs, side="buy", price=Decimal("21000.00"), **common)  # type: ignore[arg-type]

    with pytest.raises(FillIdReusedError, match="stored buy 1 MNQH6 @ 21000 at"):
        fill_record(**kwargs, side="sell", price=Decimal("21000.00"), **common)  # type: ignore[arg-type]

    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 1


def test_copy_order_fill_with_a_reused_id_is_an_incident_with_both_contents(
    route: Route,
) -> None:
    # Arrange: the first order filled as fill "paper-fill-1".
    first = _eval_order(route, "f1", T0)
    copy_order_record_result(order_id=first.pk, result=_filled(first, "paper-fill-1", "21000", T0))
    second = _eval_order(route, "f2", T1)
    answer = _filled(second, "paper-fill-1", "21001.25", T1)

    # Act: the broker (restarted) numbers the second order's fill the same.
    copy_order_record_result(order_id=second.pk, result=answer)
    copy_order_record_result(order_id=second.pk, result=answer)  # recorded twice: one incident

    # Assert: not journaled as a fill, an incident with both contents, level 4.
    second.refresh_from_db()
    assert (second.status, second.filled_qty) == ("filled", 2)
    assert list(Fill.objects.filter(account=route.small).values_list("copy_order", "price")) == [
        (first.pk, Decimal("21000.00"))
    ]
    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 2
    (incident,) = Incident.objects.all()
    assert (incident.kind, incident.copy_order_id, incident.account_id) == (
        "fill_id_reused",
        second.pk,
        route.small.pk,
    )
    assert incident.detail == (
        f"Eval 25K: buy 2 MNQH6 (order {second.client_order_id}): the broker re-used a fill id, "
        f"fill paper-fill-1: stored buy 2 MNQH6 @ 21000 at 2026-03-03T15:30:00+00:00 "
        f"(copy order {first.pk}), received buy 2 MNQH6 @ 21001.25 at "
        f"2026-03-03T15:31:00+00:00 (copy order {second.pk}). The received fill is not "
        "journaled: check this account's fills at the broker against the journal, and "
        "reconcile its position and PnL"
    )
    assert _level(route.group) == 4
    entry = JournalEntry.objects.get(event_type=EventType.INCIDENT)
    assert entry.extra_data["fill_id"] == "paper-fill-1"
    assert entry.extra_data["stored"] == {
        "symbol": "MNQH6",
        "side": "buy",
        "qty": 2,
        "price": "21000",
        "filled_at": "2026-03-03T15:30:00+00:00",
        "copy_order_id": first.pk,
    }
    assert entry.extra_data["received"] == {
        "symbol": "MNQH6",
        "side": "buy",
        "qty": 2,
        "price": "21001.25",
        "filled_at": "2026-03-03T15:31:00+00:00",
        "copy_order_id": second.pk,
    }
    assert entry.extra_data["reused"] == 1
    client = Client()
    client.force_login(route.owner)
    page = client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "Fill id re-used" in page
    assert "the broker re-used a fill id, fill paper-fill-1" in page


def test_exact_redelivery_of_a_copy_fill_is_no_incident(route: Route) -> None:
    order = _eval_order(route, "f1", T0)
    answer = _filled(order, "paper-fill-1", "21000", T0)

    copy_order_record_result(order_id=order.pk, result=answer)
    copy_order_record_result(order_id=order.pk, result=answer)

    assert Fill.objects.filter(account=route.small).count() == 1
    assert not Incident.objects.exists()
    assert _level(route.group) == 3  # ACTIVE, as created


def test_leader_fill_with_a_reused_id_locks_the_leaders_routes(route: Route) -> None:
    # The leader's journal already holds fill "L1" (e.g. a flatten close).
    fill_record(
        account_id=route.leader.pk,
        broker_fill_id="L1",
        symbol="MNQH6",
        side="sell",
        qty=1,
        price=Decimal("20990.00"),
        point_value=MNQ_POINT_VALUE,
        filled_at=T0,
    )

    _eval_order(route, "L1", T1)

    (incident,) = Incident.objects.all()
    assert (incident.kind, incident.group_id, incident.account_id) == (
        "fill_id_reused",
        route.group.pk,
        route.leader.pk,
    )
    assert "stored sell 1 MNQH6 @ 20990 at" in incident.detail
    assert "received buy 4 MNQH6 @ 21000 at" in incident.detail
    assert _level(route.group) == 4
    assert Position.objects.get(account=route.leader, symbol="MNQH6").qty == -1
