"""Drive :class:`WindowBudget` on a :class:`ManualClock` and record grants."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from routing.brokers.budget import Priority
from routing.brokers.ratelimit import ManualClock, WindowBudget


async def settle() -> None:
    """Let every woken task run (a few loop turns)."""
    for _ in range(10):
        await asyncio.sleep(0)


@dataclass
class Recorder:
    """Spends on ``budget`` and keeps (label, grant time) in grant order."""

    budget: WindowBudget
    clock: ManualClock
    granted: list[tuple[str, float]] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[bool]] = field(default_factory=list)

    def start(
        self, label: str, priority: Priority, *, key: str | None = None, cost: int = 1
    ) -> asyncio.Task[bool]:
        async def run() -> bool:
            ok = await self.budget.spend(priority, key=key, cost=cost)
            if ok:
                self.granted.append((label, self.clock.now()))
            else:
                self.superseded.append(label)
            return ok

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.append(task)
        return task

    def labels(self) -> list[str]:
        return [label for label, _ in self.granted]

    async def run_until_done(self, limit: float = 1e6) -> None:
        """Advance the clock timer by timer until every task has finished."""
        await settle()
        while not all(t.done() for t in self.tasks):
            due = self.clock.next_due()
            assert due is not None and due <= limit, "tasks wait with no timer armed"
            self.clock.advance_to(due)
            await settle()
