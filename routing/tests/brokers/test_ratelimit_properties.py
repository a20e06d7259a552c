"""Properties of :class:`WindowBudget` over random arrivals, priorities,
keys, costs, cancellations and penalties (hypothesis, hand-driven clock)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.brokers.budget import Priority
from routing.brokers.ratelimit import ManualClock, Window, WindowBudget
from routing.tests.brokers.ratelimit_helpers import Recorder, settle


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the previous arrival
    priority: Priority
    key: str | None
    cost: int
    cancel_after: float | None  # cancel the waiting task this long after it arrived


arrivals = st.lists(
    st.builds(
        Arrival,
        at=st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, 2.5, 7.0]),
        priority=st.sampled_from(list(Priority)),
        key=st.one_of(st.none(), st.sampled_from(["co-1", "co-2"])),
        cost=st.integers(1, 2),
        cancel_after=st.one_of(st.none(), st.none(), st.sampled_from([0.0, 0.3, 3.0])),
    ),
    min_size=1,
    max_size=40,
)
WINDOWS = (Window(6, 5.0, reserve=2), Window(3, 1.0, guard=0.2))


def _run(
    plan: list[Arrival], penalty_at: int | None
) -> tuple[Recorder, list[float], dict[str, int]]:
    async def scenario() -> tuple[Recorder, list[float], dict[str, int]]:
        clock = ManualClock()
        rec = Recorder(WindowBudget(WINDOWS, clock=clock, name="p"), clock)
        costs: dict[str, int] = {}
        cancels: list[tuple[float, asyncio.Task[bool]]] = []
        pauses: list[float] = []
        for i, arrival in enumerate(plan):
            target = clock.now() + arrival.at
            while (due := clock.next_due()) is not None and due <= target:
                clock.advance_to(due)
                await settle()
            for when, task in [c for c in cancels if c[0] <= target]:
                clock.advance_to(max(clock.now(), when))
                task.cancel()
                await settle()
            cancels = [c for c in cancels if c[0] > target]
            clock.advance_to(max(clock.now(), target))
            await settle()
            label = f"r{i}"
            costs[label] = arrival.cost
            task = rec.start(label, arrival.priority, key=arrival.key, cost=arrival.cost)
            if arrival.cancel_after is not None:
                cancels.append((clock.now() + arrival.cancel_after, task))
            if penalty_at == i:
                rec.budget.penalise(4.0)
                pauses.append(clock.now())
            await settle()
        for _, task in cancels:
            task.cancel()
        await rec.run_until_done()
        return rec, pauses, costs

    return asyncio.run(scenario())


@settings(max_examples=150, deadline=None)
@given(plan=arrivals, penalty_at=st.one_of(st.none(), st.integers(0, 39)))
def test_no_window_ever_holds_more_than_its_limit(
    plan: list[Arrival], penalty_at: int | None
) -> None:
    rec, pauses, costs = _run(plan, penalty_at)
    for window in WINDOWS:
        for _, start in rec.granted:
            inside = sum(
                costs[label] for label, t in rec.granted if start <= t < start + window.span
            )
            assert inside <= window.limit, (window, start, rec.granted)
    # Nothing goes while a penalty runs.
    for paused in pauses:
        assert not any(paused < t < paused + 4.0 for _, t in rec.granted)
    # Every request ends: granted, superseded by its key, or cancelled.
    for task in rec.tasks:
        assert task.done()
    assert rec.budget.waiting() == 0


@settings(max_examples=100, deadline=None)
@given(plan=arrivals)
def test_a_request_never_goes_while_a_more_urgent_one_waits(plan: list[Arrival]) -> None:
    rec, _, _ = _run([Arrival(a.at, a.priority, a.key, 1, None) for a in plan], None)
    arrived_at: dict[str, float] = {}
    t = 0.0
    for i, arrival in enumerate(plan):
        t += arrival.at
        arrived_at[f"r{i}"] = t
    priority = {f"r{i}": a.priority for i, a in enumerate(plan)}
    granted_at = dict(rec.granted)
    for label, t_granted in rec.granted:
        for other, t_other in rec.granted:
            # ``other`` was waiting when ``label`` went, and is more urgent:
            # a keyed request may inherit an earlier place, so only key-less
            # requests are compared.
            if plan[int(other[1:])].key or plan[int(label[1:])].key:
                continue
            if arrived_at[other] < t_granted < t_other and priority[other] < priority[label]:
                raise AssertionError((label, other, granted_at))
