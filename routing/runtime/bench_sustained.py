"""Sustained load: leader events at a fixed rate into one large group.

**What is measured.** One user, a paper leader and a group of
``followers`` paper followers (set up as the benchmark's cases are), fed the
benchmark's seeded MNQ leader stream at ``rate`` events per second for
``seconds`` seconds through ``EngineWorker(registry).handle_leader_fill``,
one event at a time as the worker handles one leader's stream, with the
paper broker behind the registry. Event ``i`` is due at ``start + i / rate``
(``time.perf_counter_ns``, the loop sleeps until then); when the worker falls
behind, later events are started late, as they would queue in the stream,
and their latency grows: nothing is dropped or re-timed.

**From where to where.** Latency runs from an event's *due* time to the
moment its last follower order is handed to the adapter (``place_order``
entered); an event with nothing to send, to when ``handle_leader_fill``
returns. Reported in milliseconds: ``p50_ms``, ``p99_ms``, ``max_ms``, and
``start_late_p99_ms`` (due time to the call: the pacing loop's wake-up plus
any queueing). ``orders_per_s``: follower orders handed to the adapter per
second of wall time from the first due time to the last event's return.
``behind_at_end``: events not yet done when the last event fell due (the
last one excluded); ``end_lag_ms``: the last event's latency.
``warmup_events`` are run first, unpaced and not counted.
The group's followers are set up so that every event orders each of them
(:func:`routing.runtime.bench_case._setup_case` with ``every``): the target
counts 25 events a second into 200 followers as 5,000 orders a second,
while the latency cases' mix (ratios that round to no contract, limits
that block) ordered about 70 % of them, and fewer as the stream's losses
reached their limits. ``offered_orders_per_s`` is what the paced stream
asked for: its orders over the seconds its events were due in
(``events / rate``); a worker that keeps pace hands over that many a
second and no more.

**Capacity.** After the paced events, the same worker takes as many more
events of the stream back to back (``capacity`` in the JSON): each event
is started as soon as the previous one returned (the heap settled between
them, as the worker does). ``orders_per_s`` and ``events_per_s`` there are
what the worker sustains at full load, whatever the stream offers;
``p50_ms``/``p99_ms`` each event's whole handling (to its answers
recorded); ``rss_end_mb`` the resident set after them.

**Processor time.** ``cpu_ms_per_event`` (the paced run's, and the
capacity's in its block): the worker's and the database server's
milliseconds of processor time per event (:mod:`routing.runtime.bench_cpu`;
the server's ``None`` on SQLite or a server elsewhere), and
``cpu_ceiling_orders_per_s``, the most orders a second this machine's
``cores`` could hand over were both kept busy with that work (an upper
bound: one leader's events run one after the other in one worker). The
target needs 25 events a second, so no more than ``cores`` times 40 ms of
processor time an event, worker and server together.

**Memory.** ``rss_start_mb`` (after set-up and warm-up, just before the
first due time), ``rss_mid_mb`` (halfway) and ``rss_end_mb`` (after the last
event): the child process's resident set, from ``/proc/self/status``
``VmRSS`` (``resource`` peak RSS where there is no ``/proc``: ``rss_source``
says which), in MiB. The process holds the worker and the in-process paper
exchange; the paper broker keeps every order it was ever sent (a simulated
venue's book, which a real venue keeps on its side), so the benchmark's
broker forgets an order once its answer is final
(:func:`routing.runtime.bench_case.bench_paper_broker`): the figures are the
worker's, not the simulator's. Per-event records are four integers, so the
benchmark's own bookkeeping stays small.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing.runtime.bench import _ms
from routing.runtime.bench_case import _Case, _setup_case, bench_paper_broker
from routing.runtime.bench_config import leader_stream, percentile
from routing.runtime.bench_cpu import CpuMeter, Server, ceiling_orders_per_s, cores, server_of

# Targets from the issue, on a 2-core machine.
TARGET_ORDERS_PER_S = 5_000.0
# "Flat" memory: resident set at the end within this share of the start.
TARGET_RSS_GROWTH = 0.10
# The cores this process may run on, for the processor-time ceiling.
CORES = cores()


@dataclass(frozen=True)
class SustainedConfig:
    """``rate`` leader events per second for ``seconds`` into ``followers``,
    after ``warmup`` unpaced events."""

    seconds: float
    rate: float
    followers: int
    warmup: int

    @property
    def events(self) -> int:
        return max(1, round(self.seconds * self.rate))


def rss_mb() -> tuple[float, str]:
    """The process's resident set in MiB, and where it was read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1), "/proc/self/status VmRSS"
    except OSError:
        pass  # no /proc: the peak from resource below
    import resource

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak_kib / 1024, 1), "resource.getrusage ru_maxrss (peak)"


