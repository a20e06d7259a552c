"""Incidents lock the route: rejected orders, symbol mismatches, duplicate
executions, slippage beyond the route's limit, adapter disconnects.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
A leader buy of 4 MNQH6 @ 21000.00 makes a market order of 2 for Eval 25K
and 12 for Funded 150K, sent with the leader's price as reference. MNQ's
tick is 0.25 points ($0.50).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, ExpectedPosition, Incident, Quarantine
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.incidents import incident_record, incidents_adapter_disconnect
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim, copy_order_record_result

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
LEADER_PRICE = Decimal("21000.00")


def _orders(route: Route, side: Side = Side.BUY, event_id: str = "f1") -> dict[str, CopyOrder]:
    """Ingest a leader fill of 4 MNQH6 and claim its orders (SENT), by follower name."""
    fill = LeaderFill(event_id, "lead", "MNQH6", side, 4, LEADER_PRICE, T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="t")
    for order_id in result.pending_order_ids:
        assert copy_order_claim(order_id=order_id) is not None
    return {
        o.account.name: o
        for o in CopyOrder.objects.select_related("account").filter(leader_event=result.event)
    }


def _fill(order: CopyOrder, n: int, qty: int, price: str, symbol: str | None = None) -> BrokerFill:
    return BrokerFill(
        fill_id=f"x-fill-{order.pk}-{n}",
        client_order_id=order.client_order_id,
        account=order.account.external_id,
        symbol=symbol or order.symbol,
        side=Side(order.side),
        qty=qty,
        price=Decimal(price),
        time=T0,
    )


def _filled(order: CopyOrder, *fills: BrokerFill, status: OrderStatus = OrderStatus.FILLED):
    qty = sum(f.qty for f in fills)
    avg = sum((f.price * f.qty for f in fills), Decimal(0)) / qty
    return OrderResult(
        client_order_id=order.client_order_id,
        broker_order_id=f"b-{order.pk}",
        status=status,
        filled_qty=qty,
        avg_price=avg,
        fills=fills,
    )


def _level(group: CopyGroup) -> int:
    group.refresh_from_db()
    return group.level


def test_incident_record_journals_and_locks_the_route_once_per_order_and_kind(
    route: Route,
) -> None:
    order = _orders(route)["Eval 25K"]
    incident, created = incident_record(
        group=route.group,
        kind=Incident.Kind.SLIPPAGE,
        detail="slipped 6 ticks > max 4 on MNQH6",
        account=route.small,
        copy_order=order,
        numbers={"ticks": Decimal(6)},
    )
    again, created_again = incident_record(
        group=route.group,
        kind=Incident.Kind.SLIPPAGE,
        detail="slipped 6 ticks > max 4 on MNQH6",
        account=route.small,
        copy_order=order,
    )
    assert (created, created_again, again.pk) == (True, False, incident.pk)
    assert _level(route.group) == 4
    assert route.group.level_reason == "incident: slippage: slipped 6 ticks > max 4 on MNQH6"
    entry = JournalEntry.objects.get(event_type=EventType.INCIDENT)
    assert entry.message == "Evals: incident, slippage: slipped 6 ticks > max 4 on MNQH6"
    assert entry.extra_data["ticks"] == "6"
    assert entry.extra_data["client_order_id"] == order.client_order_id
    locks = JournalEntry.objects.filter(event_type=EventType.ROUTE_LEVEL_CHANGED)
    assert locks.count() == 1
    assert locks.get().message.endswith(
        "Locked: incident: slippage: slipped 6 ticks > max 4 on MNQH6"
    )


def test_rejected_order_is_an_incident_and_still_quarantines_the_entry(route: Route) -> None:
    large = _orders(route)["Funded 150K"]
    rejected = OrderResult.rejected(large.client_order_id, "RISK_REJECT: margin")
    copy_order_record_result(order_id=large.pk, result=rejected)
    copy_order_record_result(order_id=large.pk, result=rejected)  # reported twice

    incident = Incident.objects.get()
    assert (incident.kind, incident.account, incident.copy_order_id) == (
        "rejected_order",
        route.large,
        large.pk,
    )
    assert incident.detail == (
        f"Funded 150K: buy 12 MNQH6 rejected by the broker: RISK_REJECT: margin "
        f"(order {large.client_order_id})"
    )
    assert _level(route.group) == 4
    assert Quarantine.objects.get().symbol == "MNQH6"  # existing behaviour stays
    expected = ExpectedPosition.objects.get(account=route.large, symbol="MNQH6")
    assert expected.qty == 0  # the rejected 12 went back out
    assert JournalEntry.objects.filter(event_type=EventType.INCIDENT).count() == 1


def test_slippage_beyond_the_limit_locks_with_the_numbers(route: Route) -> None:
    CopyGroup.objects.filter(pk=route.group.pk).update(max_slippage_ticks=4)
    small = _orders(route)["Eval 25K"]
    # 1 @ 21001.25 (5 ticks) and 1 @ 21001.50 (6 ticks): average 21001.375,
    # 1.375 points / 0.25 = 5.5 ticks from the leader's 21000.00 > 4.
    result = _filled(small, _fill(small, 1, 1, "21001.25"), _fill(small, 2, 1, "21001.50"))
    copy_order_record_result(order_id=small.pk, result=result)

    incident = Incident.objects.get()
    assert incident.kind == "slippage"
    assert incident.detail == (
        "slipped 5.5 ticks > max 4 on MNQH6: Eval 25K buy 2 @ avg 21001.375 vs leader 21000 "
        f"(tick 0.25, order {small.client_order_id})"
    )
    assert _level(route.group) == 4
    entry = JournalEntry.objects.get(event_type=EventType.INCIDENT)
    assert (entry.extra_data["ticks"], entry.extra_data["max_slippage_ticks"]) == ("5.5", 4)
    small.refresh_from_db()
    assert (small.status, small.filled_qty) == ("filled", 2)


def test_slippage_at_the_limit_or_without_a_limit_is_no_incident(route: Route) -> None:
    orders = _orders(route)
    small, large = orders["Eval 25K"], orders["Funded 150K"]
    # No limit set: 40 ticks (10 points) pass.
    copy_order_record_result(order_id=small.pk, result=_filled(small, _fill(small, 1, 2, "21010")))
    CopyGroup.objects.filter(pk=route.group.pk).update(max_slippage_ticks=4)
    # Exactly 4 ticks (21001.00 - 21000.00 = 1 point) is within the limit.
    copy_order_record_result(
        order_id=large.pk, result=_filled(large, _fill(large, 1, 12, "21001.00"))
    )
    assert Incident.objects.count() == 0
    assert _level(route.group) == 3


def test_sell_slippage_is_measured_in_absolute_ticks(route: Route) -> None:
    CopyGroup.objects.filter(pk=route.group.pk).update(max_slippage_ticks=0)
    large = _orders(route, side=Side.SELL)["Funded 150K"]
    # Sold 12 @ 20999.75: one tick under the leader's 21000.00 > max 0.
    copy_order_record_result(
        order_id=large.pk, result=_filled(large, _fill(large, 1, 12, "20999.75"))
    )
    assert Incident.objects.get().detail.startswith("slipped 1 ticks > max 0 on MNQH6: Funded 150K")


def test_fill_in_another_contract_is_a_symbol_mismatch_recorded_where_it_landed(
    route: Route,
) -> None:
    small = _orders(route)["Eval 25K"]
    result = _filled(small, _fill(small, 1, 2, "5900.25", symbol="MESH6"))
    order = copy_order_record_result(order_id=small.pk, result=result)

    incident = Incident.objects.get()
    assert incident.kind == "symbol_mismatch"
    assert "Eval 25K: buy 2 MNQH6" in incident.detail
    assert "filled in MESH6: buy 2 @ 5900.25" in incident.detail
    assert order.status == "filled"
    # The fill happened at the broker: the journal holds it in MESH6, not MNQH6.
    assert Position.objects.get(account=route.small, symbol="MESH6").qty == 2
    assert not Position.objects.filter(account=route.small, symbol="MNQH6").exists()
    assert _level(route.group) == 4


def test_fill_in_an_unknown_contract_is_named_not_journaled_and_nothing_crashes(
    route: Route,
) -> None:
    small = _orders(route)["Eval 25K"]
    result = _filled(small, _fill(small, 1, 2, "100", symbol="ZZH6"))
    copy_order_record_result(order_id=small.pk, result=result)
    incident = Incident.objects.get()
    assert incident.detail.endswith("not journaled: no contract spec for ZZ")
    assert not Position.objects.filter(account=route.small).exists()


def test_more_contracts_executed_than_ordered_is_a_duplicate_and_the_row_stays_valid(
    route: Route,
) -> None:
    small = _orders(route)["Eval 25K"]
    # Ordered 2; the broker executed 2 and then 1 more.
    result = _filled(small, _fill(small, 1, 2, "21000"), _fill(small, 2, 1, "21000"))
    order = copy_order_record_result(order_id=small.pk, result=result)

    assert (order.status, order.filled_qty, order.qty) == ("filled", 2, 2)
    incident = Incident.objects.get()
    assert incident.kind == "duplicate_order"
    assert "the broker reports 3 contracts executed in 2 fills, 1 more than ordered" in (
        incident.detail
    )
    # Every execution is in the journal: the account really holds 3.
    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 3
    assert ExpectedPosition.objects.get(account=route.small, symbol="MNQH6").qty == 2


def test_an_execution_reported_after_the_order_filled_is_a_duplicate(route: Route) -> None:
    small = _orders(route)["Eval 25K"]
    first = _fill(small, 1, 2, "21000")
    copy_order_record_result(order_id=small.pk, result=_filled(small, first))
    assert Incident.objects.count() == 0
    late = _filled(small, first, _fill(small, 2, 2, "21000.50"))
    copy_order_record_result(order_id=small.pk, result=late)
    copy_order_record_result(order_id=small.pk, result=late)  # and once more
    incident = Incident.objects.get()
    assert incident.kind == "duplicate_order"
    assert "4 contracts executed in 2 fills, 2 more than ordered" in incident.detail
    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 4


def test_a_fill_listed_twice_in_one_result_is_one_execution(route: Route) -> None:
    small = _orders(route)["Eval 25K"]
    fill = _fill(small, 1, 2, "21000")
    result = OrderResult(
        small.client_order_id, "b", OrderStatus.FILLED, 2, Decimal(21000), (fill, fill)
    )
    copy_order_record_result(order_id=small.pk, result=result)
    assert Incident.objects.count() == 0
    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 2


def test_adapter_disconnect_locks_every_group_on_that_platform(route: Route) -> None:
    other_leader = broker_account_create(
        owner=route.owner, name="IB lead", balance=Decimal(50_000), platform="ib", external_id="U1"
    )
    other_follower = broker_account_create(
        owner=route.owner,
        name="IB follower",
        balance=Decimal(50_000),
        platform="ib",
        external_id="U2",
    )
    ib_group = copy_group_create(owner=route.owner, name="IB", leader=other_leader)
    follower_add(group=ib_group, account=other_follower, ratio=Decimal(1))

    incidents = incidents_adapter_disconnect(platform="paper", detail="found not connected")

    assert [i.group_id for i in incidents] == [route.group.pk]
    assert incidents[0].detail == "paper adapter disconnected: found not connected"
    assert (_level(route.group), _level(ib_group)) == (4, 3)
