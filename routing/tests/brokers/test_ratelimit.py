"""Per-login request budgets: windows, priorities, coalescing, penalties,
sharing and cancellation, on a hand-driven clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from routing.brokers.budget import Priority
from routing.brokers.budget_book import BudgetBook
from routing.brokers.ratelimit import PLATFORM_LIMITS, ManualClock, Window, WindowBudget
from routing.tests.brokers.ratelimit_helpers import Recorder, settle


def _recorder(*windows: Window) -> Recorder:
    clock = ManualClock()
    return Recorder(WindowBudget(windows, clock=clock, name="t"), clock)


def test_requests_beyond_the_window_wait_for_it_to_roll() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(5, 10.0))
        for i in range(12):
            rec.start(f"e{i}", Priority.ENTRY)
        await settle()
        # Arrange / Act: 5 go at once, the rest wait
        assert len(rec.granted) == 5 and rec.budget.used() == (5, 5)
        assert rec.budget.waiting() == 7
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert [t for _, t in rec.granted] == [0.0] * 5 + [10.0] * 5 + [20.0] * 2
    assert rec.labels() == [f"e{i}" for i in range(12)]  # arrival order within a priority


def test_flatten_and_exits_go_before_entries_before_modifications() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(2, 10.0))
        rec.start("first", Priority.QUERY)
        rec.start("second", Priority.QUERY)
        await settle()  # the window is full
        for label, priority in [
            ("query", Priority.QUERY),
            ("modify", Priority.MODIFY),
            ("entry", Priority.ENTRY),
            ("exit", Priority.EXIT),
            ("flatten", Priority.FLATTEN),
            ("exit2", Priority.EXIT),
        ]:
            rec.start(label, priority)
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert rec.labels() == [
        "first",
        "second",
        "flatten",
        "exit",
        "exit2",
        "entry",
        "modify",
        "query",
    ]
    assert [t for _, t in rec.granted] == [0, 0, 10, 10, 20, 20, 30, 30]


def test_the_reserve_keeps_room_for_a_flatten_after_a_burst_of_entries() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(10, 60.0, reserve=2))
        for i in range(12):
            rec.start(f"e{i}", Priority.ENTRY)
        await settle()
        assert len(rec.granted) == 8  # entries stop at limit - reserve
        rec.start("flatten", Priority.FLATTEN)
        rec.start("exit", Priority.EXIT)
        await settle()
        assert rec.labels()[-2:] == ["flatten", "exit"]
        assert rec.clock.now() == 0.0 and rec.budget.used() == (10, 10)
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert len(rec.granted) == 14
    assert all(t == 60.0 for label, t in rec.granted if label in {"e8", "e9", "e10", "e11"})


def test_three_modifies_of_one_order_while_waiting_send_only_the_last() -> None:
    async def scenario() -> tuple[Recorder, list[bool]]:
        rec = _recorder(Window(1, 5.0))
        rec.start("busy", Priority.ENTRY)
        await settle()
        first = rec.start("stop@100", Priority.MODIFY, key="co-1")
        other = rec.start("other-order", Priority.MODIFY, key="co-2")
        second = rec.start("stop@101", Priority.MODIFY, key="co-1")
        third = rec.start("stop@102", Priority.MODIFY, key="co-1")
        await rec.run_until_done()
        return rec, [first.result(), other.result(), second.result(), third.result()]

    rec, results = asyncio.run(scenario())
    assert results == [False, True, False, True]
    assert rec.superseded == ["stop@100", "stop@101"]
    # The latest price keeps the first one's place in the queue.
    assert rec.labels() == ["busy", "stop@102", "other-order"]
    assert [t for _, t in rec.granted] == [0.0, 5.0, 10.0]
    assert rec.budget.used() == (1, 1)  # superseded requests counted nothing


def test_a_key_after_its_request_went_is_a_new_request() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(3, 5.0))
        rec.start("stop@100", Priority.MODIFY, key="co-1")
        await settle()
        rec.start("stop@101", Priority.MODIFY, key="co-1")
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert rec.labels() == ["stop@100", "stop@101"] and rec.superseded == []


def test_penalise_stops_the_queue_until_the_penalty_ends() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(100, 3600.0))
        rec.start("before", Priority.ENTRY)
        await settle()
        rec.budget.penalise(30.0)
        rec.budget.penalise(5.0)  # a shorter one never shortens the pause
        assert rec.budget.paused_for() == 30.0
        rec.start("flatten", Priority.FLATTEN)
        rec.start("entry", Priority.ENTRY)
        await settle()
        assert rec.labels() == ["before"]
        rec.clock.advance(29.9)
        await settle()
        assert rec.labels() == ["before"]
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert rec.granted == [("before", 0.0), ("flatten", 30.0), ("entry", 30.0)]
    assert rec.budget.paused_for() == 0.0
    with pytest.raises(ValueError, match="penalty must be >= 0"):
        rec.budget.penalise(-1)


def test_every_account_of_one_login_shares_the_login_budget() -> None:
    clock = ManualClock()
    book = BudgetBook(clock=clock)

    async def scenario() -> list[int]:
        # 20 accounts of login 7 each send 10 entries; login 8 sends 1.
        counts = [0] * 20

        async def account(i: int) -> None:
            for _ in range(10):
                if await book.budget(7, "projectx").spend(Priority.ENTRY):
                    counts[i] += 1

        tasks = [asyncio.create_task(account(i)) for i in range(20)]
        await book.budget(8, "projectx").spend(Priority.ENTRY)
        await settle()
        assert book.states() == {7: (162, 180), 8: (1, 180)}  # 180 less 18 kept for exits
        assert sum(counts) == 162
        clock.advance(61.9)  # 60 s and the 2 s guard
        await settle()
        assert sum(counts) == 162
        clock.advance(0.1)
        await settle()
        await asyncio.gather(*tasks)
        return counts

    counts = asyncio.run(scenario())
    assert sum(counts) == 200
    assert book.budget(7, "projectx") is book.budget(7, "projectx")
    assert book.states() == {7: (38, 180), 8: (0, 180)}


def test_the_book_refuses_unknown_platforms_and_a_login_on_two_platforms() -> None:
    book = BudgetBook(clock=ManualClock())
    with pytest.raises(ValueError, match="no request limits for 'ninja'"):
        book.budget(1, "ninja")
    book.budget(1, "tradovate")
    with pytest.raises(ValueError, match="login 1 is a 'tradovate' login"):
        book.budget(1, "ib")
    px = book.budget(2, "projectx", scope="history")
    assert px.windows == PLATFORM_LIMITS["projectx/history"]
    assert book.states() == {1: (0, 4500)}  # scoped budgets are not shown
    book.discard(1)
    assert book.states() == {}


def test_a_cancelled_waiting_request_counts_nothing() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(1, 10.0))
        rec.start("busy", Priority.ENTRY)
        doomed = rec.start("doomed", Priority.ENTRY)
        rec.start("next", Priority.ENTRY)
        await settle()
        doomed.cancel()
        await settle()
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert rec.granted == [("busy", 0.0), ("next", 10.0)]


def test_a_grant_cancelled_before_it_is_taken_is_refunded() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(1, 10.0))
        rec.start("busy", Priority.ENTRY)
        doomed = rec.start("doomed", Priority.ENTRY)
        await settle()
        rec.clock.advance(10.0)  # grants "doomed": its task has not run yet
        assert rec.budget.used() == (1, 1)
        doomed.cancel()
        await settle()
        assert doomed.cancelled()
        assert rec.budget.used() == (0, 1)  # refunded: nothing was sent
        rec.start("next", Priority.ENTRY)
        await settle()
        return rec

    rec = asyncio.run(scenario())
    assert rec.granted == [("busy", 0.0), ("next", 10.0)]


def test_every_window_must_hold_and_used_shows_the_nearest_to_its_limit() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(100, 3600.0), Window(3, 1.0))
        for i in range(7):
            rec.start(f"q{i}", Priority.QUERY)
        await settle()
        assert rec.budget.used() == (3, 3)  # the 1 s window binds
        await rec.run_until_done()
        return rec

    rec = asyncio.run(scenario())
    assert [t for _, t in rec.granted] == [0, 0, 0, 1, 1, 1, 2]
    rec.clock.advance(1.0)
    assert rec.budget.used() == (7, 100)


def test_costs_that_can_never_fit_are_refused() -> None:
    budget = WindowBudget((Window(10, 1.0, reserve=2),), clock=ManualClock(), name="x")

    async def spend(priority: Priority, cost: int) -> bool:
        return await budget.spend(priority, cost=cost)

    with pytest.raises(ValueError, match="cost 9 cannot fit ENTRY in 8 per 1 s"):
        asyncio.run(spend(Priority.ENTRY, 9))
    with pytest.raises(ValueError, match="cost 0"):
        asyncio.run(spend(Priority.EXIT, 0))
    assert asyncio.run(spend(Priority.FLATTEN, 10)) is True
    with pytest.raises(ValueError, match="at least one window"):
        WindowBudget(())
    with pytest.raises(ValueError, match="reserve must be"):
        Window(2, 1.0, reserve=2)


def test_platform_limits_stay_below_the_documented_figures() -> None:
    for name, windows in PLATFORM_LIMITS.items():
        for window in windows:
            if window.documented is not None:
                assert window.limit < window.documented, name
    assert [w.limit for w in PLATFORM_LIMITS["projectx"]] == [180]
    assert [(w.limit, w.seconds) for w in PLATFORM_LIMITS["tradovate"]] == [
        (4500, 3600.0),
        (75, 60.0),
    ]
    assert [(w.limit, w.seconds) for w in PLATFORM_LIMITS["ib"]] == [(45, 1.0)]


def test_the_guard_keeps_a_request_counted_beyond_the_window() -> None:
    async def scenario() -> Recorder:
        rec = _recorder(Window(1, 10.0, guard=0.5))
        rec.start("a", Priority.ENTRY)
        rec.start("b", Priority.ENTRY)
        await rec.run_until_done()
        return rec

    assert asyncio.run(scenario()).granted == [("a", 0.0), ("b", 10.5)]


def test_the_real_clock_paces_requests() -> None:
    async def scenario() -> list[float]:
        budget = WindowBudget((Window(2, 0.2),), name="real")
        start = time.monotonic()
        await asyncio.gather(*(budget.spend(Priority.ENTRY) for _ in range(5)))
        return [time.monotonic() - start]

    (elapsed,) = asyncio.run(scenario())
    assert 0.4 <= elapsed < 2.0  # 2 at 0, 2 at 0.2, 1 at 0.4
