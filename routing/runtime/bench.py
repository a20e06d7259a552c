"""Engine benchmark: a long leader stream through the real worker path, timed.

**What is measured.** For each case (1, 20, 200 and 1000 followers by
default) one user owns a paper leader account and a copy group of N paper
followers (ratios 0.5-3, balances $25K-$150K, daily loss and max-contracts
limits; the followers' rows written in bulk as the services write them). A
deterministic, seeded stream of MNQ leader fills (entries, adds, scale-outs,
flats; increasing aware UTC times one second apart) is fed one event at a
time to ``EngineWorker(registry).handle_leader_fill`` on an asyncio loop,
with a real :class:`~routing.brokers.paper.PaperBroker` behind the registry
(which forgets an order once its answer is final:
:func:`routing.runtime.bench_case.bench_paper_broker`),
exactly as the engine worker does it: account read, ingest (event stored,
engine run, one ``CopyOrder`` per follower bulk-created PENDING in one
transaction), then claim and ``place_order`` per pending order, concurrently.

**From where to where.** Each event's latency runs from just before
``handle_leader_fill`` is called to the moment the *last* of its follower
orders is handed to the adapter (``PaperBroker.place_order`` entered), read
with ``time.perf_counter_ns``. An event with nothing to send (every follower
skipped or blocked) is timed to when ``handle_leader_fill`` returns.
Reported per case, in milliseconds: ``p50_ms``, ``p99_ms`` (nearest rank),
``max_ms``, ``mean_ms``; ``complete_*_ms`` to when ``handle_leader_fill``
returns (broker answers recorded too, in one batch). ``events_per_s`` and
``orders_per_s``: measured events, and orders handed to the adapter, per
second of wall time of the measured loop (events handled back to back).
The first ``warmup`` events are run and not counted.

**Split** (``split_p50_ms`` / ``split_p99_ms``, each stage's own percentiles,
so they do not add up): ``to_ingest`` (call to ingest start: the paper
mark and the thread hop), ``ingest`` (inside ``leader_event_ingest``: one
transaction storing the event, the orders SENT and the journal),
``engine_in_ingest`` (the engine inside it: ``decide_copies_each``, each
decision as it is made, less the followers' states made meanwhile as the
decisions read them), ``ingest_to_last_handoff``
(the concurrent sends, no database call), ``after_last_handoff`` (answers
recorded). Per event, ``db_calls_p50_ms.results`` is the time inside
``event_answers_record`` (one transaction for all of the event's answers,
then the feed numbers).
``engine_only_*_us`` replays ``decide_copies`` alone, in microseconds, on the
very inputs captured during the run (same moves, follower states, specs);
``engine_only_per_follower_us`` is its p50 divided by the follower count.
The stages are observed by wrapping the worker's and the ingest service's
module-level names for the run (the code under test is not changed).
``--profile N`` cProfiles extra events of the largest case afterwards
(``--profile-events``, default 1; top N by own time, and project code by
cumulative time, on stderr): one event alone may be mostly a collector pass.

**Floor and ratio.** Right after each of a case's events, in the same
process, on the same database and the case's rows,
:mod:`routing.runtime.bench_floor` times the database alone storing one
event and its N orders (``floor_p50_ms``, ``floor_p99_ms``), so both are
measured over the same minutes of a machine whose speed drifts;
``ratio_p99`` is ``p99_ms`` over ``floor_p99_ms``. The floor's own time is
left out of the case's ``events_per_s`` and ``orders_per_s``.

**Processor time.** ``cpu_ms_per_event``: the worker's, the database
server's for the worker, and the floor's backend's, per measured event
(:mod:`routing.runtime.bench_cpu`; the server's ``None`` on SQLite or a
server on another host). The work itself, whatever the machine's moment:
the server's figure over ``floor_server`` is how much more the server does
for an event than for the floor.

**Sustained.** After the cases, :mod:`routing.runtime.bench_sustained`
feeds ``--sustained-rate`` events per second into ``--sustained-followers``
for ``--sustained`` seconds, paced by the clock (``sustained`` in the JSON),
then as many events again back to back (its ``capacity``).

**Targets** (``TARGET_*`` in ``bench_config`` and ``bench_sustained``, printed in
``targets``, with a boolean per case or block): p99 by follower count,
``ratio_p99`` at 200 and 1000, ``decide_copies`` per follower, sustained
orders per second and flat memory.

**Scratch database, never the user's** (:mod:`routing.runtime.bench_scratch`).
The command runs the benchmark in a
child process (``manage.py bench_engine --child``) whose environment names
a scratch database, so no connection of the parent (or of a test run) is
ever re-pointed: by default a SQLite file in a fresh temporary directory,
with the embedded default's own SQLite settings (WAL, ``synchronous=NORMAL``,
``CONN_MAX_AGE`` 0): the child gets no ``DATABASE_URL``, so the settings
build the embedded default, and the child switches its ``NAME`` to the
scratch file before any connection opens, as Django's test runner switches
to a test database; with ``--database-url`` a PostgreSQL database that the
parent creates (refusing one that already exists) and drops afterwards, with
the real deployment's settings. The child checks that the configured
database is the scratch one before it touches anything, migrates it, and
prints one JSON document. Neither process runs Django's system checks: they
would open the configured database. ``REDIS_URL`` is dropped for the child: feed
pushes go to the in-memory channel layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import io
import os
import pickle
import platform
import pstats
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.runtime.bench_case import _Case, _Event, _Probe, _setup_case, _timed_paper_broker
from routing.runtime.bench_config import (
    TARGET_ENGINE_PER_FOLLOWER_US,
    TARGET_P99_MS,
    TARGET_RATIO_P99,
    BenchConfig,
    leader_stream,
    percentile,
)

if TYPE_CHECKING:
    from routing.runtime.bench_cpu import CpuMeter
    from routing.runtime.bench_floor import Floor


async def _drive(
    case: _Case,
    fills: Sequence[Any],
    probe: _Probe,
    broker: Any,
    *,
    warmup: int,
    floor: Floor,
    meter: CpuMeter,
) -> tuple[list[_Event], int, list[int]]:
    """Feed ``fills`` to the worker; the events after ``warmup``, the wall
    time (ns) of the measured loop and one ``floor`` transaction timed
    right after each event (ns, those after ``warmup``; their time is not
    in the wall time). ``meter`` counts the processor time of the events
    after ``warmup``, without the probe's sealing and the floor's."""
    from routing.runtime.adapters import AdapterRegistry
    from routing.runtime.heap import HeapSettler
    from routing.runtime.worker import EngineWorker

    registry = AdapterRegistry({"paper": broker})
    await registry.connect_all()
    worker = EngineWorker(registry)
    measured: list[_Event] = []
    floors: list[int] = []
    loop_start = sealing = 0
    try:
        for index, fill in enumerate(fills):
            if index == warmup:
                # As the worker does after its first pass, then between events.
                heap = HeapSettler(time.monotonic)
                heap.maybe_settle()
                probe.capture = True
                meter.start()
                loop_start = time.perf_counter_ns()
            probe.current = event = _Event()
            event.start = time.perf_counter_ns()
            await worker.handle_leader_fill(case.leader_id, fill, source="bench")
            event.done = time.perf_counter_ns()
            with meter.excluded():
                probe.seal()
                # The floor runs here, blocking the loop: the worker has nothing
                # left in flight once its event has returned.
                floored = floor.time(index)
            if index >= warmup:
                measured.append(event)
                floors.append(floored)
                sealing += time.perf_counter_ns() - event.done
                heap.maybe_settle()  # the worker's pass between events
        # The wall time of the worker's events, without the probe's sealing
        # and the floor's transactions.
        wall = time.perf_counter_ns() - loop_start - sealing
        meter.stop()
    finally:
        probe.capture = False
        # The next case starts from a heap of its own, as a new worker would.
        gc.unfreeze()
        await registry.disconnect_all()
    return measured, wall, floors


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _us(ns: float) -> float:
    return round(ns / 1e3, 1)


def _stats(values: Sequence[int], unit: Callable[[float], float]) -> dict[str, float]:
    return {
        "p50": unit(percentile(values, 50)),
        "p99": unit(percentile(values, 99)),
        "max": unit(max(values)),
    }


def _engine_only(calls: Sequence[bytes]) -> list[int]:
    """``decide_copies`` alone on the captured (pickled) inputs, ns per call."""
    from routing.engine.copier import decide_copies

    for blob in calls[: min(len(calls), 20)]:  # warm caches
        args, kwargs = pickle.loads(blob)  # noqa: S301 (written by this process)
        decide_copies(*args, **kwargs)
    timings = []
    for blob in calls:
        args, kwargs = pickle.loads(blob)  # noqa: S301
        started = time.perf_counter_ns()
        decide_copies(*args, **kwargs)
        timings.append(time.perf_counter_ns() - started)
    return timings


def run_case(followers: int, config: BenchConfig, *, log: Callable[[str], None]) -> dict[str, Any]:
    """Set up one case, stream ``warmup + events`` leader fills, each
    followed by one database floor transaction on the case's rows, report."""
    from django.db import connection

    from routing.models import CopyOrder, LeaderEvent
    from routing.runtime.bench_cpu import CpuMeter, server_of
    from routing.runtime.bench_floor import Floor, route_of

    log(f"case {followers} follower(s): setting up")
    set_up = time.perf_counter()
    case = _setup_case(followers, config.seed)
    log(f"case {followers} follower(s): set up in {time.perf_counter() - set_up:.2f} s")
    profiled = config.profile_top > 0 and followers == max(config.followers)
    fills = leader_stream(
        config.warmup + config.events + (config.profile_events if profiled else 0),
        account=case.leader_external_id,
        seed=config.seed,
    )
    measured_fills = fills[: config.warmup + config.events]
    probe = _Probe()
    broker = _timed_paper_broker(probe)
    # The database floor, in the same process after each event, on the same
    # database and rows (deleted again): see bench_floor. Its connection is
    # this thread's, opened here, outside the event loop.
    floor_runs = Floor(route_of(case.leader_id, case.group_id), tag=str(followers), log=log)
    # The floor's connection finds the server; its backend is the floor's.
    server = server_of(connection)
    meter = CpuMeter(server, floor_backend=None if server is None else server.backend)
    try:
        probe.patch()
        log(f"case {followers} follower(s): {config.warmup} warm-up + {config.events} events")
        events, wall_ns, floor = asyncio.run(
            _drive(
                case,
                measured_fills,
                probe,
                broker,
                warmup=config.warmup,
                floor=floor_runs,
                meter=meter,
            )
        )
        if profiled:
            log(_profile(case, fills[len(measured_fills) :], probe, broker, config.profile_top))
    finally:
        probe.unpatch()
        floor_runs.close()

    to_handoff = [(max(e.places) if e.places else e.done) - e.start for e in events]
    complete = [e.done - e.start for e in events]
    orders = sum(len(e.places) for e in events)
    decisions: Counter[str] = Counter()
    for e in events:
        decisions.update(e.decisions)
    with_orders = [e for e in events if e.places]
    split_values = {
        "to_ingest": [e.ingest_start - e.start for e in events],
        "ingest": [e.ingest_end - e.ingest_start for e in events],
        "engine_in_ingest": [e.engine_ns for e in events],
        "ingest_to_last_handoff": [max(e.places) - e.ingest_end for e in with_orders] or [0],
        "after_last_handoff": [e.done - max(e.places) for e in with_orders] or [0],
    }
    engine_only = _engine_only(probe.engine_calls)
    in_db = Counter(
        CopyOrder.objects.filter(group_id=case.group_id).values_list("status", flat=True)
    )
    in_db_events = LeaderEvent.objects.filter(account_id=case.leader_id).count()
    latency = _stats(to_handoff, _ms)
    target = TARGET_P99_MS.get(followers)
    ratio = round(percentile(to_handoff, 99) / percentile(floor, 99), 2)
    ratio_target = TARGET_RATIO_P99.get(followers)
    engine_per_follower = round(percentile(engine_only, 50) / 1e3 / followers, 2)
    return {
        "followers": followers,
        "events": len(events),
        "warmup_events": config.warmup,
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "mean_ms": _ms(sum(to_handoff) / len(to_handoff)),
        "target_p99_ms": target,
        "meets_target": None if target is None else latency["p99"] <= target,
        "complete_p50_ms": _ms(percentile(complete, 50)),
        "complete_p99_ms": _ms(percentile(complete, 99)),
        "events_per_s": round(len(events) / (wall_ns / 1e9), 1),
        "orders_per_s": round(orders / (wall_ns / 1e9), 1),
        "orders": orders,
        "events_without_orders": len(events) - len(with_orders),
        "decisions": {
            status: decisions.get(status, 0) for status in ("send", "blocked", "skipped")
        },
        "engine_only_p50_us": _us(percentile(engine_only, 50)),
        "engine_only_p99_us": _us(percentile(engine_only, 99)),
        "engine_only_per_follower_us": engine_per_follower,
        "target_engine_per_follower_us": TARGET_ENGINE_PER_FOLLOWER_US,
        "meets_engine_target": engine_per_follower <= TARGET_ENGINE_PER_FOLLOWER_US,
        "floor_p50_ms": _ms(percentile(floor, 50)),
        "floor_p99_ms": _ms(percentile(floor, 99)),
        "ratio_p99": ratio,
        "target_ratio_p99": ratio_target,
        "meets_ratio_target": None if ratio_target is None else ratio <= ratio_target,
        "cpu_ms_per_event": meter.per_event_ms(len(events)),
        "split_p50_ms": {k: _ms(percentile(v, 50)) for k, v in split_values.items()},
        "split_p99_ms": {k: _ms(percentile(v, 99)) for k, v in split_values.items()},
        "db_calls_p50_ms": {
            "results": _ms(percentile([e.record_ns for e in events], 50)),
        },
        "copy_orders_in_db": dict(sorted(in_db.items())),
        "leader_events_in_db": in_db_events,
    }


