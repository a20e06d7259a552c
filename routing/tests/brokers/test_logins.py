"""Login values cross the worker's logs without their credentials."""

from __future__ import annotations

import asyncio

from routing.brokers.budget import Priority, Unlimited
from routing.brokers.logins import Environment, LoginConfig


def test_login_repr_hides_every_credential_value() -> None:
    login = LoginConfig(
        login_id=7,
        platform="projectx",
        environment=Environment.DEMO,
        credentials={"username": "trader1", "api_key": "sk-very-secret-123"},
        accounts=("PRAC-1", "PRAC-2"),
    )
    shown = f"{login!r} {login}"
    assert "sk-very-secret-123" not in shown
    assert "trader1" not in shown
    assert "login_id=7" in shown
    assert "2 fields hidden" in shown


def test_unlimited_budget_counts_and_never_waits() -> None:
    budget = Unlimited()

    async def spend() -> list[bool]:
        return [await budget.spend(Priority.ENTRY), await budget.spend(Priority.MODIFY, cost=3)]

    assert asyncio.run(spend()) == [True, True]
    assert budget.used() == (4, None)
