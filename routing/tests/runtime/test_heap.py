"""routing.runtime.heap: the worker's heap frozen between events."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from routing.runtime.heap import AFTER_EVENT_YOUNG, YOUNG_THRESHOLD, HeapSettler, settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    other: object = None


def _cycle() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a


def _nodes() -> list[Node]:
    return [o for o in gc.get_objects() if type(o) is Node]


def test_settle_collects_cycles_then_freezes_what_is_alive(unfrozen: None) -> None:
    # Arrange: a dead reference cycle (garbage for the collector only) and a live object.
    _cycle()
    live = Node()
    # Act
    frozen = settle_heap(full=False)
    # Assert: frozen objects are not listed (never scanned); the cycle was
    # collected before the freeze, the live object frozen.
    assert frozen == gc.get_freeze_count() > 0
    assert _nodes() == []
    gc.unfreeze()
    assert _nodes() == [live]


def test_only_a_full_settle_frees_a_cycle_that_died_after_it_was_frozen(
    unfrozen: None,
) -> None:
    # Arrange: a live cycle, frozen; then it dies.
    a, b = Node(), Node()
    a.other, b.other = b, a
    settle_heap(full=False)
    del a, b
    # Act / Assert: a light settle leaves it frozen (not freed), a full one frees it.
    settle_heap(full=False)
    gc.unfreeze()
    assert len(_nodes()) == 2
    gc.freeze()  # as it was: frozen, dead
    settle_heap(full=True)
    gc.unfreeze()
    assert _nodes() == []


def test_settler_settles_at_once_then_by_its_clock(unfrozen: None) -> None:
    now = [100.0]
    settler = HeapSettler(lambda: now[0], every=5.0, full_every=60.0)
    assert settler.maybe_settle()  # the first call: start-up is done
    now[0] = 104.9
    assert not settler.maybe_settle()
    now[0] = 105.0
    assert settler.maybe_settle()
    # A full settle is due 60 s after the first: a cycle frozen meanwhile
    # that has died is freed then, and not before.
    a, b = Node(), Node()
    a.other, b.other = b, a
    now[0] = 111.0
    assert settler.maybe_settle()
    del a, b
    now[0] = 116.0
    assert settler.maybe_settle()
    gc.unfreeze()
    assert len(_nodes()) == 2
    gc.freeze()
    now[0] = 160.0
    assert settler.maybe_settle()
    gc.unfreeze()
    assert _nodes() == []


def test_the_first_settle_raises_the_young_threshold_and_never_lowers_it(
    unfrozen: None,
) -> None:
    # Arrange: Python's defaults, then a threshold set higher by the operator.
    gc.set_threshold(700, 10, 10)
    # Act / Assert: raised at the first settle, the older generations' kept.
    HeapSettler(lambda: 0.0).maybe_settle()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    gc.set_threshold(YOUNG_THRESHOLD * 2, 5, 20)
    HeapSettler(lambda: 0.0).maybe_settle()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 2, 5, 20)


def test_after_an_event_a_young_pass_runs_only_when_enough_outlived_it(
    unfrozen: None,
) -> None:
    # Arrange: no automatic pass in the way; the count starts from nought.
    gc.set_threshold(AFTER_EVENT_YOUNG * 100, 10, 10)
    gc.collect()
    passes: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    settler = HeapSettler(lambda: 0.0)
    gc.callbacks.append(counted)
    try:
        # Act / Assert: a few objects kept: no pass.
        few = [Node() for _ in range(AFTER_EVENT_YOUNG // 10)]
        assert not settler.after_event()
        assert passes == []
        # More than the figure kept: one young pass, and the count restarts.
        many = [Node() for _ in range(AFTER_EVENT_YOUNG)]
        assert settler.after_event()
        assert passes == [0]
        assert gc.get_count()[0] < AFTER_EVENT_YOUNG // 10
    finally:
        gc.callbacks.remove(counted)
    assert len(few) + len(many) > AFTER_EVENT_YOUNG  # alive throughout
