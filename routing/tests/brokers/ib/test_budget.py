"""Every request to the gateway spends the login's budget first."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from routing.brokers.budget import Priority
from routing.brokers.ib import IBAdapter
from routing.engine.types import OrderType
from routing.tests.brokers.ib.conftest import login_config
from routing.tests.brokers.ib.fake_gateway import FakeGateway
from routing.tests.brokers.ib.test_orders import ACCOUNT, _order


class CountingBudget:
    """Records each spend as (priority, key, cost, orders the gateway held)."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.spent: list[tuple[Priority, str | None, int, int]] = []

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        self.spent.append((priority, key, cost, len(self.gateway.orders)))
        await asyncio.sleep(0)
        return True

    def used(self) -> tuple[int, int | None]:
        return sum(s[2] for s in self.spent), 50


@pytest.mark.asyncio
async def test_requests_when_sent_then_budget_spent_first_per_login(
    gateway: FakeGateway,
) -> None:
    budgets: dict[int, CountingBudget] = {}

    def budget_of(login_id: int) -> CountingBudget:
        return budgets.setdefault(login_id, CountingBudget(gateway))

    adapter = IBAdapter([login_config(gateway.port, login_id=42)], budgets=budget_of)
    await adapter.connect()
    try:
        budget = budgets[42]
        budget.spent.clear()
        # Act
        await adapter.place_order(_order("b-1", 1))
        limit = _order("b-2", 1, order_type=OrderType.LIMIT, limit_price=Decimal("21000"))
        await adapter.place_order(limit)
        await adapter.modify_order(ACCOUNT, "b-2", limit_price=Decimal("21001"))
        await adapter.cancel_order(ACCOUNT, "b-2")
        await adapter.positions(ACCOUNT)
        # Assert: spent before each send (the gateway held fewer orders then).
        assert [(p, k, c, held) for p, k, c, held in budget.spent] == [
            (Priority.ENTRY, None, 1, 0),
            (Priority.ENTRY, None, 1, 1),
            (Priority.MODIFY, "b-2", 1, 2),
            (Priority.EXIT, None, 1, 2),
            (Priority.QUERY, None, 1, 2),
        ]
        (state,) = adapter.login_states()
        assert (state.login_id, state.budget_used, state.budget_limit) == (42, 5, 50)
    finally:
        await adapter.disconnect()
