"""Close and Untrack of one follower position, end to end on the paper
exchange: the press (routing.services.position_actions), the engine worker
carrying the close out (FlattenMixin.position_closes) and the record.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
MNQ: tick 0.25 points, $2 per point. No slippage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import User
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry, Position
from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, ExpectedPosition, PositionClose
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.position_actions import position_close_request, position_untrack
from routing.services.reconcile import reconcile_account

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 3, 15, 31, tzinfo=UTC)
SYMBOL = "MNQH6"
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


class RecordingPaper(PaperBroker):
    """The paper exchange, keeping every order handed to it and every
    ``flatten`` call (the exchange itself still fills them)."""

    def __init__(self) -> None:
        super().__init__(engine_contract_specs())
        self.placed: list[OrderRequest] = []
        self.flattens: list[tuple[str, str | None]] = []

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order)
        return await super().place_order(order)

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        self.flattens.append((account, symbol))
        return await super().flatten(account, symbol, time=time)


@pytest.fixture
def paper() -> RecordingPaper:
    return RecordingPaper()


def _fill(event_id: str, side: Side, qty: int, price: str = "21000") -> LeaderFill:
    return LeaderFill(event_id, "lead", SYMBOL, side, qty, Decimal(price), T0)


async def _opened(route: Route, paper: RecordingPaper) -> EngineWorker:
    """The leader buys 4 @ 21000: Eval 25K holds +2, Funded 150K +12; the
    market then trades at 21010.50."""
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry)
    await worker.handle_leader_fill(route.leader.pk, _fill("f1", Side.BUY, 4), source="t")
    paper.mark(SYMBOL, Decimal("21010.50"), T1)
    return worker


def _held(account_id: int) -> int:
    return (
        Position.objects.filter(account_id=account_id, symbol=SYMBOL)
        .values_list("qty", flat=True)
        .first()
        or 0
    )


def _expected(account_id: int) -> tuple[int, int]:
    row = ExpectedPosition.objects.get(account_id=account_id, symbol=SYMBOL)
    return row.qty, row.untracked


def _journal(event_type: str) -> list[tuple[str, str, int | None]]:
    return list(
        JournalEntry.objects.filter(event_type=event_type)
        .order_by("id")
        .values_list("message", "actor_label", "actor_user_id")
    )


def _close(route: Route, account_id: int, seen: int, user: User | None = None) -> Any:
    return position_close_request(
        user=user or route.owner,
        group=route.group,
        account_id=account_id,
        symbol=SYMBOL,
        seen_qty=seen,
    )


async def test_close_sends_one_closing_order_then_copying_stops_expecting_it(
    route: Route, paper: RecordingPaper
) -> None:
    # Arrange
    worker = await _opened(route, paper)
    placed_before = len(paper.placed)
    # Act: alice presses Close on Funded 150K's +12.
    await sync_to_async(_close)(route, route.large.pk, 12)
    assert paper.placed[placed_before:] == []  # the press only queues
    await worker.position_closes()
    # Assert: one order, sell 12 at the market, nothing for Eval 25K.
    sent = paper.placed[placed_before:]
    assert [(o.account, o.side, o.qty, o.symbol) for o in sent] == [
        (route.large.external_id, Side.SELL, 12, SYMBOL)
    ]
    assert paper.flattens == [(route.large.external_id, SYMBOL)]
    assert paper.position(route.large.external_id, SYMBOL).qty == 0
    assert await sync_to_async(_held)(route.large.pk) == 0
    assert await sync_to_async(_held)(route.small.pk) == 2
    assert await sync_to_async(_expected)(route.large.pk) == (0, 0)
    close = await sync_to_async(PositionClose.objects.get)()
    # 12 x (21010.50 - 21000) x $2 = $252.00 realized.
    assert (close.status, close.detail) == (
        "done",
        "Funded 150K: MNQH6 flat, closed sell 12 MNQH6 @ 21010.50 (realized +$252.00)",
    )
    assert await sync_to_async(_journal)(EventType.POSITION_CLOSE_REQUESTED) == [
        (
            "Funded 150K: close of +12 MNQH6 at market requested by alice; the engine sends it",
            "alice",
            route.owner.pk,
        )
    ]
    assert await sync_to_async(_journal)(EventType.POSITION_CLOSED) == [
        (close.detail, "alice", route.owner.pk)
    ]
    # The leader exits: Eval 25K sells its 2; Funded 150K, no longer expected
    # to hold anything, gets no order (never an opening sell).
    placed_before = len(paper.placed)
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4, "21011"), "t")
    assert [(o.account, o.side, o.qty) for o in paper.placed[placed_before:]] == [
        (route.small.external_id, Side.SELL, 2)
    ]
    assert paper.position(route.large.external_id, SYMBOL).qty == 0


async def test_close_when_page_stale_or_position_flat_then_refused_nothing_queued(
    route: Route, paper: RecordingPaper
) -> None:
    await _opened(route, paper)
    with pytest.raises(ApplicationError, match=r"MNQH6 is now \+12, not the \+5 your page"):
        await sync_to_async(_close)(route, route.large.pk, 5)
    with pytest.raises(ApplicationError, match="flat on your page"):
        await sync_to_async(_close)(route, route.large.pk, 0)
    await sync_to_async(_close)(route, route.large.pk, 12)
    with pytest.raises(ApplicationError, match="a close of MNQH6 is already under way"):
        await sync_to_async(_close)(route, route.large.pk, 12)
    # The leader account is not a follower: no close from this page.
    with pytest.raises(ApplicationError, match="does not follow this group"):
        await sync_to_async(_close)(route, route.leader.pk, 4)
    assert await sync_to_async(PositionClose.objects.count)() == 1
    assert len(await sync_to_async(_journal)(EventType.POSITION_CLOSE_REQUESTED)) == 1


async def test_close_of_a_flat_position_is_refused(route: Route, paper: RecordingPaper) -> None:
    worker = await _opened(route, paper)
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4, "21011"), "t")
    with pytest.raises(ApplicationError, match="Eval 25K: MNQH6 is already flat; no order sent"):
        await sync_to_async(_close)(route, route.small.pk, 2)


async def test_close_when_the_broker_went_flat_meanwhile_then_refused_and_nothing_sent(
    route: Route, paper: RecordingPaper
) -> None:
    worker = await _opened(route, paper)
    await sync_to_async(_close)(route, route.small.pk, 2)
    # The leader exits between the press and the worker's pass.
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4, "21011"), "t")
    placed_before = len(paper.placed)
    await worker.position_closes()
    assert paper.placed[placed_before:] == []
    assert paper.flattens == []
    close = await sync_to_async(PositionClose.objects.get)()
    assert (close.status, close.detail) == (
        "refused",
        "Eval 25K: close of MNQH6 refused: already flat at the broker; no order sent",
    )


async def test_close_when_the_position_reversed_meanwhile_then_refused(
    route: Route, paper: RecordingPaper
) -> None:
    worker = await _opened(route, paper)
    await sync_to_async(_close)(route, route.small.pk, 2)
    # The leader reverses to -4: Eval 25K is now -2.
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 8, "21011"), "t")
    assert paper.position(route.small.external_id, SYMBOL).qty == -2
    placed_before = len(paper.placed)
    await worker.position_closes()
    assert paper.placed[placed_before:] == []
    close = await sync_to_async(PositionClose.objects.get)()
    assert close.status == "refused"
    assert "the position is now -2, on the other side of the +2" in close.detail
    assert paper.position(route.small.external_id, SYMBOL).qty == -2
    assert await sync_to_async(_expected)(route.small.pk) == (-2, 0)


async def test_close_of_another_users_group_is_refused(
    route: Route, paper: RecordingPaper, bob: User
) -> None:
    await _opened(route, paper)
    with pytest.raises(ApplicationError, match="only the owner"):
        await sync_to_async(_close)(route, route.large.pk, 12, user=bob)
    with pytest.raises(ApplicationError, match="only the owner"):
        await sync_to_async(position_untrack)(
            user=bob, group=route.group, account_id=route.large.pk, symbol=SYMBOL, seen_qty=12
        )
    assert await sync_to_async(PositionClose.objects.count)() == 0


def _untrack(route: Route, seen: int) -> int:
    return position_untrack(
        user=route.owner, group=route.group, account_id=route.large.pk, symbol=SYMBOL, seen_qty=seen
    )


async def test_untrack_leaves_the_position_to_the_user_and_copying_stops_managing_it(
    route: Route, paper: RecordingPaper
) -> None:
    worker = await _opened(route, paper)
    with pytest.raises(ApplicationError, match=r"copying now manages \+12 MNQH6, not the \+3"):
        await sync_to_async(_untrack)(route, 3)
    # Act
    assert await sync_to_async(_untrack)(route, 12) == 12
    # Assert: copying expects nothing of it; reconciliation still expects 12.
    assert await sync_to_async(_expected)(route.large.pk) == (0, 12)
    assert await sync_to_async(_journal)(EventType.POSITION_UNTRACKED) == [
        (
            "Funded 150K: +12 MNQH6 untracked by alice: left to you, copying no longer exits "
            "or resizes it",
            "alice",
            route.owner.pk,
        )
    ]
    assert await sync_to_async(reconcile_account)(account=route.large, actual={SYMBOL: 12}) == []
    with pytest.raises(ApplicationError, match="copying manages nothing in MNQH6"):
        await sync_to_async(_untrack)(route, 12)
    # The leader exits: the untracked 12 stay where they are.
    placed_before = len(paper.placed)
    await worker.handle_leader_fill(route.leader.pk, _fill("f2", Side.SELL, 4, "21011"), "t")
    assert [o.account for o in paper.placed[placed_before:]] == [route.small.external_id]
    assert paper.position(route.large.external_id, SYMBOL).qty == 12


async def test_untrack_while_an_order_is_open_is_refused(
    route: Route, paper: RecordingPaper
) -> None:
    await _opened(route, paper)
    await sync_to_async(CopyOrder.objects.filter(account=route.large).update)(
        status=CopyOrder.Status.SENT
    )
    with pytest.raises(ApplicationError, match="an order in MNQH6 is still open"):
        await sync_to_async(_untrack)(route, 12)
    assert await sync_to_async(_expected)(route.large.pk) == (12, 0)
