"""The engine worker's heap, settled between leader events.

Python's cyclic garbage collector stops the process while it scans; a full
(oldest generation) collection scans every tracked object, and a worker
holding Django, its routes and the paper exchange's order history has
hundreds of thousands of them. On the copy path those pauses were the slow
tail: at 200 followers the benchmark's p99 was about three times its p50.

:func:`settle_heap` collects, then moves everything still alive into the
permanent generation (:func:`gc.freeze`), which the collector never scans
again; objects made later are collected as usual. Python documents
``gc.freeze`` for this use (https://docs.python.org/3/library/gc.html#gc.freeze).
The worker settles once its start-up is done and then between events, every
:data:`SETTLE_SECONDS` (:class:`HeapSettler`): a light settle only collects
what was made since the last one, so the collector's own full passes stay
short while the heap grows (the paper exchange keeps every order). Frozen
objects are still freed when their reference count drops to zero; only
cycles among them wait for a full settle (:data:`FULL_SETTLE_SECONDS`),
which unfreezes and scans everything once.

Measured (bench_engine, 200 followers, 200 events, same machine): p99 of
the hand-off 231-264 ms with the collector as it is, 133 ms settling every
20 events.

The first settle also raises the youngest generation's threshold to
:data:`YOUNG_THRESHOLD` allocations (Python's default is 700): a leader
event of a thousand followers makes about 55,000 container objects, so
with the default the collector ran about 80 young, 7 middle and one old
pass inside every such event, 15 ms of its 250 (``gc.callbacks``, this
machine). With the threshold raised, most garbage is collected by the
settles between events; what waits for them is bounded by the threshold.
What outlives each event is scanned by a young pass right after it
(:meth:`HeapSettler.after_event`), so the count does not carry a pass into
the next event.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

# A light settle (what was made since the last one) at most this often.
SETTLE_SECONDS = 5.0
# A full settle (everything, frozen cycles freed) at most this often.
FULL_SETTLE_SECONDS = 3600.0
# Net container allocations between young-generation passes, once the
# worker has settled (gc.set_threshold's first figure; never lowered).
YOUNG_THRESHOLD = 50_000
# A young pass after a leader event once this many container objects made
# since the last pass are still alive (HeapSettler.after_event).
AFTER_EVENT_YOUNG = 2_000


def settle_heap(*, full: bool = True) -> int:
    """Collect garbage, then freeze every object still alive so later
    collections skip it; returns the number of objects frozen. ``full``
    first unfreezes what earlier settles froze, so cycles among them that
    have died are freed (a scan of the whole heap); a light settle scans
    only what is not frozen yet."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class HeapSettler:
    """When to settle: at the first call, then lightly every ``every``
    seconds and fully every ``full_every`` seconds, by ``clock`` (seconds,
    monotonic). The first settle is light too: a worker's process has
    nothing frozen yet (and a test process running many workers would
    otherwise scan its whole heap for each one)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        every: float = SETTLE_SECONDS,
        full_every: float = FULL_SETTLE_SECONDS,
    ) -> None:
        self._clock = clock
        self._every = every
        self._full_every = full_every
        self._settled_at: float | None = None
        self._fully_at: float | None = None

    def maybe_settle(self) -> bool:
        """Settle if one is due now; True when it did. The first call also
        raises the young generation's threshold (:data:`YOUNG_THRESHOLD`)."""
        now = self._clock()
        if self._settled_at is not None and now - self._settled_at < self._every:
            return False
        if self._fully_at is None:
            self._fully_at = now
            young, *older = gc.get_threshold()
            gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
        full = now - self._fully_at >= self._full_every
        settle_heap(full=full)
        self._settled_at = now
        if full:
            self._fully_at = now
        return True

    def after_event(self) -> bool:
        """A young-generation pass once a leader event is done (its answers
        recorded), when at least :data:`AFTER_EVENT_YOUNG` container objects
        made since the last pass are alive; True when it ran.

        The event's own objects are garbage by then, so the pass scans only
        what outlived it, and the count starts again from nought: the next
        event's objects no longer tip a pass inside that event. Without it,
        at 1000 followers a pass came every eight events or so, inside one,
        and scanned that event's live objects too: 12-18 ms each
        (``gc.callbacks``, bench_engine)."""
        if gc.get_count()[0] < AFTER_EVENT_YOUNG:
            return False
        gc.collect(0)
        return True
