"""A worked session for the performance page's tests, every figure by hand.

Route (conftest ``route``): leader Lead, followers Eval 25K (ratio 0.5) and
Funded 150K (ratio 3), MNQ (tick 0.25 = $0.50, point $2). On trading date
2026-03-10 (Tuesday; the session opened Monday 17:00 CDT = 22:00 UTC):

- 15:00 UTC, leader BUY 2 @ 21,500.25:
  Eval 25K BUY 1 @ 21,500.75 (+2 ticks, $1.00), hand-off 1.5 ms, ack 12.25 ms;
  Funded 150K BUY 6 @ 21,500.00 (-1 tick, -$0.50 a contract, -$3.00),
  hand-off 2 ms, ack 30 ms.
- 15:01 UTC, leader SELL 2 @ 21,510.00:
  Eval 25K SELL 1 @ 21,509.50 (+2 ticks, $1.00), hand-off 1 ms, ack 8 ms;
  Funded 150K SELL 6 @ 21,509.75 (+1 tick, $0.50 a contract, $3.00),
  hand-off 3 ms, ack 20 ms.

Realized: leader 9.75 pt x 2 x $2 = $39.00; Eval 25K 8.75 pt x 1 x $2 =
$17.50; Funded 150K 9.75 pt x 6 x $2 = $117.00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from conftest import Route
from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, LeaderEvent
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import copy_orders_record
from routing.services.orders import copy_order_claim
from routing.services.send_times import SendTimes

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
NOW = T0 + timedelta(minutes=2)
SESSION_START = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)


def leader_fill(route: Route, event_id: str, side: Side, price: str, at: datetime) -> LeaderEvent:
    """The leader's fill of 2 MNQH6 ingested at ``at`` (its row's arrival
    moved to ``at``, as if the engine received it then), orders left PENDING."""
    fill = LeaderFill(event_id, "lead", "MNQH6", side, 2, Decimal(price), at)
    event = leader_event_ingest(account=route.leader, fill=fill, source="test").event
    LeaderEvent.objects.filter(pk=event.pk).update(created_at=at)
    CopyOrder.objects.filter(leader_event=event).update(created_at=at)
    return event


def answered(
    event: LeaderEvent, account_id: int, price: str, handoff_ms: str, ack_ms: str, at: datetime
) -> CopyOrder:
    """The follower's order of ``event`` claimed, filled completely at
    ``price`` and recorded with its send times (ms after ``at``)."""
    order = CopyOrder.objects.get(leader_event=event, account_id=account_id)
    assert copy_order_claim(order_id=order.pk) is not None
    fill = BrokerFill(
        fill_id=f"x-{order.pk}",
        client_order_id=order.client_order_id,
        account=order.account.external_id,
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.qty,
        price=Decimal(price),
        time=at,
    )
    result = OrderResult(
        client_order_id=order.client_order_id,
        broker_order_id=f"b-{order.pk}",
        status=OrderStatus.FILLED,
        filled_qty=order.qty,
        avg_price=Decimal(price),
        fills=(fill,),
    )
    times = SendTimes(
        handed_at=at + timedelta(milliseconds=float(handoff_ms)),
        acknowledged_at=at + timedelta(milliseconds=float(ack_ms)),
    )
    return copy_orders_record(results=[(order.pk, result)], times={order.pk: times})[0]


def worked_session(route: Route) -> None:
    """The session of the module docstring, recorded."""
    small, large = route.small.pk, route.large.pk
    buy = leader_fill(route, "L1", Side.BUY, "21500.25", T0)
    answered(buy, small, "21500.75", "1.5", "12.25", T0)
    answered(buy, large, "21500.00", "2", "30", T0)
    sell = leader_fill(route, "L2", Side.SELL, "21510.00", T1)
    answered(sell, small, "21509.50", "1", "8", T1)
    answered(sell, large, "21509.75", "3", "20", T1)
