"""Two engine workers, one database, one exchange: a worker killed mid fan-out
loses its leader to the other, which recovers it and copies on, with no
order sent twice and every follower at its target.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, EngineWorkerHeartbeat, FlattenRequest, LeaderLease
from routing.runtime import worker as worker_module
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs, leader_leases_held
from routing.services.copy_groups import follower_add
from routing.services.flatten import flatten_request

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
TTL = timedelta(seconds=1)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


class CountingPaper(PaperBroker):
    """The one exchange both workers trade on; counts every client order id
    handed to ``place_order`` (the paper broker itself would quietly
    de-duplicate a second one, which is what this test must not need)."""

    def __init__(self) -> None:
        super().__init__(engine_contract_specs(), latency_seconds=0.05)
        self.placed: Counter[str] = Counter()

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.placed[order.client_order_id] += 1
        return await super().place_order(order)


class FlattenCountingPaper(CountingPaper):
    """Also counts ``flatten`` calls per account."""

    def __init__(self) -> None:
        super().__init__()
        self.flattened: Counter[str] = Counter()

    async def flatten(self, account: str, *args: Any, **kwargs: Any) -> Any:
        self.flattened[account] += 1
        return await super().flatten(account, *args, **kwargs)


class ProcessRegistry(AdapterRegistry):
    """One worker process's adapters. Each process has its own connection in
    a real deployment; here they share the exchange, so a worker stopping
    (or being killed) must not disconnect it for the other."""

    async def disconnect_all(self) -> None:
        return None


def _add_followers(route: Route) -> None:
    for n, ratio in enumerate(["1", "2", "0.5", "1.5", "2.5", "3"]):
        account = broker_account_create(owner=route.owner, name=f"F{n}", balance=Decimal(50_000))
        follower_add(group=route.group, account=account, ratio=Decimal(ratio))


def _fill(route: Route, event_id: str, side: Side, qty: int) -> LeaderFill:
    return LeaderFill(event_id, route.leader.external_id, "MNQH6", side, qty, Decimal("21000"), T0)


async def _until(check: Callable[[], bool], *, seconds: float = 10.0) -> None:
    """Poll ``check`` (a database read, run in a thread) until true."""
    for _ in range(int(seconds / 0.02)):
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {seconds} s: {check.__doc__}")


def _positions(paper: PaperBroker, route: Route) -> dict[str, int]:
    from accounts.models import BrokerAccount

    names = dict(
        BrokerAccount.objects.filter(memberships__group=route.group).values_list(
            "name", "external_id"
        )
    )
    return {name: paper.position(ext, "MNQH6").qty for name, ext in names.items()}


async def test_worker_killed_mid_fan_out_then_other_takes_over_with_no_duplicate(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: 8 followers, two sends at a time, each order 50 ms at the broker;
    # worker a holds the leader, worker b runs beside it.
    await sync_to_async(_add_followers)(route)
    monkeypatch.setattr(worker_module, "MAX_CONCURRENT_SENDS", 2)
    paper = await sync_to_async(CountingPaper)()
    await paper.connect()
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="a", lease_ttl=TTL
    )
    b = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="b", lease_ttl=TTL
    )
    task_a = asyncio.create_task(a.run(stop_a))

    def a_holds_the_leader() -> bool:
        """worker a holds the leader's lease"""
        return leader_leases_held() == {route.leader.pk: "a"}

    await _until(a_holds_the_leader)
    task_b = asyncio.create_task(b.run(stop_b))

    def b_is_up() -> bool:
        """worker b has beaten"""
        return EngineWorkerHeartbeat.objects.filter(worker_id="b").exists()

    await _until(b_is_up)

    # Act 1: the leader buys 4; kill a once 3 of the 8 copies reached the broker.
    paper.publish_leader_fill(_fill(route, "f1", Side.BUY, 4))
    for _ in range(2000):
        if sum(paper.placed.values()) >= 3:
            break
        await asyncio.sleep(0.002)
    task_a.cancel()  # no clean stop: the lease is not released, it must expire
    with pytest.raises(asyncio.CancelledError):
        await task_a
    killed_at = asyncio.get_running_loop().time()
    statuses = await sync_to_async(
        lambda: Counter(CopyOrder.objects.values_list("status", flat=True))
    )()
    # Stored SENT in the event's transaction; the broker's update stream may
    # have recorded a few fills before the kill. Really cut half way: some
    # orders never reached the broker, so they are still in doubt.
    assert set(statuses) <= {"sent", "filled"}
    assert sum(statuses.values()) == 8
    assert 3 <= sum(paper.placed.values()) < 8
    assert statuses["sent"] >= 8 - sum(paper.placed.values())
    lease = await sync_to_async(LeaderLease.objects.get)()
    assert (lease.worker_id, lease.generation) == ("a", 1)  # still a's, not released

    def every_copy_filled() -> bool:
        """b recovered the fan-out: all 8 copy orders filled"""
        return CopyOrder.objects.exclude(status="filled").count() == 0

    await _until(every_copy_filled)
    taken_after = asyncio.get_running_loop().time() - killed_at

    # Assert 1: b took the leader over (after a's lease expired) and recovered.
    lease = await sync_to_async(LeaderLease.objects.get)()
    assert (lease.worker_id, lease.generation) == ("b", 2)
    assert taken_after < 1 + 5  # TTL, plus generous slack for a loaded machine
    entry = await sync_to_async(JournalEntry.objects.get)(event_type=EventType.LEADER_TAKEN_OVER)
    assert entry.message.startswith("Leader Lead: engine worker b took over from a")
    # Each client order id reached the broker once; 4 lots x ratio, rounded down.
    assert len(paper.placed) == 8
    assert set(paper.placed.values()) == {1}
    positions = await sync_to_async(_positions)(paper, route)
    assert positions == {
        "Eval 25K": 2,  # 4 x 0.5
        "Funded 150K": 12,  # 4 x 3
        "F0": 4,  # 4 x 1
        "F1": 8,  # 4 x 2
        "F2": 2,  # 4 x 0.5
        "F3": 6,  # 4 x 1.5
        "F4": 10,  # 4 x 2.5
        "F5": 12,  # 4 x 3
    }

    # Act 2: the leader sells 2 (half out); b copies it from its own stream.
    paper.publish_leader_fill(_fill(route, "f2", Side.SELL, 2))

    def sixteen_filled() -> bool:
        """b copied the scale-out: 16 copy orders, all filled"""
        return CopyOrder.objects.filter(status="filled").count() == 16

    await _until(sixteen_filled)

    # Assert 2: leader at 2 lots, each follower at 2 x ratio; still one send per id.
    assert len(paper.placed) == 16
    assert set(paper.placed.values()) == {1}
    positions = await sync_to_async(_positions)(paper, route)
    assert positions == {
        "Eval 25K": 1,  # 2 x 0.5
        "Funded 150K": 6,  # 2 x 3
        "F0": 2,
        "F1": 4,
        "F2": 1,
        "F3": 3,
        "F4": 5,
        "F5": 6,
    }

    # A clean stop of b releases the lease at once and marks b stopped.
    stop_b.set()
    await task_b
    lease = await sync_to_async(LeaderLease.objects.get)()
    assert (lease.worker_id, lease.generation) == ("", 2)
    beat = await sync_to_async(EngineWorkerHeartbeat.objects.get)(worker_id="b")
    assert beat.stopped_at is not None
    await paper.disconnect()