class _Stamp:
    """The current event's hand-offs: how many, and the last one (ns)."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0


class _Current:
    """The event being handled, as the broker sees it."""

    def __init__(self) -> None:
        self.stamp = _Stamp()


def _stamping_paper_broker(current: _Current) -> Any:
    """:func:`routing.runtime.bench_case.bench_paper_broker` stamping each
    ``place_order`` call on the current event (it forgets an order once
    its answer is final: see the module docstring)."""

    def stamp() -> None:
        current.stamp.count += 1
        current.stamp.last = time.perf_counter_ns()

    return bench_paper_broker(stamp)


@dataclass
class _Capacity:
    """The back-to-back events: each one's whole handling (ns), their
    orders, the wall time (ns) and the resident set after them."""

    spans: list[int] = field(default_factory=list)
    orders: int = 0
    wall: int = 0
    rss_end: float = 0.0
    cpu_ms: dict[str, float | None] = field(default_factory=dict)


@dataclass
class _Run:
    due: list[int]
    started: list[int]
    handoff: list[int]  # last hand-off, or the return when nothing was sent
    done: list[int]
    orders: int
    rss_start: float
    rss_mid: float
    rss_end: float
    rss_source: str
    broker_held: int
    cpu_ms: dict[str, float | None] = field(default_factory=dict)
    capacity: _Capacity = field(default_factory=_Capacity)


async def _feed(
    case: _Case,
    fills: Sequence[Any],
    config: SustainedConfig,
    broker: Any,
    current: _Current,
    log: Callable[[str], None],
    server: Server | None,
) -> _Run:
    from routing.runtime.adapters import AdapterRegistry
    from routing.runtime.heap import HeapSettler
    from routing.runtime.worker import EngineWorker

    registry = AdapterRegistry({"paper": broker})
    await registry.connect_all()
    worker = EngineWorker(registry)
    paced = fills[config.warmup : config.warmup + config.events]
    meter = CpuMeter(server)
    run = _Run([], [], [], [], 0, 0.0, 0.0, 0.0, "", 0)
    try:
        for fill in fills[: config.warmup]:
            await worker.handle_leader_fill(case.leader_id, fill, source="bench")
        heap = HeapSettler(time.monotonic)
        heap.maybe_settle()  # as the worker does after its first pass
        run.rss_start, run.rss_source = rss_mb()
        log(f"sustained: {len(paced)} events at {config.rate}/s, rss {run.rss_start} MiB")
        step = 1e9 / config.rate
        start = time.perf_counter_ns() + 1_000_000  # 1 ms: the first sleep is a real one
        meter.start()
        for index, fill in enumerate(paced):
            due = start + round(index * step)
            ahead = due - time.perf_counter_ns()
            if ahead > 0:
                await asyncio.sleep(ahead / 1e9)
            current.stamp = stamp = _Stamp()
            called = time.perf_counter_ns()
            await worker.handle_leader_fill(case.leader_id, fill, source="bench")
            done = time.perf_counter_ns()
            heap.maybe_settle()  # the worker's pass between events
            run.due.append(due)
            run.started.append(called)
            run.handoff.append(stamp.last if stamp.count else done)
            run.done.append(done)
            run.orders += stamp.count
            if index == len(paced) // 2:
                run.rss_mid, _ = rss_mb()
        meter.stop()
        run.cpu_ms = meter.per_event_ms(len(paced))
        run.rss_end, _ = rss_mb()
        run.broker_held = broker.held()
        log(f"sustained: capacity, {len(fills) - len(paced) - config.warmup} events back to back")
        await _back_to_back(
            worker,
            case.leader_id,
            fills[config.warmup + config.events :],
            current,
            heap,
            run,
            CpuMeter(server),
        )
    finally:
        gc.unfreeze()  # what the worker froze is the next run's garbage
        await registry.disconnect_all()
    return run


async def _back_to_back(
    worker: Any,
    leader_id: int,
    fills: Sequence[Any],
    current: _Current,
    heap: Any,
    run: _Run,
    meter: CpuMeter,
) -> None:
    """Handle ``fills`` one after the other, unpaced, into ``run.capacity``,
    their processor time counted by ``meter``."""
    capacity = run.capacity
    meter.start()
    start = time.perf_counter_ns()
    for fill in fills:
        current.stamp = stamp = _Stamp()
        began = time.perf_counter_ns()
        await worker.handle_leader_fill(leader_id, fill, source="bench")
        capacity.spans.append(time.perf_counter_ns() - began)
        capacity.orders += stamp.count
        heap.maybe_settle()
    capacity.wall = time.perf_counter_ns() - start
    meter.stop()
    capacity.cpu_ms = meter.per_event_ms(len(fills))
    capacity.rss_end, _ = rss_mb()


def _capacity_report(capacity: _Capacity) -> dict[str, Any]:
    seconds = capacity.wall / 1e9
    orders_per_s = round(capacity.orders / seconds, 1)
    return {
        "events": len(capacity.spans),
        "orders": capacity.orders,
        "wall_s": round(seconds, 3),
        "orders_per_s": orders_per_s,
        "events_per_s": round(len(capacity.spans) / seconds, 1),
        "p50_ms": _ms(percentile(capacity.spans, 50)),
        "p99_ms": _ms(percentile(capacity.spans, 99)),
        "rss_end_mb": capacity.rss_end,
        "meets_orders_target": orders_per_s >= TARGET_ORDERS_PER_S,
        "cpu_ms_per_event": capacity.cpu_ms,
        "cpu_ceiling_orders_per_s": ceiling_orders_per_s(
            capacity.orders / len(capacity.spans), capacity.cpu_ms, CORES
        ),
    }


def run_sustained(
    config: SustainedConfig, *, seed: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Set up the sustained group, feed it at the configured rate, then as
    many events again back to back (the capacity), report both."""
    from django.db import connection

    from routing.models import CopyOrder

    log(f"sustained: setting up {config.followers} follower(s)")
    case = _setup_case(config.followers, seed, label="sustained", every=True)
    # The paced events, then as many again back to back (the capacity).
    fills = leader_stream(
        config.warmup + 2 * config.events, account=case.leader_external_id, seed=seed
    )
    current = _Current()
    broker = _stamping_paper_broker(current)
    # This thread's connection (the set-up's, idle during the run) finds the server.
    server = server_of(connection)
    run = asyncio.run(_feed(case, fills, config, broker, current, log, server))
    latency = [h - d for h, d in zip(run.handoff, run.due, strict=True)]
    late = [s - d for s, d in zip(run.started, run.due, strict=True)]
    wall_ns = run.done[-1] - run.due[0]
    last_due = run.due[-1]
    orders_per_s = round(run.orders / (wall_ns / 1e9), 1)
    growth = run.rss_end - run.rss_start
    meets_memory = growth <= run.rss_start * TARGET_RSS_GROWTH
    meets_orders = orders_per_s >= TARGET_ORDERS_PER_S
    in_db = Counter(
        CopyOrder.objects.filter(group_id=case.group_id).values_list("status", flat=True)
    )
    return {
        "followers": config.followers,
        "rate_per_s": config.rate,
        "seconds": config.seconds,
        "events": len(latency),
        "warmup_events": config.warmup,
        "orders": run.orders,
        "wall_s": round(wall_ns / 1e9, 3),
        "orders_per_s": orders_per_s,
        "offered_orders_per_s": round(run.orders / (len(latency) / config.rate), 1),
        "events_per_s": round(len(latency) / (wall_ns / 1e9), 1),
        "p50_ms": _ms(percentile(latency, 50)),
        "p99_ms": _ms(percentile(latency, 99)),
        "max_ms": _ms(max(latency)),
        "start_late_p99_ms": _ms(percentile(late, 99)),
        "behind_at_end": sum(1 for done in run.done[:-1] if done > last_due),
        "end_lag_ms": _ms(latency[-1]),
        "rss_start_mb": run.rss_start,
        "rss_mid_mb": run.rss_mid,
        "rss_end_mb": run.rss_end,
        "rss_growth_mb": round(growth, 1),
        "rss_source": run.rss_source,
        "paper_orders_held_end": run.broker_held,
        "target_orders_per_s": TARGET_ORDERS_PER_S,
        "meets_orders_target": meets_orders,
        "target_rss_growth_pct": round(TARGET_RSS_GROWTH * 100, 1),
        "meets_memory_target": meets_memory,
        "meets_target": meets_orders and meets_memory,
        "copy_orders_in_db": dict(sorted(in_db.items())),
        "cores": CORES,
        "cpu_ms_per_event": run.cpu_ms,
        "cpu_ceiling_orders_per_s": ceiling_orders_per_s(
            run.orders / len(latency), run.cpu_ms, CORES
        ),
        "capacity": _capacity_report(run.capacity),
    }
