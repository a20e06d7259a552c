"""leader_event_ingest: one leader fill -> one persisted decision per follower."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.engine.orders import client_order_id
from routing.engine.types import LeaderFill, Side
from routing.models import ContractSpec, CopyOrder, ExpectedPosition, LeaderEvent
from routing.services.leader_events import leader_event_ingest

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)


def fill(
    event_id: str, side: Side, qty: int, price: str = "21539.50", symbol: str = "MNQH5"
) -> LeaderFill:
    return LeaderFill(event_id, "lead", symbol, side, qty, Decimal(price), T0)


def orders_by_account(result) -> dict[str, CopyOrder]:
    return {o.account.name: o for o in result.orders}


def test_entry_when_ratios_differ_then_sized_and_rounded_down(route: Route) -> None:
    # Arrange: leader buys 3. Eval 25K ratio 0.5 -> 1.5 -> 1; Funded ratio 3 -> 9.
    # Act
    result = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 3), source="test")
    # Assert
    orders = orders_by_account(result)
    assert (orders["Eval 25K"].qty, orders["Eval 25K"].status) == (1, "pending")
    assert "3 x 1 x 0.5 = 1.5 → 1 (entry rounds down)" in orders["Eval 25K"].reason
    assert (orders["Funded 150K"].qty, orders["Funded 150K"].status) == (9, "pending")
    assert orders["Funded 150K"].client_order_id == client_order_id(
        str(route.group.pk), f"{route.leader.pk}:f1", str(route.large.pk)
    )
    leader_position = Position.objects.get(account=route.leader, symbol="MNQH5")
    assert leader_position.qty == 3


def test_same_event_delivered_twice_then_one_order_per_follower(route: Route) -> None:
    first = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 3), source="test")
    second = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 3), source="retry")
    assert first.created and not second.created
    assert second.pending_order_ids == first.pending_order_ids
    assert LeaderEvent.objects.count() == 1
    assert CopyOrder.objects.count() == 2
    # The leader's position moved once, not twice.
    assert Position.objects.get(account=route.leader, symbol="MNQH5").qty == 3


def test_entry_when_over_max_contracts_then_blocked_and_journaled(route: Route) -> None:
    # Eval 25K: 12 x 0.5 = 6 > max contracts 5.
    result = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 12), source="test")
    order = orders_by_account(result)["Eval 25K"]
    assert (order.status, order.qty) == ("blocked", 0)
    assert "entry 6 contracts > 5 allowed by max contracts per order 5" in order.reason
    entry = JournalEntry.objects.get(event_type=EventType.COPY_ORDER_BLOCKED)
    assert entry.account_id == route.small.pk
    assert "max contracts per order 5" in entry.message


def test_entry_when_daily_loss_reached_then_blocked_exit_still_passes(route: Route) -> None:
    # Arrange: Eval 25K holds 2 MNQ bought at 21539.50; the mark falls 93.75
    # points: unrealized (21445.75 - 21539.50) x 2 x $2 = -375.00 = the limit.
    Position.objects.create(
        account=route.small, symbol="MNQH5", qty=2, avg_price=Decimal("21539.50")
    )
    ExpectedPosition.objects.create(account=route.small, symbol="MNQH5", qty=2)
    Position.objects.create(
        account=route.leader, symbol="MNQH5", qty=4, avg_price=Decimal("21539.50")
    )
    # Act: the leader adds 2 at 21445.75 (marks everyone there), then sells 3:
    # 6 -> 3 at ratio 0.5 is a target of floor(1.5) = 1, so Eval 25K sells 1.
    add = leader_event_ingest(
        account=route.leader, fill=fill("f1", Side.BUY, 2, "21445.75"), source="t"
    )
    exit_ = leader_event_ingest(
        account=route.leader, fill=fill("f2", Side.SELL, 3, "21445.75"), source="t"
    )
    # Assert
    blocked = orders_by_account(add)["Eval 25K"]
    assert blocked.status == "blocked"
    assert "daily loss 375.00 ≥ limit 375.00" in blocked.reason
    passed = orders_by_account(exit_)["Eval 25K"]
    assert (passed.status, passed.qty, passed.side) == ("pending", 1, "sell")
    assert "3 x 1 x 0.5 = 1.5 → 1 (exit rounds up)" in passed.reason
    assert ExpectedPosition.objects.get(account=route.small, symbol="MNQH5").qty == 1


def test_entry_when_mark_moves_a_stored_profit_past_the_daily_loss_then_blocked(
    route: Route,
) -> None:
    # Arrange: Eval 25K holds 2 MNQ bought at 21539.50, last marked at 21564.50:
    # stored unrealized (21564.50 - 21539.50) x 2 x $2 = +100.00, carried into
    # the session the event opens. The leader's fill at 21464.50 marks it at
    # (21464.50 - 21539.50) x 2 x $2 = -300.00: session PnL -300 - 100 = -400,
    # past the 375 limit. Counting the stored +100 as well (-300) or the new
    # mark not at all (0) would let the entry through.
    Position.objects.create(
        account=route.small,
        symbol="MNQH5",
        qty=2,
        avg_price=Decimal("21539.50"),
        mark_price=Decimal("21564.50"),
        unrealized_pnl=Decimal("100.00"),
    )
    ExpectedPosition.objects.create(account=route.small, symbol="MNQH5", qty=2)
    Position.objects.create(
        account=route.leader, symbol="MNQH5", qty=4, avg_price=Decimal("21539.50")
    )
    # Act: the leader adds 2 at 21464.50.
    add = leader_event_ingest(
        account=route.leader, fill=fill("f1", Side.BUY, 2, "21464.50"), source="t"
    )
    # Assert: blocked at the mark's figure, which is also what is stored now.
    blocked = orders_by_account(add)["Eval 25K"]
    assert blocked.status == "blocked"
    assert "daily loss 400.00 ≥ limit 375.00" in blocked.reason
    stored = Position.objects.get(account=route.small, symbol="MNQH5")
    assert (stored.mark_price, stored.unrealized_pnl) == (Decimal("21464.50"), Decimal("-300.00"))


def test_symbol_without_contract_spec_then_fails_closed(route: Route) -> None:
    ContractSpec.objects.filter(root="MNQ").delete()
    result = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 2), source="test")
    for order in result.orders:
        assert order.status == "blocked"
        assert "no contract spec for MNQ" in order.reason
        assert order.qty == 0


def test_orders_returned_are_the_rows_stored_with_their_related_rows(route: Route) -> None:
    # Arrange: one order sized, one blocked (Eval 25K: 12 x 0.5 = 6 > 5).
    # Act
    result = leader_event_ingest(account=route.leader, fill=fill("f1", Side.BUY, 12), source="t")
    # Assert: every column of each returned order is what a read gives back.
    fields = [f.attname for f in CopyOrder._meta.concrete_fields]
    stored = {o.pk: o for o in CopyOrder.objects.filter(leader_event=result.event)}
    assert sorted(stored) == sorted(o.pk for o in result.orders)
    for order in result.orders:
        assert [getattr(order, f) for f in fields] == [getattr(stored[order.pk], f) for f in fields]
        assert not order._state.adding
        # The related rows come cached (no query), and are the right ones.
        assert order.leader_event is result.event
        assert (order.account.pk, order.follower.pk) == (order.account_id, order.follower_id)
    statuses = sorted((o.account.name, o.status, o.kind, o.order_type) for o in result.orders)
    assert statuses == [
        ("Eval 25K", "blocked", "copy", "market"),
        ("Funded 150K", "pending", "copy", "market"),
    ]
    entry = JournalEntry.objects.get(event_type=EventType.COPY_ORDER_BLOCKED)
    blocked = orders_by_account(result)["Eval 25K"]
    assert entry.extra_data["client_order_id"] == blocked.client_order_id
