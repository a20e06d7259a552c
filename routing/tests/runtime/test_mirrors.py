"""Leader working orders mirrored end to end on the paper exchange.

The leader places, moves and cancels limit orders on the paper broker; the
engine worker (running as in production) mirrors them into the followers,
the price feed fills leader and followers alike, and nothing is copied twice.
Route fixture: Eval 25K at ratio 0.5, Funded 150K at ratio 3.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from conftest import Route
from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.engine.types import OrderType, Side
from routing.models import CopyOrder, ExpectedPosition
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
SYMBOL = "MNQH6"
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _registry() -> AdapterRegistry:
    specs = engine_contract_specs()
    return AdapterRegistry({"paper": PaperBroker(specs)})


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def _mirrors(status: str) -> dict[str, tuple[int, Decimal | None]]:
    return {
        o.account.name: (o.qty, o.limit_price)
        for o in CopyOrder.objects.select_related("account").filter(
            leader_order_id="L1" if status != "cancelled" else "L2", status=status
        )
    }


async def test_leader_limit_order_mirrored_moved_filled_and_cancelled(route: Route) -> None:
    registry = await sync_to_async(_registry)()
    paper = registry.paper
    paper.watch_leader(route.leader.external_id)
    stop = asyncio.Event()
    worker = asyncio.create_task(EngineWorker(registry, poll_seconds=0.02).run(stop))
    try:
        await _until(lambda: paper.connected, "the worker to connect")
        paper.mark(SYMBOL, Decimal("21010"), T0)

        def leader_order(coid: str, side: Side, price: str) -> OrderRequest:
            return OrderRequest(
                account=route.leader.external_id,
                client_order_id=coid,
                symbol=SYMBOL,
                side=side,
                qty=4,
                order_type=OrderType.LIMIT,
                limit_price=Decimal(price),
                time=T0,
            )

        # The leader bids 4 at 21000: mirrors of 4 x 0.5 = 2 and 4 x 3 = 12.
        placed = await paper.place_order(leader_order("L1", Side.BUY, "21000"))
        assert placed.status is OrderStatus.WORKING
        await _until(lambda: len(_mirrors("working")) == 2, "mirrors working")
        assert await sync_to_async(_mirrors)("working") == {
            "Eval 25K": (2, Decimal("21000")),
            "Funded 150K": (12, Decimal("21000")),
        }
        # The leader moves the bid up to 21005: the mirrors follow.
        await paper.modify_order(route.leader.external_id, "L1", limit_price=Decimal("21005"))
        await _until(
            lambda: {p for _, p in _mirrors("working").values()} == {Decimal("21005")},
            "mirrors moved",
        )
        # The market trades down to 21004: leader and mirrors fill at 21005.
        paper.mark(SYMBOL, Decimal("21004"), T0)
        await _until(lambda: len(_mirrors("filled")) == 2, "mirrors filled")
        assert paper.position(route.small.external_id, SYMBOL).qty == 2
        assert paper.position(route.large.external_id, SYMBOL).qty == 12
        assert paper.position(route.large.external_id, SYMBOL).avg_price == Decimal("21005")
        # The leader's fill copies nothing more: the mirrors already hold the target.
        await _until(
            lambda: (
                CopyOrder.objects.filter(
                    leader_event__order_id="L1", leader_event__action=""
                ).count()
                == 2
            ),
            "the leader fill decided",
        )
        from_fill = await sync_to_async(
            lambda: set(
                CopyOrder.objects.filter(
                    leader_event__order_id="L1", leader_event__action=""
                ).values_list("status", flat=True)
            )
        )()
        assert from_fill == {"skipped"}

        # An offer the leader cancels: mirrors created, then cancelled.
        await paper.place_order(leader_order("L2", Side.SELL, "21100"))
        await _until(
            lambda: CopyOrder.objects.filter(leader_order_id="L2", status="working").count() == 2,
            "sell mirrors working",
        )
        await paper.cancel_order(route.leader.external_id, "L2")
        await _until(lambda: len(_mirrors("cancelled")) == 2, "mirrors cancelled")
        expected = await sync_to_async(
            lambda: dict(
                ExpectedPosition.objects.filter(symbol=SYMBOL).values_list("account__name", "qty")
            )
        )()
        assert expected == {"Eval 25K": 2, "Funded 150K": 12}
        assert paper.position(route.large.external_id, SYMBOL).qty == 12
    finally:
        stop.set()
        await worker
