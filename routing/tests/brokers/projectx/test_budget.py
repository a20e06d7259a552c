"""Every ProjectX request spends from its login's budget, at the right priority."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import pytest_asyncio

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.budget import Priority
from routing.brokers.projectx.adapter import ProjectXAdapter
from routing.engine.types import OrderType, Side
from routing.tests.brokers.projectx.conftest import FOLLOWER_A, LEADER, login
from routing.tests.brokers.projectx.fake_server import FakeGateway

T = datetime(2026, 1, 28, 15, 0, tzinfo=UTC)


class Recording:
    """A budget that records each spend; ``supersede`` refuses modifications."""

    def __init__(self) -> None:
        self.spent: list[tuple[Priority, str | None]] = []
        self.supersede = False

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        if self.supersede and priority is Priority.MODIFY:
            return False
        self.spent.append((priority, key))
        return True

    def used(self) -> tuple[int, int | None]:
        return len(self.spent), 200


@pytest_asyncio.fixture
async def budgeted(
    fake: FakeGateway,
) -> AsyncIterator[tuple[ProjectXAdapter, dict[int, Recording]]]:
    budgets: dict[int, Recording] = {}

    def budget(login_id: int) -> Recording:
        return budgets.setdefault(login_id, Recording())

    adapter = ProjectXAdapter(
        [
            login(fake.url, 1, "lead-trader", "key-lead", [LEADER]),
            login(fake.url, 2, "copy-trader", "key-copy", [FOLLOWER_A]),
        ],
        budgets=budget,
    )
    await adapter.connect()
    yield adapter, budgets
    await adapter.disconnect()


@pytest.mark.asyncio
async def test_requests_when_sent_then_spent_per_login_by_priority(
    fake: FakeGateway, budgeted: tuple[ProjectXAdapter, dict[int, Recording]]
) -> None:
    adapter, budgets = budgeted
    account = str(FOLLOWER_A)
    # Login and account search are reads on each login's own budget.
    assert budgets[1].spent == budgets[2].spent == [(Priority.QUERY, None)] * 2
    spent = budgets[2].spent
    spent.clear()
    await adapter.place_order(OrderRequest(account, "e1", "MNQH6", Side.BUY, 2, time=T))
    assert spent[0] == (Priority.ENTRY, None)
    spent.clear()
    await adapter.place_order(OrderRequest(account, "x1", "MNQH6", Side.SELL, 1, time=T))
    assert spent[0] == (Priority.EXIT, None)  # reduces the long the hub reported
    limit = OrderRequest(
        account, "l1", "MNQH6", Side.BUY, 1, OrderType.LIMIT, limit_price=Decimal(21000), time=T
    )
    await adapter.place_order(limit)
    spent.clear()
    await adapter.modify_order(account, "l1", limit_price=Decimal(21001))
    assert spent[0] == (Priority.MODIFY, "l1")
    spent.clear()
    await adapter.flatten(account, time=T)
    assert {p for p, _ in spent} == {Priority.FLATTEN}
    assert len(spent) == 4  # open orders, the cancel, positions, the close
    assert budgets[1].spent == [(Priority.QUERY, None)] * 2  # the other login: untouched
    assert adapter.login_states()[1].budget_used == len(spent)
    assert adapter.login_states()[1].budget_limit == 200


@pytest.mark.asyncio
async def test_modify_when_superseded_in_budget_then_nothing_sent(
    fake: FakeGateway, budgeted: tuple[ProjectXAdapter, dict[int, Recording]]
) -> None:
    adapter, budgets = budgeted
    account = str(FOLLOWER_A)
    limit = OrderRequest(
        account, "l1", "MNQH6", Side.BUY, 1, OrderType.LIMIT, limit_price=Decimal(21000), time=T
    )
    await adapter.place_order(limit)
    budgets[2].supersede = True
    result = await adapter.modify_order(account, "l1", limit_price=Decimal(21001))
    assert result is not None and result.status is OrderStatus.WORKING
    assert "superseded" in result.reason
    assert "/Order/modify" not in fake.requests
    assert fake.orders_of(FOLLOWER_A)[0]["limitPrice"] == 21000.0
