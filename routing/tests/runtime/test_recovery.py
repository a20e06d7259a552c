"""Crash-only engine: a fan-out killed half way, restarted, ends exactly right.

Also reconciliation (desync found, sync, untrack, resolved), quarantine after
a rejected entry, and leader events applied in sequence.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount
from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, Fill, JournalEntry
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Desync, ExpectedPosition, Quarantine
from routing.runtime import worker as worker_module
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.copy_groups import follower_add
from routing.services.reconcile import desync_sync, desync_untrack

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _registry(latency: float = 0.0) -> AdapterRegistry:
    specs = engine_contract_specs()
    return AdapterRegistry({"paper": PaperBroker(specs, latency_seconds=latency)})


def _fill(event_id: str, side: Side, qty: int, seq: int | None = None) -> LeaderFill:
    return LeaderFill(event_id, "lead", "MNQH6", side, qty, Decimal("21000"), T0, seq=seq)


def _add_followers(route: Route, ratios: list[str]) -> None:
    for n, ratio in enumerate(ratios):
        account = broker_account_create(owner=route.owner, name=f"F{n}", balance=Decimal(50_000))
        follower_add(group=route.group, account=account, ratio=Decimal(ratio))


def _expected() -> dict[str, int]:
    return {
        row.account.external_id: row.qty
        for row in ExpectedPosition.objects.select_related("account").filter(symbol="MNQH6")
    }


async def test_fan_out_killed_half_way_then_restarted_ends_at_expected_positions(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: 8 followers, two sends at a time, each order 50 ms at the broker.
    await sync_to_async(_add_followers)(route, ["1", "2", "0.5", "1.5", "2.5", "3"])
    monkeypatch.setattr(worker_module, "MAX_CONCURRENT_SENDS", 2)
    registry = await sync_to_async(_registry)(0.05)
    await registry.connect_all()
    first = EngineWorker(registry)
    # Act: kill the first worker mid fan-out (the orders are stored SENT in the
    # event's transaction; some reached the broker, some never left), then
    # start a second one.
    task = asyncio.create_task(
        first.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    )
    accounts = await sync_to_async(
        lambda: list(
            BrokerAccount.objects.exclude(pk=route.leader.pk).values_list("external_id", flat=True)
        )
    )()

    def at_broker() -> int:
        return sum(1 for a in accounts if registry.paper.position(a, "MNQH6").qty)

    for _ in range(2000):
        if at_broker() >= 3:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    statuses = await sync_to_async(
        lambda: set(CopyOrder.objects.values_list("status", flat=True))
    )()
    assert statuses == {"sent"}  # every answer unrecorded: all in doubt
    assert 3 <= at_broker() < 8  # really cut half way: some never reached the broker
    stop = asyncio.Event()
    second = asyncio.create_task(EngineWorker(registry, poll_seconds=0.05).run(stop))
    for _ in range(200):
        open_orders = await sync_to_async(CopyOrder.objects.exclude(status="filled").count)()
        if not open_orders:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await second
    # Assert: every follower at its target, each order once at the broker.
    expected = await sync_to_async(_expected)()
    orders = await sync_to_async(
        lambda: list(CopyOrder.objects.select_related("account").order_by("pk"))
    )()
    assert len(orders) == 8
    for order in orders:
        assert order.status == "filled"
        assert order.target == expected[order.account.external_id]
        held = registry.paper.position(order.account.external_id, "MNQH6").qty
        assert held == order.target == order.qty  # 4 x ratio, floor: no duplicate fill
    fills = await sync_to_async(lambda: Fill.objects.exclude(account=route.leader).count())()
    assert fills == 8


async def test_sent_order_the_broker_never_saw_is_resent_once(route: Route) -> None:
    from routing.services.leader_events import leader_event_ingest
    from routing.services.orders import copy_order_claim

    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    result = await sync_to_async(leader_event_ingest)(
        account=route.leader, fill=_fill("f1", Side.BUY, 2), source="t"
    )
    for order_id in result.pending_order_ids:
        assert await sync_to_async(copy_order_claim)(order_id=order_id) is not None
    # The worker died between claiming and the broker receiving anything.
    await EngineWorker(registry).recover()
    await EngineWorker(registry).recover()  # a second restart changes nothing
    assert registry.paper.position(route.small.external_id, "MNQH6").qty == 1
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 6


async def test_reconcile_finds_desync_then_sync_brings_follower_back(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    # The user closes Funded 150K's 12 lots by hand at the broker.
    await registry.paper.flatten(route.large.external_id)
    await worker.reconcile()
    desync = await sync_to_async(Desync.objects.get)(status="open")
    assert (desync.symbol, desync.expected, desync.actual) == ("MNQH6", 12, 0)
    found = await sync_to_async(JournalEntry.objects.get)(event_type=EventType.DESYNC_FOUND)
    assert "broker holds +0, copying expects +12" in found.message
    # Act: sync.
    order = await sync_to_async(desync_sync)(desync=desync, actor_label="alice")
    assert (order.kind, order.side, order.qty) == ("sync", "buy", 12)
    await worker.send_pending()
    # Assert
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 12
    await worker.reconcile()
    assert await sync_to_async(Desync.objects.filter(status="open").count)() == 0
    with pytest.raises(Exception, match="already synced"):
        await sync_to_async(desync_sync)(desync=desync, actor_label="alice")


async def test_untrack_leaves_the_difference_to_the_user(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    await registry.paper.flatten(route.large.external_id)
    await worker.reconcile()
    desync = await sync_to_async(Desync.objects.get)(status="open")
    await sync_to_async(desync_untrack)(desync=desync, actor_label="alice")
    await worker.reconcile()
    assert await sync_to_async(Desync.objects.filter(status="open").count)() == 0
    row = await sync_to_async(ExpectedPosition.objects.get)(account=route.large, symbol="MNQH6")
    assert (row.qty, row.untracked) == (12, -12)
    # The leader goes flat: copying closes only what it tracks (12); the
    # broker, already flat by the user's hand, would go short: the engine
    # sends the tracked close and reconciliation keeps comparing qty + untracked.
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4), source="t")
    row = await sync_to_async(ExpectedPosition.objects.get)(account=route.large, symbol="MNQH6")
    assert row.qty == 0


async def test_rejected_entry_quarantines_the_symbol_and_exits_never_open(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    registry.paper.reject_orders(route.large.external_id, reason="margin")
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    quarantine = await sync_to_async(Quarantine.objects.get)()
    assert (quarantine.symbol, quarantine.released_at) == ("MNQH6", None)
    row = await sync_to_async(ExpectedPosition.objects.get)(account=route.large, symbol="MNQH6")
    assert row.qty == 0  # the rejected 12 were taken back out
    registry.paper.allow_orders(route.large.external_id)
    # Later leader scale-out and add: nothing for the quarantined follower.
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 2), source="t")
    await worker.handle_leader_fill(route.leader.pk, _fill("f3", Side.BUY, 2), source="t")
    later = await sync_to_async(
        lambda: list(
            CopyOrder.objects.filter(account=route.large)
            .order_by("pk")
            .values_list("status", "qty")
        )
    )()
    assert later == [("rejected", 12), ("skipped", 0), ("blocked", 0)]
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 0
    assert (
        await sync_to_async(
            JournalEntry.objects.filter(event_type=EventType.QUARANTINE_STARTED).count
        )()
        == 1
    )


async def test_leader_events_apply_in_sequence_and_duplicates_are_rejected(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    # seq 2 arrives before seq 1: held, then both apply in order.
    await worker.handle_leader_event(route.leader.pk, _fill("f2", Side.BUY, 2, seq=2), source="t")
    assert await sync_to_async(CopyOrder.objects.count)() == 0
    await worker.handle_leader_event(route.leader.pk, _fill("f1", Side.BUY, 2, seq=1), source="t")
    # A re-delivery of seq 1 after seq 2 was applied.
    await worker.handle_leader_event(route.leader.pk, _fill("f1", Side.BUY, 2, seq=1), source="t")
    events = await sync_to_async(
        lambda: list(
            CopyOrder.objects.filter(account=route.large)
            .order_by("pk")
            .values_list("leader_event__seq", "qty", "target")
        )
    )()
    # Funded at ratio 3: leader 2 -> 6, leader 4 -> 12.
    assert events == [(1, 6, 6), (2, 6, 12)]
    rejected = await sync_to_async(JournalEntry.objects.get)(
        event_type=EventType.LEADER_EVENT_REJECTED
    )
    assert "duplicate: seq 1" in rejected.message
    # A restarted worker resumes after the last applied seq.
    restarted = EngineWorker(registry)
    await restarted.handle_leader_event(
        route.leader.pk, _fill("f3", Side.SELL, 4, seq=3), source="t"
    )
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 0


async def test_paper_exchange_resumes_its_book_from_the_journal_on_restart(route: Route) -> None:
    from routing.runtime.adapters import build_registry

    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    # The process restarts: a new paper exchange is built from the database.
    restarted = await sync_to_async(build_registry)()
    await restarted.connect_all()
    assert restarted.paper.position(route.large.external_id, "MNQH6").qty == 12
    assert restarted.paper.position(route.small.external_id, "MNQH6").qty == 2
    await EngineWorker(restarted).reconcile()
    assert await sync_to_async(Desync.objects.count)() == 0  # nothing looks desynced
    with pytest.raises(ValueError, match="fresh broker"):
        restarted.paper.restore_position(
            route.large.external_id,
            "MNQH6",
            registry.paper.position(route.large.external_id, "MNQH6"),
        )
