"""The engine worker stamps each copy order's hand-off to the broker adapter
and the broker's answer, and stores them with the answer's batch (no
statement of their own): leader fill -> engine -> paper broker -> rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Route
from routing.brokers.base import OrderResult, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.copy_quality import copy_quality, copy_quality_payload
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, LeaderEvent
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import event_answers_record
from routing.services.send_times import SendTimes

LATENCY = 0.03  # the paper broker answers each order after 30 ms


def _registry(slippage_ticks: int) -> AdapterRegistry:
    specs = engine_contract_specs()
    paper = PaperBroker(specs, slippage_ticks=slippage_ticks, latency_seconds=LATENCY)
    return AdapterRegistry({"paper": paper})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_worker_records_hand_off_and_acknowledgement_of_every_order(route: Route) -> None:
    # Arrange: 2 ticks of slippage against every follower order.
    registry = await sync_to_async(_registry)(2)
    await registry.connect_all()
    worker = EngineWorker(registry)
    now = datetime.now(UTC)
    buy = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21500.25"), now)
    # Act
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    # Assert: event arrival <= hand-off <= hand-off + 30 ms <= answer.
    event = await sync_to_async(LeaderEvent.objects.get)(external_id="f1")
    orders = await sync_to_async(
        lambda: list(CopyOrder.objects.filter(leader_event=event).order_by("pk"))
    )()
    assert [(o.qty, o.status) for o in orders] == [(1, "filled"), (6, "filled")]
    # The event was taken in before its row was stored (the lock's wait and
    # the ingest count in the latency).
    assert event.received_at is not None and event.received_at <= event.created_at
    for order in orders:
        assert order.handed_at is not None and order.acknowledged_at is not None
        assert event.received_at <= event.created_at <= order.handed_at
        assert order.acknowledged_at - order.handed_at >= timedelta(seconds=LATENCY)
        assert order.acknowledged_at - event.created_at < timedelta(seconds=5)
    # The page's figures: MNQ bought 2 ticks above 21,500.25 at 21,500.75 =
    # $1.00 a contract; Eval 25K 1 contract, Funded 150K 6: $7.00 in all.
    figures = await sync_to_async(
        lambda: copy_quality_payload(copy_quality(group=route.group, at=datetime.now(UTC)))
    )()
    small = figures["followers"][0]["last"]
    assert (small["fill_price"], small["slippage_ticks"]) == ("21500.75", "2")
    assert small["slippage_per_contract"] == "1.00"
    assert figures["route"]["slippage_dollars"] == "7.00"
    assert figures["route"]["ack_ms"]["count"] == 2
    assert float(figures["route"]["ack_ms"]["p50"]) >= LATENCY * 1000


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_orders_left_pending_for_the_router_are_stamped_when_sent(route: Route) -> None:
    # Arrange: a leader event stored by another door (a webhook alert): PENDING orders.
    registry = await sync_to_async(_registry)(0)
    await registry.connect_all()
    fill = LeaderFill("w1", "lead", "MNQH6", Side.SELL, 2, Decimal("21500.25"), datetime.now(UTC))
    await sync_to_async(leader_event_ingest)(account=route.leader, fill=fill, source="webhook")
    # Act: the worker's pass sends them.
    await EngineWorker(registry).send_pending()
    # Assert
    orders = await sync_to_async(lambda: list(CopyOrder.objects.order_by("pk")))()
    assert [o.status for o in orders] == ["filled", "filled"]
    for order in orders:
        assert order.handed_at is not None and order.acknowledged_at is not None
        assert order.acknowledged_at - order.handed_at >= timedelta(seconds=LATENCY)


@pytest.mark.django_db
def test_storing_the_send_times_adds_no_statement(route: Route) -> None:
    # Arrange: two identical events, their 2 orders each answered filled.
    def ingested(event_id: str):
        fill = LeaderFill(event_id, "lead", "MNQH6", Side.BUY, 2, Decimal("21500.25"), _T)
        return leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)

    def answers(result) -> list[tuple[int, OrderResult]]:
        return [
            (
                order.pk,
                OrderResult(
                    order.client_order_id, f"b-{order.pk}", OrderStatus.WORKING, 0, None, ()
                ),
            )
            for order in result.orders
        ]

    plain, timed = ingested("a"), ingested("b")
    stamps = {o.pk: SendTimes(_T, _T + timedelta(milliseconds=3)) for o in timed.orders}
    # Act
    with CaptureQueriesContext(connection) as without_times:
        event_answers_record(results=answers(plain), feed=plain.feed_orders, known=_known(plain))
    with CaptureQueriesContext(connection) as with_times:
        event_answers_record(
            results=answers(timed), feed=timed.feed_orders, known=_known(timed), times=stamps
        )
    # Assert: the same statements; the instants are in the rows.
    assert len(with_times.captured_queries) == len(without_times.captured_queries)
    stored = CopyOrder.objects.filter(pk__in=stamps).values_list("handed_at", "acknowledged_at")
    assert set(stored) == {(_T, _T + timedelta(milliseconds=3))}


_T = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def _known(result) -> dict[int, CopyOrder]:
    return {order.pk: order for order in result.orders}
