"""routing.runtime.heap: the worker's start-up heap frozen once."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from routing.runtime.heap import settle_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_heap_freezes_what_is_alive_and_collects_cycles_first(unfrozen: None) -> None:
    # Arrange: a reference cycle nothing points at (garbage for the
    # collector only) and a live object.
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    live = Node()
    # Act
    frozen = settle_heap()
    # Assert: the cycle was collected before the freeze, the live object is
    # frozen (counted), and a later collection scans none of the frozen ones.
    assert frozen == gc.get_freeze_count() > 0
    assert not any(type(o) is Node for o in gc.get_objects())  # frozen objects are not listed
    gc.unfreeze()
    assert [o for o in gc.get_objects() if type(o) is Node] == [live]
