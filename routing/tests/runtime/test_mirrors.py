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
from routing.models import CopyOrder, ExpectedPosition, LeaderEvent
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


# -- brackets ------------------------------------------------------------------------------------


def _state(route: Route, paper: PaperBroker) -> dict[str, tuple[int, int, int]]:
    """Per follower: (expected position, broker position, contracts its live
    copy orders would still sell)."""
    paper_of = {a.name: a.external_id for a in (route.small, route.large)}
    expected = dict(
        ExpectedPosition.objects.filter(symbol=SYMBOL).values_list("account__name", "qty")
    )
    live = CopyOrder.objects.filter(status__in=CopyOrder.OPEN_STATUSES, side=Side.SELL.value)
    return {
        name: (
            expected[name],
            paper.position(external_id, SYMBOL).qty,
            sum(o.qty - o.filled_qty for o in live.filter(account__name=name)),
        )
        for name, external_id in paper_of.items()
    }


def _applied(order_id: str, fills: int) -> bool:
    """The leader's ``fills`` fills of ``order_id`` are decided and every copy
    order is answered (none pending or in flight)."""
    decided = CopyOrder.objects.filter(leader_event__order_id=order_id, leader_event__action="")
    return (
        decided.values("leader_event").distinct().count() == fills
        and not CopyOrder.objects.filter(status__in=("pending", "sent")).exists()
    )


async def _bracket(paper: PaperBroker, leader: str, coid: str, qty: int, sl: str, tp: str) -> None:
    entry = OrderRequest(
        account=leader,
        client_order_id=coid,
        symbol=SYMBOL,
        side=Side.BUY,
        qty=qty,
        time=T0,
        stop_loss=Decimal(sl),
        take_profit=Decimal(tp),
    )
    assert (await paper.place_order(entry)).status is OrderStatus.FILLED
    await _until(lambda: _applied(coid, 1), f"entry {coid} copied")
    await _until(
        lambda: LeaderEvent.objects.filter(external_id=f"{coid}:tp:new").exists(),
        f"the legs of {coid} applied",
    )


def _sold() -> list[tuple[str, int]]:
    return sorted(
        (o.account.name, o.filled_qty)
        for o in CopyOrder.objects.select_related("account").filter(
            side=Side.SELL.value, filled_qty__gt=0
        )
    )


async def test_bracket_take_profit_and_stop_fills_take_followers_to_their_targets(
    route: Route,
) -> None:
    """Issue 10, defect 3: a 4-lot leader in three brackets (1, 1 and 2 lots,
    the usual ladder of targets) exits 1 + 1 through take profits and 2
    through a stop. Multiplier x 1, targets: leader 4: 4 x 0.5 = 2 and
    4 x 3 = 12; leader 3: 1.5 -> 1 (the exit of 0.5 rounds up to 1) and 9;
    leader 2: 1 and 6; leader 0: 0 and 0. After each step the follower's
    expected and broker positions are at the target and no follower order
    is left working to sell what it does not hold."""
    registry = await sync_to_async(_registry)()
    paper = registry.paper
    leader = route.leader.external_id
    paper.watch_leader(leader)
    stop = asyncio.Event()
    worker = asyncio.create_task(EngineWorker(registry, poll_seconds=0.02).run(stop))
    try:
        await _until(lambda: paper.connected, "the worker to connect")
        paper.mark(SYMBOL, Decimal("21000"), T0)
        await _bracket(paper, leader, "B1", 1, sl="20950", tp="21050")
        await _bracket(paper, leader, "B2", 1, sl="20950", tp="21060")
        await _bracket(paper, leader, "B3", 2, sl="20950", tp="21100")
        assert paper.position(leader, SYMBOL).qty == 4
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (2, 2, 0),
            "Funded 150K": (12, 12, 0),
        }

        # The first target trades: B1's take profit fills 1 (its stop is cancelled).
        paper.mark(SYMBOL, Decimal("21050"), T0)
        assert paper.position(leader, SYMBOL).qty == 3
        await _until(lambda: _applied("B1:tp", 1), "the first take profit copied")
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (1, 1, 0),
            "Funded 150K": (9, 9, 0),
        }

        # The second target: B2's take profit fills 1.
        paper.mark(SYMBOL, Decimal("21060"), T0)
        assert paper.position(leader, SYMBOL).qty == 2
        await _until(lambda: _applied("B2:tp", 1), "the second take profit copied")
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (1, 1, 0),
            "Funded 150K": (6, 6, 0),
        }

        # The market turns: B3's stop takes the last 2 out (its take profit is
        # cancelled with it): every follower flat.
        paper.mark(SYMBOL, Decimal("20950"), T0)
        assert paper.position(leader, SYMBOL).qty == 0
        await _until(lambda: _applied("B3:sl", 1), "the stop copied")
        await _until(
            lambda: LeaderEvent.objects.filter(external_id="B3:tp:cancel").exists(),
            "the last take profit's cancel applied",
        )
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (0, 0, 0),
            "Funded 150K": (0, 0, 0),
        }
        # No duplicate close: each follower sold exactly what it bought, in
        # the steps above; nothing is left working anywhere.
        assert await sync_to_async(_sold)() == [
            ("Eval 25K", 1),
            ("Eval 25K", 1),
            ("Funded 150K", 3),
            ("Funded 150K", 3),
            ("Funded 150K", 6),
        ]
        assert not await sync_to_async(
            CopyOrder.objects.filter(status__in=CopyOrder.OPEN_STATUSES).exists
        )()
        for coid in ("B1", "B2", "B3"):
            for leg in ("sl", "tp"):
                assert (await paper.query_order(leader, f"{coid}:{leg}")).is_final
    finally:
        stop.set()
        await worker


async def test_bracket_take_profit_fill_closes_the_followers(route: Route) -> None:
    """The issue's first case: a 4-lot bracket whose take profit fills in
    full. Followers exit with it (they used to be skipped, as if the stop
    mirror would close them, and the stop was then cancelled), and the
    cancelled stop leaves nothing behind."""
    registry = await sync_to_async(_registry)()
    paper = registry.paper
    leader = route.leader.external_id
    paper.watch_leader(leader)
    stop = asyncio.Event()
    worker = asyncio.create_task(EngineWorker(registry, poll_seconds=0.02).run(stop))
    try:
        await _until(lambda: paper.connected, "the worker to connect")
        paper.mark(SYMBOL, Decimal("21000"), T0)
        await _bracket(paper, leader, "B1", 4, sl="20950", tp="21050")
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (2, 2, 0),
            "Funded 150K": (12, 12, 0),
        }

        paper.mark(SYMBOL, Decimal("21050"), T0)
        assert paper.position(leader, SYMBOL).qty == 0
        await _until(lambda: _applied("B1:tp", 1), "the take profit copied")
        await _until(
            lambda: LeaderEvent.objects.filter(external_id="B1:sl:cancel").exists(),
            "the stop's cancel applied",
        )
        assert await sync_to_async(_state)(route, paper) == {
            "Eval 25K": (0, 0, 0),
            "Funded 150K": (0, 0, 0),
        }
        assert await sync_to_async(_sold)() == [("Eval 25K", 2), ("Funded 150K", 12)]
        assert not await sync_to_async(
            CopyOrder.objects.filter(status__in=CopyOrder.OPEN_STATUSES).exists
        )()
    finally:
        stop.set()
        await worker
