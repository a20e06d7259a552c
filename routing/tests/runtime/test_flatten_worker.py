"""Emergency flatten end to end on the paper exchange, and incidents the
worker finds (adapter disconnects, slippage).

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
MNQ: tick 0.25 points, $2 per point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from conftest import Route
from journal.models import EventType, Fill, JournalEntry, Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, LeaderOrder, LeaderOrderAction, OrderType, Side
from routing.models import (
    AccountSession,
    CopyGroup,
    CopyOrder,
    ExpectedPosition,
    FlattenRequest,
    Incident,
)
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.flatten import flatten_request
from routing.services.leader_events import leader_event_ingest

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 3, 15, 31, tzinfo=UTC)
SYMBOL = "MNQH6"
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _registry(slippage_ticks: int = 0) -> AdapterRegistry:
    specs = engine_contract_specs()
    return AdapterRegistry({"paper": PaperBroker(specs, slippage_ticks=slippage_ticks)})


def _fill(event_id: str, side: Side, qty: int, price: str = "21000") -> LeaderFill:
    return LeaderFill(event_id, "lead", SYMBOL, side, qty, Decimal(price), T0)


def _statuses(**filters: object) -> list[tuple[str, str, int]]:
    return list(
        CopyOrder.objects.filter(**filters)
        .order_by("account__name")
        .values_list("account__name", "status", "qty")
    )


def _expected() -> dict[str, int]:
    return dict(ExpectedPosition.objects.filter(symbol=SYMBOL).values_list("account__name", "qty"))


def _journal(event_type: str) -> list[str]:
    return list(
        JournalEntry.objects.filter(event_type=event_type)
        .order_by("id")
        .values_list("message", flat=True)
    )


async def _opened(route: Route, worker: EngineWorker) -> None:
    """Followers long by copying (2 and 12 @ 21000), a mirrored bid resting
    (1 and 6 @ 20990, counted as held), and a leader add to 8 decided but
    never sent (targets 4 and 24: 1 and 6 more)."""
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    bid = LeaderOrder(
        "L1:new",
        "L1",
        "lead",
        LeaderOrderAction.NEW,
        SYMBOL,
        Side.BUY,
        2,
        OrderType.LIMIT,
        T0,
        limit_price=Decimal("20990"),
    )
    await worker.handle_leader_order(route.leader.pk, bid, source="t")
    await sync_to_async(leader_event_ingest)(
        account=route.leader, fill=_fill("f2", Side.BUY, 4), source="t"
    )


def _snapshot(route: Route) -> dict[str, Any]:
    client = Client()
    client.force_login(route.owner)
    response = client.get(f"/api/groups/{route.group.pk}/snapshot/")
    assert response.status_code == 200
    return response.json()


def _group_page(route: Route) -> str:
    client = Client()
    client.force_login(route.owner)
    return client.get(f"/groups/{route.group.pk}/").content.decode()


async def test_flatten_cancels_working_orders_closes_positions_and_is_safe_twice(
    route: Route,
) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    paper = registry.paper
    worker = EngineWorker(registry)
    await _opened(route, worker)
    assert await sync_to_async(_statuses)(leader_order_id="L1") == [
        ("Eval 25K", "working", 1),
        ("Funded 150K", "working", 6),
    ]
    assert await sync_to_async(_expected)() == {"Eval 25K": 4, "Funded 150K": 24}
    # The market trades up to 21010.50 before the flatten.
    paper.mark(SYMBOL, Decimal("21010.50"), T1)

    # Act: alice presses, then presses again while it is pending.
    _, created = await sync_to_async(flatten_request)(user=route.owner, group=route.group)
    _, again = await sync_to_async(flatten_request)(user=route.owner, group=route.group)
    assert (created, again) == (True, False)
    await worker.flatten_requests()

    # Working mirrors cancelled at the broker, the unsent add cancelled here.
    assert await sync_to_async(_statuses)(leader_order_id="L1") == [
        ("Eval 25K", "cancelled", 1),
        ("Funded 150K", "cancelled", 6),
    ]
    assert await sync_to_async(_statuses)(leader_event__external_id="f2") == [
        ("Eval 25K", "cancelled", 1),
        ("Funded 150K", "cancelled", 6),
    ]
    # Flat at the broker, in the journal and in what copying expects.
    assert paper.position(route.small.external_id, SYMBOL).qty == 0
    assert paper.position(route.large.external_id, SYMBOL).qty == 0
    positions = await sync_to_async(
        lambda: {
            p.account.name: (p.qty, p.realized_pnl)
            for p in Position.objects.select_related("account").filter(
                account__in=[route.small, route.large]
            )
        }
    )()
    # Closed at 21010.50: 10.50 points x $2 x 2 = $42.00, x 12 = $252.00.
    assert positions == {
        "Eval 25K": (0, Decimal("42.00")),
        "Funded 150K": (0, Decimal("252.00")),
    }
    assert await sync_to_async(_expected)() == {"Eval 25K": 0, "Funded 150K": 0}
    group = await sync_to_async(CopyGroup.objects.get)(pk=route.group.pk)
    assert (group.level, group.level_reason) == (4, "emergency flatten by alice")
    request = await sync_to_async(FlattenRequest.objects.get)()
    assert (request.status, request.detail) == (
        "done",
        "2 follower accounts flat, 2 positions closed",
    )
    flattened = await sync_to_async(_journal)(EventType.ACCOUNT_FLATTENED)
    assert flattened == [
        "Eval 25K flattened (emergency flatten by alice): closed sell 2 MNQH6 @ 21010.50 "
        "(realized 42.00); 2 open orders cancelled",
        "Funded 150K flattened (emergency flatten by alice): closed sell 12 MNQH6 @ 21010.50 "
        "(realized 252.00); 2 open orders cancelled",
    ] or flattened == [  # the two accounts are flattened concurrently: either order
        "Funded 150K flattened (emergency flatten by alice): closed sell 12 MNQH6 @ 21010.50 "
        "(realized 252.00); 2 open orders cancelled",
        "Eval 25K flattened (emergency flatten by alice): closed sell 2 MNQH6 @ 21010.50 "
        "(realized 42.00); 2 open orders cancelled",
    ]
    assert len(await sync_to_async(_journal)(EventType.FLATTEN_REQUESTED)) == 2
    assert len(await sync_to_async(_journal)(EventType.FLATTEN_DONE)) == 1
    # The group page's snapshot (the API the page reads) shows what the
    # broker holds now, flat, and the flatten's outcome.
    snapshot = await sync_to_async(_snapshot)(route)
    assert [(f["follower"], f["positions"]) for f in snapshot["followers"]] == [
        ("Eval 25K", []),
        ("Funded 150K", []),
    ]
    assert (snapshot["flatten"]["state"], snapshot["flatten"]["text"]) == (
        "done",
        f"Emergency flatten #{request.pk} of Evals (by alice) done: "
        "2 follower accounts flat, 2 positions closed.",
    )

    # Pressed once more after it finished: a new request, nothing left to send.
    fills_before = await sync_to_async(Fill.objects.count)()
    _, created = await sync_to_async(flatten_request)(user=route.owner, group=route.group)
    assert created is True
    await worker.flatten_requests()
    assert await sync_to_async(Fill.objects.count)() == fills_before
    assert (await sync_to_async(_journal)(EventType.ACCOUNT_FLATTENED))[2:] in (
        [
            "Eval 25K flattened (emergency flatten by alice): nothing to close",
            "Funded 150K flattened (emergency flatten by alice): nothing to close",
        ],
        [
            "Funded 150K flattened (emergency flatten by alice): nothing to close",
            "Eval 25K flattened (emergency flatten by alice): nothing to close",
        ],
    )

    # Exits still copy (nothing left to exit), entries are refused (level 4).
    await worker.handle_leader_fill(route.leader.pk, _fill("f3", Side.SELL, 4), source="t")
    exits = await sync_to_async(_statuses)(leader_event__external_id="f3")
    assert exits == [("Eval 25K", "skipped", 0), ("Funded 150K", "skipped", 0)]
    await worker.handle_leader_fill(route.leader.pk, _fill("f4", Side.BUY, 2), source="t")
    entries = await sync_to_async(_statuses)(leader_event__external_id="f4")
    assert entries == [("Eval 25K", "blocked", 0), ("Funded 150K", "blocked", 0)]
    reason = await sync_to_async(
        lambda: CopyOrder.objects.filter(leader_event__external_id="f4").first().reason
    )()
    assert "route level 4 Locked" in reason
    assert paper.position(route.small.external_id, SYMBOL).qty == 0
    assert paper.position(route.large.external_id, SYMBOL).qty == 0


async def test_a_refused_close_fails_the_request_naming_the_account(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    registry.paper.reject_orders(route.large.external_id, reason="closed for the day")

    await sync_to_async(flatten_request)(user=route.owner)
    await worker.flatten_requests()

    request = await sync_to_async(FlattenRequest.objects.get)()
    assert request.status == "failed"
    assert request.detail.startswith("Funded 150K NOT flat (emergency flatten by alice): close ")
    assert "rejected: RISK_REJECT: closed for the day; still holds +12 MNQH6" in request.detail
    assert await sync_to_async(_expected)() == {"Eval 25K": 0, "Funded 150K": 12}
    done = await sync_to_async(_journal)(EventType.FLATTEN_DONE)
    assert done[0].startswith(f"Emergency flatten #{request.pk} of all groups FAILED for 1 of 2")
    # The group page shows the failure (not only the journal) and the
    # positions the broker still holds.
    snapshot = await sync_to_async(_snapshot)(route)
    assert snapshot["flatten"]["state"] == "failed"
    assert snapshot["flatten"]["text"].startswith(
        f"Emergency flatten #{request.pk} of all your groups (by alice) FAILED: "
        "Funded 150K NOT flat"
    )
    held = {
        f["follower"]: [(p["symbol"], p["qty"]) for p in f["positions"]]
        for f in snapshot["followers"]
    }
    assert held == {"Eval 25K": [], "Funded 150K": [(SYMBOL, 12)]}
    page = await sync_to_async(_group_page)(route)
    assert 'class="flatten-status failed"' in page
    assert "still holds +12 MNQH6" in page

    # The broker takes orders again: pressing again finishes the job.
    registry.paper.allow_orders(route.large.external_id)
    await sync_to_async(flatten_request)(user=route.owner)
    await worker.flatten_requests()
    assert registry.paper.position(route.large.external_id, SYMBOL).qty == 0
    assert await sync_to_async(_expected)() == {"Eval 25K": 0, "Funded 150K": 0}


async def test_flatten_on_breach_closes_one_account_and_marks_its_session(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    registry.paper.mark(SYMBOL, Decimal("20900"), T1)

    outcome = await worker.flatten_account(
        route.small.pk, reason="daily loss 400.00 \u2265 limit 375.00", at=T1
    )

    # Closed 2 @ 20900: -100 points x $2 x 2 = -$400.00.
    assert outcome.ok is True
    assert outcome.closes == ("sell 2 MNQH6 @ 20900.00",)
    assert registry.paper.position(route.small.external_id, SYMBOL).qty == 0
    assert registry.paper.position(route.large.external_id, SYMBOL).qty == 12  # not this one
    entry = await sync_to_async(JournalEntry.objects.get)(event_type=EventType.ACCOUNT_FLATTENED)
    assert entry.message == (
        "Eval 25K flattened (daily loss 400.00 \u2265 limit 375.00): "
        "closed sell 2 MNQH6 @ 20900.00 (realized -400.00)"
    )
    assert entry.actor_label == "risk"
    session = await sync_to_async(AccountSession.objects.get)(
        account=route.small, trading_date=date(2026, 3, 3)
    )
    assert session.flattened_at == T1
    group = await sync_to_async(CopyGroup.objects.get)(pk=route.group.pk)
    assert group.level == 3  # a breach is the account's, not the route's
    # Twice: nothing to close, no order sent.
    again = await worker.flatten_account(route.small.pk, reason="daily loss again")
    assert (again.ok, again.closes) == (True, ())


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def test_running_worker_reports_each_disconnect_once_and_carries_out_flattens(
    route: Route,
) -> None:
    registry = await sync_to_async(_registry)()
    paper = registry.paper
    stop = asyncio.Event()
    worker = EngineWorker(registry, poll_seconds=0.02)
    task = asyncio.create_task(worker.run(stop))
    try:
        await _until(lambda: paper.connected, "the worker to connect")
        await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")

        await paper.disconnect()
        await _until(lambda: Incident.objects.exists() and paper.connected, "the reconnect")
        await asyncio.sleep(0.1)  # several polls with the adapter up: no new incident
        await paper.disconnect()
        await _until(lambda: Incident.objects.count() == 2, "the second disconnect")
        kinds = await sync_to_async(
            lambda: list(Incident.objects.values_list("kind", "group_id", "detail"))
        )()
        assert (
            kinds
            == [
                (
                    "adapter_disconnect",
                    route.group.pk,
                    "paper adapter disconnected: found not connected; reconnecting",
                )
            ]
            * 2
        )
        group = await sync_to_async(CopyGroup.objects.get)(pk=route.group.pk)
        assert group.level == 4
        assert group.level_reason.startswith("incident: adapter_disconnect: paper adapter")

        # A press in the dashboard is picked up by the running worker.
        await sync_to_async(flatten_request)(user=route.owner, group=route.group)
        await _until(lambda: FlattenRequest.objects.filter(status="done").exists(), "the flatten")
        assert paper.position(route.large.external_id, SYMBOL).qty == 0
    finally:
        stop.set()
        await task


async def test_slippage_beyond_the_route_limit_at_the_paper_broker_locks_the_route(
    route: Route,
) -> None:
    # The paper exchange fills market orders 6 ticks against them; the route allows 4.
    await sync_to_async(CopyGroup.objects.filter(pk=route.group.pk).update)(max_slippage_ticks=4)
    registry = await sync_to_async(_registry)(6)
    await registry.connect_all()
    worker = EngineWorker(registry)

    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")

    # Bought at 21000 + 6 x 0.25 = 21001.50: 1.50 / 0.25 = 6 ticks > 4, once per order.
    details = await sync_to_async(
        lambda: sorted(Incident.objects.values_list("detail", flat=True))
    )()
    assert [d.split(" (tick")[0] for d in details] == [
        "slipped 6 ticks > max 4 on MNQH6: Eval 25K buy 2 @ avg 21001.5 vs leader 21000",
        "slipped 6 ticks > max 4 on MNQH6: Funded 150K buy 12 @ avg 21001.5 vs leader 21000",
    ]
    group = await sync_to_async(CopyGroup.objects.get)(pk=route.group.pk)
    assert group.level == 4
    # The leader's exit still copies (and slips too: the route is locked already).
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4), source="t")
    assert registry.paper.position(route.large.external_id, SYMBOL).qty == 0
    assert await sync_to_async(Incident.objects.count)() == 4