def _profile(case: _Case, fills: Sequence[Any], probe: _Probe, broker: Any, top: int) -> str:
    """cProfile ``fills`` (events after the measured ones) through the
    worker, one after the other; the top ``top`` functions by own time, as
    text. On Python 3.12+ one profiler sees every thread (``sys.monitoring``),
    so the database thread that ``database_sync_to_async`` runs the ORM calls
    on is included (its callers may be attributed loosely)."""
    profile = cProfile.Profile()

    async def one() -> int:
        from routing.runtime.adapters import AdapterRegistry
        from routing.runtime.worker import EngineWorker

        registry = AdapterRegistry({"paper": broker})
        await registry.connect_all()
        worker = EngineWorker(registry)
        placed = 0
        for fill in fills:
            probe.current = event = _Event()
            profile.enable()
            await worker.handle_leader_fill(case.leader_id, fill, source="bench")
            profile.disable()
            placed += len(event.places)
        await registry.disconnect_all()
        return placed

    placed = asyncio.run(one())
    # For pstats' callers and callees views: BENCH_PROFILE_OUT=path.
    if dump := os.environ.get("BENCH_PROFILE_OUT"):
        profile.dump_stats(dump)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    out.write("project code by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"/(routing|journal|accounts)/", top)
    return f"profile of {len(fills)} event(s) ({placed} orders placed):\n{out.getvalue()}"


def machine_info() -> dict[str, Any]:
    """CPU, Python, Django and database facts printed with the results."""
    import django
    from django.conf import settings
    from django.db import connection

    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        db_version = connection.Database.sqlite_version
        database = "scratch SQLite file, embedded default settings"
        db_settings: dict[str, str] = {}
    else:
        db_version = str(connection.connection.info.server_version)
        database = f"scratch {connection.vendor} database {connection.settings_dict['NAME']}"
        db_settings = _server_settings(connection)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "db_vendor": connection.vendor,
        "db_version": db_version,
        "database": database,
        "db_settings": db_settings,
        "conn_max_age": connection.settings_dict.get("CONN_MAX_AGE"),
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "paper_slippage_ticks": settings.PAPER_SLIPPAGE_TICKS,
        "timer": "time.perf_counter_ns",
    }