async def test_worker_without_the_lease_when_running_then_never_consumes_the_leader(
    route: Route,
) -> None:
    # Arrange: a holds the leader; b runs beside it and must leave it alone.
    paper = await sync_to_async(CountingPaper)()
    await paper.connect()
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="a", lease_ttl=TTL
    )
    b = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="b", lease_ttl=TTL
    )
    task_a = asyncio.create_task(a.run(stop_a))

    def a_holds_the_leader() -> bool:
        """worker a holds the leader's lease"""
        return leader_leases_held() == {route.leader.pk: "a"}

    await _until(a_holds_the_leader)
    task_b = asyncio.create_task(b.run(stop_b))
    # Act: three leader fills over three lease lengths.
    for n, side in enumerate([Side.BUY, Side.BUY, Side.SELL], start=1):
        paper.publish_leader_fill(_fill(route, f"f{n}", side, 2))
        await asyncio.sleep(TTL.total_seconds())
    stop_b.set()  # b first: a's clean stop would hand b the leader
    await task_b
    stop_a.set()
    await task_a
    # Assert: a kept renewing, so it decided everything and b nothing.
    lease = await sync_to_async(LeaderLease.objects.get)()
    assert lease.generation == 1  # never taken over
    events = await sync_to_async(
        lambda: Counter(CopyOrder.objects.values_list("status", flat=True))
    )()
    assert events == {"filled": 6}  # 3 events x 2 followers
    assert set(paper.placed.values()) == {1}
    positions = await sync_to_async(_positions)(paper, route)
    assert positions == {"Eval 25K": 1, "Funded 150K": 6}  # leader +2: 2 x 0.5, 2 x 3
    await paper.disconnect()


