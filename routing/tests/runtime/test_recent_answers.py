"""The worker's memory of the final answers it recorded (routing.runtime.recent_answers)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import Side
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.recent_answers import RECORDED_MEMORY, RecentAnswers
from routing.runtime.worker import EngineWorker

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)


def _filled(client_order_id: str, fill_id: str = "x") -> OrderResult:
    fill = BrokerFill(fill_id, client_order_id, "acct", "MNQH5", Side.BUY, 1, Decimal(21500), T0)
    return OrderResult(client_order_id, "b-1", OrderStatus.FILLED, 1, Decimal(21500), (fill,))


def _working(client_order_id: str) -> OrderResult:
    return OrderResult(client_order_id, "b-1", OrderStatus.WORKING, 0, None, ())


def test_an_answer_is_recorded_only_with_the_same_status_and_fills() -> None:
    answers = RecentAnswers(capacity=10)
    answers.remember([_filled("ct-1"), _working("ct-2")])
    assert answers.recorded(_filled("ct-1"))
    # Another fill id, another status, or an answer not final: not skipped.
    assert not answers.recorded(_filled("ct-1", fill_id="y"))
    assert not answers.recorded(OrderResult.rejected("ct-1", "no"))
    assert not answers.recorded(_working("ct-2"))
    assert len(answers) == 1


def test_the_oldest_answer_is_forgotten_first_and_a_new_one_for_an_order_counts_as_new() -> None:
    answers = RecentAnswers(capacity=3)
    answers.remember([_filled("ct-1"), _filled("ct-2"), _filled("ct-3")])
    # ct-1 answered again (another fill): now the newest.
    answers.remember([_filled("ct-1", fill_id="y")])
    answers.remember([_filled("ct-4")])
    assert len(answers) == 3
    assert not answers.recorded(_filled("ct-2"))  # the oldest, forgotten
    assert [answers.recorded(r) for r in (_filled("ct-3"), _filled("ct-4"))] == [True, True]
    assert answers.recorded(_filled("ct-1", fill_id="y"))
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        RecentAnswers(capacity=0)


def test_forgetting_costs_the_same_after_many_answers_were_forgotten() -> None:
    """Defect (issue 9, found in the sustained benchmark's back-to-back
    events): the worker forgot its oldest answer with ``next(iter(dict))``,
    which walks the slots earlier deletions left empty at the front of the
    dict. Once its 100,000 answers were reached, each event's forgetting got
    slower until the dict was resized: 11 ms per 200-follower event on
    average, 35 ms at worst. A complexity check, not a speed target: the
    batches after the first ones must cost about what those did on average
    (the old memory: some 20 to 50 times as much)."""
    worker = EngineWorker(AdapterRegistry({}))
    serial = 0

    def batch() -> float:
        nonlocal serial
        results = []
        for _ in range(200):
            serial += 1
            results.append(_filled(f"ct-{serial:024x}"))
        started = time.perf_counter()
        worker._recorded.remember(results)
        return time.perf_counter() - started

    for _ in range(RECORDED_MEMORY // 200):
        batch()
    first = statistics.median(batch() for _ in range(20))
    # 200,000 more answers remembered, as many forgotten: the old memory's
    # cost rose and fell with the dict's resizes, so the mean of them all.
    later = statistics.mean(batch() for _ in range(1000))
    assert later < 5 * first, (later, first)
    assert len(worker._recorded) == RECORDED_MEMORY
