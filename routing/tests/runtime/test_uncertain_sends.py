"""An order whose outcome is unknown after the send's retries is never
recorded as rejected and never resent blind: each retry asks the broker by
client order id first; while it cannot be asked the order stays SENT, and
recovery queries it once the broker answers again.

Route fixture: Eval 25K follows at ratio 0.5, Funded 150K at 3 (paper).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from conftest import Route
from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Quarantine
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs

T0 = datetime(2025, 1, 28, 15, 0, tzinfo=UTC)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


class LostAnswers(PaperBroker):
    """Places every order but loses the answer (a timeout), and answers
    queries only while ``queries_answered``; counts what it is asked."""

    def __init__(self) -> None:
        super().__init__(engine_contract_specs(), slippage_ticks=0)
        self.queries_answered = True
        self.placed: list[str] = []
        self.queried: list[str] = []

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order.client_order_id)
        await super().place_order(order)
        raise BrokerTemporaryError("timed out waiting for the answer")

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        self.queried.append(client_order_id)
        if not self.queries_answered:
            raise BrokerTemporaryError("not connected")
        return await super().query_order(account, client_order_id)


async def _statuses() -> dict[str, str]:
    return await sync_to_async(
        lambda: dict(CopyOrder.objects.values_list("account__name", "status"))
    )()


async def test_a_lost_answer_is_asked_for_before_any_resend(route: Route) -> None:
    paper = await sync_to_async(LostAnswers)()
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    # Act
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    # Assert: each order was placed once, then found by its id: filled.
    assert await _statuses() == {"Eval 25K": "filled", "Funded 150K": "filled"}
    assert sorted(paper.placed) == sorted(set(paper.placed))
    assert len(paper.placed) == 2
    assert set(paper.queried) == set(paper.placed)


async def test_an_order_that_cannot_be_asked_for_stays_sent_until_recovery(
    route: Route,
) -> None:
    paper = await sync_to_async(LostAnswers)()
    paper.queries_answered = False
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    # Act: the broker took the orders but answers nothing.
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    # Assert: outcome unknown, so still SENT: not rejected, no quarantine,
    # and not sent again.
    assert await _statuses() == {"Eval 25K": "sent", "Funded 150K": "sent"}
    assert await sync_to_async(Quarantine.objects.count)() == 0
    assert len(paper.placed) == 2
    # Act: the broker answers again; the worker's next recovery asks.
    paper.queries_answered = True
    await worker.recover()
    # Assert: recorded from the broker's answer; nothing was resent.
    assert await _statuses() == {"Eval 25K": "filled", "Funded 150K": "filled"}
    assert len(paper.placed) == 2
    assert paper.position(route.large.external_id, "MNQH5").qty == 6


async def test_an_exit_copy_is_handed_over_as_closing(route: Route) -> None:
    class Seen(PaperBroker):
        def __init__(self) -> None:
            super().__init__(engine_contract_specs(), slippage_ticks=0)
            self.closing: list[tuple[str, bool]] = []

        async def place_order(self, order: OrderRequest) -> OrderResult:
            self.closing.append((order.side.value, order.closing))
            return await super().place_order(order)

    paper = await sync_to_async(Seen)()
    registry = AdapterRegistry({"paper": paper})
    await registry.connect_all()
    worker = EngineWorker(registry)
    buy = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), T0)
    sell = LeaderFill("f2", "lead", "MNQH5", Side.SELL, 2, Decimal("21541.50"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="test")
    await worker.handle_leader_fill(route.leader.pk, sell, source="test")
    # Entries (buy) are not closing; the exits (sell to flat) are.
    assert sorted(paper.closing) == [("buy", False), ("buy", False), ("sell", True), ("sell", True)]
