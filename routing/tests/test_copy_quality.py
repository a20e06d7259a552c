"""Measured latency and slippage of a route (routing.copy_quality), from the
worked session of ``performance_fixtures`` (every figure by hand there)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from conftest import Route
from routing.copy_quality import copy_quality, copy_quality_payload
from routing.models import CopyOrder, LeaderEvent
from routing.services.order_results import copy_orders_record
from routing.services.send_times import SendTimes
from routing.tests.performance_fixtures import NOW, SESSION_START, T0, worked_session

pytestmark = pytest.mark.django_db


def _payload(route: Route, at=NOW) -> dict:
    return copy_quality_payload(copy_quality(group=route.group, at=at))


def test_route_p50_p99_over_the_session_as_percentile_cont(route: Route) -> None:
    # Arrange
    worked_session(route)
    # Act
    payload = _payload(route)
    # Assert: hand-offs 1, 1.5, 2, 3 ms: p50 rank 1.5 -> 1.75, p99 rank 2.97 -> 2.97.
    # Acks 8, 12.25, 20, 30 ms: p50 -> 16.125 (shown 16.13), p99 -> 20 + 0.97 x 10 = 29.7.
    # Slippage -1, 1, 2, 2 ticks: p50 1.5, p99 2; cost 1 - 3 + 1 + 3 = $2.00.
    route_figures = payload["route"]
    assert payload["trading_date"] == "2026-03-10"
    assert payload["session_start"] == SESSION_START.isoformat()
    assert route_figures["orders"] == 4
    assert route_figures["handoff_ms"] == {"count": 4, "p50": "1.75", "p99": "2.97"}
    assert route_figures["ack_ms"] == {"count": 4, "p50": "16.13", "p99": "29.7"}
    assert route_figures["slippage_ticks"] == {"count": 4, "p50": "1.5", "p99": "2"}
    assert route_figures["slippage_dollars"] == "2.00"


def test_each_follower_shows_its_last_order_and_session(route: Route) -> None:
    worked_session(route)
    small, large = _payload(route)["followers"]
    # Eval 25K's last: SELL 1 @ 21,509.50 against 21,510.00: 2 ticks = $1.00.
    assert small["name"] == "Eval 25K"
    last = small["last"]
    assert (last["side"], last["qty"], last["symbol"]) == ("sell", 1, "MNQH6")
    assert (last["handoff_ms"], last["ack_ms"]) == ("1", "8")
    assert (last["fill_price"], last["leader_price"]) == ("21509.50", "21510.00")
    assert (last["slippage_ticks"], last["slippage_per_contract"]) == ("2", "1.00")
    assert last["slippage_dollars"] == "1.00"
    # Its session: hand-offs 1.5 and 1 ms: p50 1.25, p99 1 + 0.99 x 0.5 = 1.495 (1.50).
    assert small["session"]["handoff_ms"] == {"count": 2, "p50": "1.25", "p99": "1.5"}
    assert small["session"]["slippage_dollars"] == "2.00"
    # Funded 150K: -$3.00 bought 1 tick better, +$3.00 sold 1 tick worse.
    assert large["last"]["slippage_ticks"] == "1"
    assert large["last"]["slippage_dollars"] == "3.00"
    assert large["session"]["slippage_dollars"] == "0.00"
    assert large["session"]["slippage_ticks"] == {"count": 2, "p50": "0", "p99": "0.98"}


def test_orders_of_an_earlier_session_are_left_out(route: Route) -> None:
    worked_session(route)
    # The next trading date's session opens at 17:00 CDT (22:00 UTC) on 2026-03-10.
    payload = _payload(route, at=SESSION_START + timedelta(days=1, minutes=1))
    assert payload["trading_date"] == "2026-03-11"
    assert payload["route"]["orders"] == 0
    assert payload["route"]["handoff_ms"] == {"count": 0, "p50": None, "p99": None}
    assert [f["last"] for f in payload["followers"]] == [None, None]


def test_recording_an_answer_again_keeps_the_first_measurement(route: Route) -> None:
    worked_session(route)
    order = CopyOrder.objects.filter(account=route.small).order_by("pk").first()
    assert order is not None
    first = (order.handed_at, order.acknowledged_at)
    assert first == (T0 + timedelta(microseconds=1500), T0 + timedelta(microseconds=12250))
    # Act: the same answer again (as the update stream may repeat it), other times.
    result = _same_answer(order)
    copy_orders_record(
        results=[(order.pk, result)],
        times={order.pk: SendTimes(T0 + timedelta(seconds=5), T0 + timedelta(seconds=6))},
    )
    order.refresh_from_db()
    assert (order.handed_at, order.acknowledged_at) == first


def test_a_fill_in_another_expiry_has_no_slippage_and_says_why(route: Route) -> None:
    worked_session(route)
    order = CopyOrder.objects.filter(account=route.large).order_by("-pk").first()
    assert order is not None
    CopyOrder.objects.filter(pk=order.pk).update(symbol="MNQM6")
    last = _payload(route)["followers"][1]["last"]
    assert last["slippage_ticks"] is None
    assert last["no_slippage"] == "MNQM6 has no price comparable with the leader's MNQH6"
    assert last["handoff_ms"] == "3"  # latency is still measured


def _same_answer(order: CopyOrder):
    from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
    from routing.engine.types import Side

    fill = BrokerFill(
        f"x-{order.pk}",
        order.client_order_id,
        order.account.external_id,
        order.symbol,
        Side(order.side),
        order.qty,
        order.avg_fill_price or Decimal(0),
        T0,
    )
    return OrderResult(
        order.client_order_id,
        f"b-{order.pk}",
        OrderStatus.FILLED,
        order.qty,
        order.avg_fill_price,
        (fill,),
    )


def test_latency_starts_when_the_engine_took_the_event_in(route: Route) -> None:
    # Arrange: the worked session, then its last event marked as taken in by
    # the worker 4 ms before its row was stored (it waited for the lock).
    worked_session(route)
    last = CopyOrder.objects.filter(follower=route.small_follower).order_by("-pk").first()
    assert last is not None and last.leader_event is not None
    event = last.leader_event
    LeaderEvent.objects.filter(pk=event.pk).update(
        received_at=event.created_at - timedelta(milliseconds=4)
    )
    # Act
    small = _payload(route)["followers"][0]["last"]
    # Assert: the hand-off 1 ms after the row and the answer 8 ms after it
    # (the worked session) are 5 and 12 ms after the event came in.
    assert (small["handoff_ms"], small["ack_ms"]) == ("5", "12")