# Server settings that move the figures: without autovacuum (this machine's
# CI configuration turns it off) the case's update-heavy tables (positions,
# expected positions, session rows, copy orders) bloat as the run goes and
# their statistics go stale, so the planner's choices drift; a deployment
# keeps the default (on).
_SERVER_SETTINGS = ("autovacuum", "synchronous_commit", "fsync", "shared_buffers")


def _server_settings(connection: Any) -> dict[str, str]:
    """The PostgreSQL server's ``_SERVER_SETTINGS`` as it reports them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            [list(_SERVER_SETTINGS)],
        )
        return dict(cursor.fetchall())


def run_benchmark(
    config: BenchConfig, *, notes: Sequence[str] = (), log: Callable[[str], None]
) -> dict[str, Any]:
    """Every case on the current (scratch) database: ``{"machine", "cases", …}``."""
    from routing.runtime import bench_sustained

    machine = machine_info()
    cases = [run_case(n, config, log=log) for n in config.followers]
    sustained = None
    if config.sustained_seconds:
        sustained = bench_sustained.run_sustained(
            bench_sustained.SustainedConfig(
                seconds=config.sustained_seconds,
                rate=config.sustained_rate,
                followers=config.sustained_followers,
                warmup=config.warmup,
            ),
            seed=config.seed,
            log=log,
        )
    return {
        "machine": machine,
        "measured": (
            "leader event handed to EngineWorker.handle_leader_fill -> last follower order "
            "handed to the paper adapter (place_order called), ms; engine_only in us; "
            "floor: BEGIN -> COMMIT of 1 event + N order rows with the driver alone, ms; "
            "sustained: from each event's due time, ms (capacity: each event's whole "
            "handling, back to back); the heap is settled after the "
            "warm-up events and then between events every few seconds, as the worker "
            "settles it (routing.runtime.heap)"
        ),
        "config": {
            "events": config.events,
            "warmup": config.warmup,
            "seed": config.seed,
            "sustained_seconds": config.sustained_seconds,
            "sustained_rate": config.sustained_rate,
            "sustained_followers": config.sustained_followers,
        },
        "targets": {
            "p99_ms_by_followers": {str(n): ms for n, ms in TARGET_P99_MS.items()},
            "ratio_p99_by_followers": {str(n): r for n, r in TARGET_RATIO_P99.items()},
            "engine_per_follower_us": TARGET_ENGINE_PER_FOLLOWER_US,
            "sustained_orders_per_s": bench_sustained.TARGET_ORDERS_PER_S,
            "sustained_rss_growth_pct": round(bench_sustained.TARGET_RSS_GROWTH * 100, 1),
            "database": "postgresql (the SQLite run is reported against the same figures)",
        },
        "notes": list(notes),
        "cases": cases,
        "sustained": sustained,
    }
