"""Request budgets spent per login with the right priority; logins changed at run time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.brokers.base import OrderRequest
from routing.brokers.budget import Priority
from routing.brokers.logins import ConnectionState
from routing.engine.types import OrderType, Side
from routing.tests.brokers.rithmic.conftest import adapter_for, login
from routing.tests.brokers.rithmic.fake_server import FakeRithmic


class RecordingBudget:
    """Counts what was spent, by priority and key; refuses keys in ``supersede``."""

    def __init__(self) -> None:
        self.spent: list[tuple[Priority, str | None]] = []
        self.supersede: set[str] = set()

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        if key in self.supersede:
            return False
        self.spent.append((priority, key))
        return True

    def used(self) -> tuple[int, int | None]:
        return len(self.spent), 100


@pytest.mark.asyncio
async def test_requests_when_sent_then_each_spends_its_login_budget_by_priority(
    fake: FakeRithmic,
) -> None:
    # Arrange
    budgets: dict[int, RecordingBudget] = {}
    broker = adapter_for(
        fake, login(fake), login(fake, login_id=2, user="lead", accounts=("LEAD-1",))
    )
    broker._budget_for = lambda login_id: budgets.setdefault(login_id, RecordingBudget())
    await broker.connect()
    try:
        budget = budgets[1]
        budget.spent.clear()
        limit = OrderRequest(
            account="ACC-1",
            client_order_id="ct-b1",
            symbol="MNQH6",
            side=Side.BUY,
            qty=1,
            order_type=OrderType.LIMIT,
            limit_price=Decimal("21000"),
        )
        # Act
        await broker.place_order(limit)
        await broker.modify_order("ACC-1", "ct-b1", limit_price=Decimal("21001"))
        budget.supersede.add("ct-b1")
        superseded = await broker.modify_order("ACC-1", "ct-b1", limit_price=Decimal("21002"))
        await broker.cancel_order("ACC-1", "ct-b1")
        await broker.positions("ACC-1")
        # Assert
        assert [p for p, _ in budget.spent] == [
            Priority.ENTRY,
            Priority.MODIFY,
            Priority.EXIT,
            Priority.QUERY,
        ]
        assert budget.spent[1] == (Priority.MODIFY, "ct-b1")
        assert superseded is not None and superseded.status.value == "working"
        assert [o.price for o in fake.orders_for("ACC-1")] == [21001.0]
        # The other login spent only its own start-up reads.
        assert {p for p, _ in budgets[2].spent} == {Priority.QUERY}
        states = broker.login_states()
        assert (states[0].budget_used, states[0].budget_limit) == (4, 100)
    finally:
        await broker.disconnect()


@pytest.mark.asyncio
async def test_flatten_when_sent_then_spends_flatten_priority(fake: FakeRithmic) -> None:
    # Arrange
    budget = RecordingBudget()
    broker = adapter_for(fake, login(fake))
    broker._budget_for = lambda login_id: budget
    await broker.connect()
    try:
        await broker.place_order(
            OrderRequest(
                account="ACC-2", client_order_id="ct-f1", symbol="MNQH6", side=Side.SELL, qty=3
            )
        )
        budget.spent.clear()
        # Act
        [close] = await broker.flatten("ACC-2")
        # Assert: reads at QUERY, the close at FLATTEN; flat afterwards.
        assert close.filled_qty == 3
        assert (Priority.FLATTEN, None) in budget.spent
        assert {p for p, _ in budget.spent} == {Priority.QUERY, Priority.FLATTEN}
        [position] = await broker.positions("ACC-2")
        assert position.qty == 0
    finally:
        await broker.disconnect()


@pytest.mark.asyncio
async def test_set_logins_when_changed_then_opens_new_and_closes_removed(
    fake: FakeRithmic,
) -> None:
    # Arrange
    first = login(fake)
    broker = adapter_for(fake, first)
    await broker.connect()
    try:
        second = login(fake, login_id=2, user="lead", accounts=("LEAD-1",))
        # Act: add the second login, then drop the first.
        await broker.set_logins([first, second])
        both = [(s.login_id, s.state) for s in broker.login_states()]
        await broker.set_logins([second])
        # Assert
        assert both == [(1, ConnectionState.CONNECTED), (2, ConnectionState.CONNECTED)]
        assert [s.login_id for s in broker.login_states()] == [2]
        assert broker.account_connected("LEAD-1")
        assert not broker.account_connected("ACC-1")
        assert fake.logins.count(("lead", 2)) == 1
    finally:
        await broker.disconnect()