async def test_worker_that_lost_its_lease_when_events_come_then_decides_nothing(
    route: Route,
) -> None:
    from django.db.models import F
    from django.utils import timezone

    from routing.models import LeaderEvent
    from routing.services.leases import LeaseLostError

    # Arrange: a holds the leader, then stalls long enough for z to take it.
    paper = await sync_to_async(CountingPaper)()
    await paper.connect()
    stop_a = asyncio.Event()
    a = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="a", lease_ttl=TTL
    )
    task_a = asyncio.create_task(a.run(stop_a))

    def a_holds_the_leader() -> bool:
        """worker a holds the leader's lease"""
        return leader_leases_held() == {route.leader.pk: "a"}

    await _until(a_holds_the_leader)
    await sync_to_async(LeaderLease.objects.filter(leader=route.leader).update)(
        worker_id="z",
        generation=F("generation") + 1,
        expires_at=timezone.now() + timedelta(minutes=1),
    )
    await asyncio.sleep(TTL.total_seconds())  # a renews, finds the lease gone
    # Act: the leader trades; the event is also handed to a directly.
    paper.publish_leader_fill(_fill(route, "f1", Side.BUY, 2))
    await asyncio.sleep(0.3)
    with pytest.raises(LeaseLostError, match="a no longer holds the lease"):
        await a.handle_leader_fill(route.leader.pk, _fill(route, "f1", Side.BUY, 2), source="t")
    stop_a.set()
    await task_a
    # Assert: nothing stored, nothing sent; z keeps the lease after a's stop.
    assert await sync_to_async(LeaderEvent.objects.count)() == 0
    assert await sync_to_async(CopyOrder.objects.count)() == 0
    assert not paper.placed
    lease = await sync_to_async(LeaderLease.objects.get)()
    assert (lease.worker_id, lease.generation) == ("z", 2)
    await paper.disconnect()


async def test_flatten_with_two_workers_when_pressed_then_only_the_owner_flattens(
    route: Route,
) -> None:
    # Arrange: a holds the leader, b runs beside it; the followers hold 1 and 6.
    paper = await sync_to_async(FlattenCountingPaper)()
    await paper.connect()
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="a", lease_ttl=TTL
    )
    b = EngineWorker(
        ProcessRegistry({"paper": paper}), poll_seconds=0.05, worker_id="b", lease_ttl=TTL
    )
    task_a = asyncio.create_task(a.run(stop_a))

    def a_holds_the_leader() -> bool:
        """worker a holds the leader's lease"""
        return leader_leases_held() == {route.leader.pk: "a"}

    await _until(a_holds_the_leader)
    task_b = asyncio.create_task(b.run(stop_b))

    def b_is_up() -> bool:
        """worker b has beaten"""
        return EngineWorkerHeartbeat.objects.filter(worker_id="b").exists()

    await _until(b_is_up)
    paper.publish_leader_fill(_fill(route, "f1", Side.BUY, 2))

    def both_filled() -> bool:
        """both copies filled"""
        return CopyOrder.objects.filter(status="filled").count() == 2

    await _until(both_filled)
    # Act: the owner presses emergency flatten on the group.
    await sync_to_async(flatten_request)(user=route.owner, group=route.group)

    def flatten_done() -> bool:
        """the flatten request ended"""
        return FlattenRequest.objects.filter(status=FlattenRequest.Status.DONE).exists()

    await _until(flatten_done)
    await asyncio.sleep(0.3)  # several more passes of both workers
    stop_b.set()
    await task_b
    stop_a.set()
    await task_a
    # Assert: each follower flattened once, by the worker that owns its leader.
    assert paper.flattened == Counter({route.small.external_id: 1, route.large.external_id: 1})
    positions = await sync_to_async(_positions)(paper, route)
    assert positions == {"Eval 25K": 0, "Funded 150K": 0}
    await paper.disconnect()
