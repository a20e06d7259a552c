"""An event's copy orders are handed to their adapters as the placements are
made (``EngineWorker._place_all``): every order is in its adapter's hands
before the event loop runs anything else, and the answers come back in the
orders' order whatever order the broker answers in."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.engine.types import Side
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.services.send_times import SendTimes


class _HeldBroker:
    """An adapter that records each ``place_order`` as it is entered and
    answers only when the test releases that order."""

    platform = "paper"
    connected = True

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.entered.append(order.client_order_id)
        released = self.release.setdefault(order.client_order_id, asyncio.Event())
        await released.wait()
        return OrderResult(order.client_order_id, None, OrderStatus.FILLED, order.qty, None, ())


def _request(n: int) -> OrderRequest:
    return OrderRequest(
        account=f"acct-{n}",
        client_order_id=f"ct-{n}",
        symbol="MNQH6",
        side=Side.BUY,
        qty=n,
        reference_price=Decimal("21500.25"),
    )


@pytest.mark.asyncio
async def test_place_all_when_made_then_every_order_handed_before_the_loop_runs_on() -> None:
    # Arrange: three orders to one adapter that holds every answer.
    broker = _HeldBroker()
    worker = EngineWorker(AdapterRegistry({"paper": broker}))
    placing = [("paper", _request(n), SendTimes()) for n in (1, 2, 3)]
    # Act: the placements are made; the loop runs one round before the test looks.
    placed = asyncio.create_task(worker._place_all(placing))
    await asyncio.sleep(0)
    # Assert: every order reached its adapter in that round (tasks started
    # by the loop one by one reached none: the first still queued behind
    # the task that made them), each stamped as handed over.
    assert broker.entered == ["ct-1", "ct-2", "ct-3"]
    assert all(times.handed_at is not None for _, _, times in placing)
    # The broker answers the last order first: the answers keep the orders' order.
    for client_order_id in ("ct-3", "ct-1", "ct-2"):
        broker.release[client_order_id].set()
        await asyncio.sleep(0)
    answers = await placed
    assert [(a.client_order_id, a.status, a.filled_qty) for a in answers] == [
        ("ct-1", OrderStatus.FILLED, 1),
        ("ct-2", OrderStatus.FILLED, 2),
        ("ct-3", OrderStatus.FILLED, 3),
    ]


@pytest.mark.asyncio
async def test_place_all_when_cancelled_then_the_placements_unanswered_are_cancelled() -> None:
    # Arrange: two orders held at the adapter.
    broker = _HeldBroker()
    worker = EngineWorker(AdapterRegistry({"paper": broker}))
    placed = asyncio.create_task(
        worker._place_all([("paper", _request(n), SendTimes()) for n in (1, 2)])
    )
    await asyncio.sleep(0)
    # Act: the worker stops mid fan-out.
    placed.cancel()
    # Assert: the caller sees the cancel and no answer is left waiting.
    with pytest.raises(asyncio.CancelledError):
        await placed
    assert broker.entered == ["ct-1", "ct-2"]
    assert all(not event.is_set() for event in broker.release.values())
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []
