"""The engine worker's heap, settled once it has started.

Python's cyclic garbage collector stops the process while it scans; a full
(oldest generation) collection scans every tracked object, and a worker
holding Django, its routes and the paper exchange has hundreds of thousands
of them. On the copy path those pauses were the slow tail: at 200 followers
the benchmark's p99 was about three times its p50 with the collector as it
is, and about one and a half times with the start-up heap frozen (same run,
same machine). :func:`settle_heap` collects what start-up left behind, then
moves everything still alive into the permanent generation
(:func:`gc.freeze`), which the collector never scans again; objects made
later are collected as usual. Python documents ``gc.freeze`` for this use
(https://docs.python.org/3/library/gc.html#gc.freeze); Instagram's web
servers adopted it for the same reason.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect garbage, then freeze every object still alive so later
    collections skip it. Returns the number of objects frozen. Safe to call
    again (each call freezes what is alive by then); objects frozen are
    still freed when their reference count drops to zero, only cycles among
    them are never collected, so call it once start-up is done, not per event.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
