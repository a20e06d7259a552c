"""Request budgets: what an adapter spends before each call to its platform.

Each platform limits requests per login (ProjectX 200 per 60 s; Tradovate
an hourly budget with penalty tickets; IB 50 messages per second; Rithmic
conservative defaults). An adapter asks its login's :class:`RequestBudget`
before every request; the budget decides when the request may go, so the
platform never answers "too many requests" (on Tradovate that locks the
login for an hour). Requests waiting on one budget go by :class:`Priority`:
flatten and exits first, then entries, then modifications; a modification
waiting with the same ``key`` as a newer one is superseded (stop-modify
storms coalesce to the latest price).

The implementation is :class:`routing.brokers.ratelimit.WindowBudget`
(sliding windows below each platform's documented limit,
:data:`routing.brokers.ratelimit.PLATFORM_LIMITS`, plus ``penalise(seconds)``
for Tradovate penalty tickets); an engine worker keeps one
:class:`routing.brokers.budget_book.BudgetBook` and every adapter takes its
login's budget from it (``book.budget(login_id, platform)``), so all the
accounts of one login share one budget. Spend once per request sent (a
retry spends again), right before sending it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class Priority(IntEnum):
    """Lower goes first when requests wait on one budget."""

    FLATTEN = 0  # emergency flatten, flatten on breach, cancels before a flatten
    EXIT = 1  # orders that reduce or close a position
    ENTRY = 2  # orders that open or add
    MODIFY = 3  # changes to working orders (stop moves), coalesced per key
    QUERY = 4  # reads: order status, positions, accounts


class RequestBudget(Protocol):
    """One login's request budget."""

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        """Wait until ``cost`` requests may be sent now, then count them.

        Returns ``False`` (nothing counted) when a newer request with the
        same ``key`` superseded this one while it waited (``key`` is given
        for modifications: the client order id); the caller then drops its
        request.
        """
        ...

    def used(self) -> tuple[int, int | None]:
        """``(requests spent in the current window, the window's limit)``."""
        ...


class Unlimited:
    """A budget that never waits (the paper broker, tests of other things)."""

    def __init__(self) -> None:
        self._spent = 0

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        """Counts ``cost`` and returns at once."""
        self._spent += cost
        return True

    def used(self) -> tuple[int, int | None]:
        return self._spent, None
