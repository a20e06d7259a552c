"""manage.py bench_engine: JSON shape and consistency on a scratch database.

No timing assertions: the speed targets are in the benchmark's output.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from psycopg import sql

from accounts.models import BrokerAccount
from journal.models import EventType, JournalEntry
from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.engine.types import OrderType, Side
from routing.models import CopyOrder, Follower, LeaderEvent, RiskLimit
from routing.runtime.bench import _drive
from routing.runtime.bench_case import _Probe, _setup_case, _timed_paper_broker, bench_paper_broker
from routing.runtime.bench_config import (
    SCRATCH_ENV,
    TARGET_ENGINE_PER_FOLLOWER_US,
    TARGET_P99_MS,
    leader_stream,
    percentile,
)
from routing.runtime.bench_cpu import CpuMeter
from routing.runtime.bench_floor import Floor, _copy_text, route_of
from routing.runtime.bench_sustained import TARGET_ORDERS_PER_S, TARGET_RSS_GROWTH
from routing.services.route_state import leader_routes, route_config_key

PG_SERVER = "postgres://postgres@127.0.0.1:5432"


@pytest.mark.django_db
def test_small_run_when_benchmarked_then_json_counts_match_engine_and_real_db_untouched() -> None:
    # Arrange
    rows_before = (BrokerAccount.objects.count(), LeaderEvent.objects.count())
    out, err = StringIO(), StringIO()
    # Act
    call_command(
        "bench_engine", "--events", "20", "--followers", "1,3,20", "--warmup", "5",
        "--sustained", "1", "--sustained-rate", "5", "--sustained-followers", "3",
        stdout=out, stderr=err,
    )  # fmt: skip
    # Assert
    result = json.loads(out.getvalue())
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["db_vendor"] == "sqlite"
    assert result["machine"]["db_settings"] == {}
    assert result["machine"]["python"]
    assert [case["followers"] for case in result["cases"]] == [1, 3, 20]
    assert result["targets"]["p99_ms_by_followers"] == {"20": 2.0, "200": 10.0, "1000": 50.0}
    assert result["targets"]["ratio_p99_by_followers"] == {"200": 2.0, "1000": 2.0}
    for case in result["cases"]:
        followers, events = case["followers"], case["events"]
        assert events == 20
        assert 0 < case["p50_ms"] <= case["p99_ms"] <= case["max_ms"]
        assert case["complete_p50_ms"] <= case["complete_p99_ms"]
        assert case["orders_per_s"] > 0
        assert case["events_per_s"] > 0
        # Every order the engine decided to send reached the adapter, once.
        assert case["orders"] == case["decisions"]["send"] > 0
        assert sum(case["decisions"].values()) == events * followers
        assert case["orders_per_s"] / case["events_per_s"] == pytest.approx(
            case["orders"] / events, rel=0.01
        )
        # One copy order per follower per event, warm-up included, none left in flight.
        in_db = case["copy_orders_in_db"]
        assert sum(in_db.values()) == (events + case["warmup_events"]) * followers
        assert not {"pending", "sent"} & in_db.keys()
        assert case["engine_only_p50_us"] <= case["engine_only_p99_us"]
        # Targets: printed, and the booleans follow from the figures.
        target = TARGET_P99_MS.get(followers)
        assert case["target_p99_ms"] == target
        assert case["meets_target"] == (None if target is None else case["p99_ms"] <= target)
        assert case["meets_engine_target"] == (
            case["engine_only_per_follower_us"] <= TARGET_ENGINE_PER_FOLLOWER_US
        )
        assert case["target_ratio_p99"] is None and case["meets_ratio_target"] is None
        # The database floor, and the ratio to it (to the reported figures' rounding).
        assert 0 < case["floor_p50_ms"] <= case["floor_p99_ms"]
        p99, floor = case["p99_ms"], case["floor_p99_ms"]
        low, high = (p99 - 0.0005) / (floor + 0.0005), (p99 + 0.0005) / (floor - 0.0005)
        assert low - 0.005 <= case["ratio_p99"] <= high + 0.005
        # The floor's rows were deleted: only the case's own events are left.
        assert case["leader_events_in_db"] == events + case["warmup_events"]
        # SQLite works inside the process: its time is the worker's.
        assert case["cpu_ms_per_event"]["worker"] > 0
        assert case["cpu_ms_per_event"]["server"] is None
        assert case["cpu_ms_per_event"]["floor_server"] is None
        assert set(case["split_p50_ms"]) == {
            "to_ingest",
            "ingest",
            "engine_in_ingest",
            "ingest_to_last_handoff",
            "after_last_handoff",
        }
    sustained = result["sustained"]
    assert (sustained["followers"], sustained["rate_per_s"], sustained["events"]) == (3, 5.0, 5)
    # Paced: event i is due at i / rate, so five events take at least 0.8 s.
    assert sustained["wall_s"] >= 0.8
    # Its followers are set up so that every event orders each of them.
    assert sustained["orders"] == sustained["events"] * 3
    assert sustained["orders_per_s"] == pytest.approx(
        sustained["orders"] / sustained["wall_s"], rel=0.01
    )
    assert 0 < sustained["p50_ms"] <= sustained["p99_ms"] <= sustained["max_ms"]
    assert sustained["behind_at_end"] == 0
    assert sustained["rss_start_mb"] > 0 and sustained["rss_end_mb"] > 0
    assert sustained["rss_source"].startswith("/proc/self/status")
    assert sustained["meets_orders_target"] == (sustained["orders_per_s"] >= TARGET_ORDERS_PER_S)
    assert sustained["meets_memory_target"] == (
        sustained["rss_end_mb"] - sustained["rss_start_mb"]
        <= sustained["rss_start_mb"] * TARGET_RSS_GROWTH
    )
    # Offered: the paced events' orders over the seconds they were due in.
    assert sustained["offered_orders_per_s"] == 5 * 3 / (5 / 5.0)
    # As many events again back to back: the worker's capacity.
    capacity = sustained["capacity"]
    assert capacity["events"] == 5
    assert capacity["orders"] == 5 * 3
    # Over the same wall time (a few ms here: wall_s is rounded to 1 ms, so
    # compared loosely), three orders an event.
    assert capacity["orders_per_s"] == pytest.approx(15 / capacity["wall_s"], rel=0.2)
    assert capacity["orders_per_s"] / capacity["events_per_s"] == pytest.approx(3, rel=0.01)
    # Unpaced: five events in far less than the paced run's 0.8 s.
    assert capacity["wall_s"] < sustained["wall_s"]
    assert 0 < capacity["p50_ms"] <= capacity["p99_ms"]
    assert capacity["rss_end_mb"] > 0
    # Processor time: the worker's only on SQLite, so no ceiling.
    assert sustained["cores"] >= 1
    for block in (sustained, capacity):
        assert block["cpu_ms_per_event"]["worker"] > 0
        assert block["cpu_ms_per_event"]["server"] is None
        assert block["cpu_ceiling_orders_per_s"] is None
    assert capacity["meets_orders_target"] == (capacity["orders_per_s"] >= TARGET_ORDERS_PER_S)
    # Every order of the warm-up, paced and back-to-back events filled.
    assert sustained["copy_orders_in_db"] == {"filled": (5 + 5 + sustained["warmup_events"]) * 3}
    # The configured (here: test) database was never written to.
    assert (BrokerAccount.objects.count(), LeaderEvent.objects.count()) == rows_before
    assert CopyOrder.objects.count() == 0


def test_postgresql_run_when_small_then_floor_measured_and_cleaned_and_database_dropped() -> None:
    # Arrange
    name = f"copytrade_bench_run_{os.getpid()}"
    out, err = StringIO(), StringIO()
    # Act
    call_command(
        "bench_engine", "--database-url", f"{PG_SERVER}/{name}", "--events", "3",
        "--warmup", "1", "--followers", "2", "--sustained", "0", stdout=out, stderr=err,
    )  # fmt: skip
    # Assert
    result = json.loads(out.getvalue())
    assert result["machine"]["db_vendor"] == "postgresql"
    # The server's own settings, as it reports them (autovacuum moves the figures).
    settings = result["machine"]["db_settings"]
    assert set(settings) == {"autovacuum", "fsync", "shared_buffers", "synchronous_commit"}
    assert settings["autovacuum"] in ("on", "off")
    assert result["sustained"] is None
    (case,) = result["cases"]
    assert 0 < case["floor_p50_ms"] <= case["floor_p99_ms"]
    assert case["ratio_p99"] > 0
    assert case["leader_events_in_db"] == 4
    assert sum(case["copy_orders_in_db"].values()) == 4 * 2
    # The server runs on this host: its time and the floor's are read (a
    # few ticks of 10 ms over three events, so possibly none).
    cpu = case["cpu_ms_per_event"]
    assert cpu["worker"] > 0
    assert cpu["server"] is not None and cpu["floor_server"] is not None
    assert cpu["server"] >= 0 and cpu["floor_server"] >= 0
    with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=5) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        assert found.fetchone() is None


@pytest.mark.django_db
def test_case_set_up_when_bulk_then_rows_as_the_services_write_them() -> None:
    # Arrange
    key_before = route_config_key()
    # Act
    case = _setup_case(4, seed=7, label="setup")
    # Assert
    followers = list(Follower.objects.filter(group_id=case.group_id).select_related("account"))
    assert len(followers) == 4
    leader = BrokerAccount.objects.get(pk=case.leader_id)
    for follower in followers:
        assert follower.account.owner_id == leader.owner_id
        assert follower.account.platform == "paper"
        assert follower.account.balance == follower.account.starting_balance > 0
        limit = RiskLimit.objects.get(account=follower.account)
        assert limit.daily_loss == follower.account.balance / 25
        assert limit.max_contracts in (5, 10, 20)
    journal = JournalEntry.objects.filter(owner_id=leader.owner_id)
    assert journal.filter(event_type=EventType.FOLLOWER_ADDED).count() == 4
    assert journal.filter(event_type=EventType.RISK_LIMIT_CHANGED).count() == 4
    # The route configuration moved, and the engine's routes see every follower.
    key = route_config_key()
    assert key is not None and key != key_before
    (route,) = leader_routes(leader_id=case.leader_id, key=key).groups
    assert [f.pk for f in route.followers] == sorted(f.pk for f in followers)
    assert set(route.limits) == {f.account_id for f in followers}


@pytest.mark.django_db
def test_case_set_up_when_every_then_each_leader_fill_orders_each_follower() -> None:
    # Arrange
    case = _setup_case(12, seed=7, label="every", every=True)
    fills = leader_stream(
        40, account=BrokerAccount.objects.get(pk=case.leader_id).external_id, seed=7
    )
    # Act
    followers = list(Follower.objects.filter(group_id=case.group_id).select_related("account"))
    # Assert
    assert len(followers) == 12
    assert {f.ratio for f in followers} <= {Decimal(1), Decimal(2), Decimal(3)}
    # The leader never holds more than 9 contracts, so no follower needs more than 27.
    held, most = 0, 0
    for fill in fills:
        held += fill.qty if fill.side is Side.BUY else -fill.qty
        most = max(most, abs(held))
    assert most <= 9
    for follower in followers:
        limit = RiskLimit.objects.get(account=follower.account)
        assert limit.max_contracts == 30 >= most * follower.ratio
        assert limit.daily_loss == follower.account.balance


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_case_when_driven_then_one_floor_transaction_right_after_each_event() -> None:
    """The floor was timed after the case's last event: on a machine whose
    speed drifts (this one's, by more than twice within an hour) it could
    meet other minutes than the case. One floor transaction now follows
    each event, the warm-up's not counted, and its time is not the case's."""
    # Arrange: 3 followers, 2 warm-up and 4 measured events.
    case = _setup_case(3, seed=3)
    account = BrokerAccount.objects.get(pk=case.leader_id).external_id
    fills = leader_stream(6, account=account, seed=3)
    probe = _Probe()
    broker = _timed_paper_broker(probe)
    floor = Floor(route_of(case.leader_id, case.group_id), tag="t")
    seen: list[tuple[int, int, int]] = []

    meter = CpuMeter(None)

    class Watched:
        def time(self, index: int) -> int:
            # Which event is done, and when the floor starts after it.
            seen.append((index, probe.current.done, time.perf_counter_ns()))
            # 50 ms of processor time that is the benchmark's, not the worker's.
            burnt = time.process_time_ns() + 50_000_000
            while time.process_time_ns() < burnt:
                pass
            return floor.time(index)

    # Act
    probe.patch()
    try:
        events, wall, floors = asyncio.run(
            _drive(case, fills, probe, broker, warmup=2, floor=Watched(), meter=meter)  # type: ignore[arg-type]
        )
    finally:
        probe.unpatch()
        floor.close()
    # Assert: a floor transaction after each of the 6 events, each once its
    # event was done; the 4 measured ones returned; the wall time is the
    # events' only (less than from the first measured start to the last done).
    assert [index for index, _, _ in seen] == list(range(6))
    assert all(0 < done <= started for _, done, started in seen)
    assert len(events) == len(floors) == 4
    assert all(duration > 0 for duration in floors)
    assert [event.done for event in events] == [done for _, done, _ in seen[2:]]
    assert wall < events[-1].done - events[0].start
    # Nor is the floor's processor time: 50 ms burnt after each event, and an
    # event of 3 followers takes a few ms.
    cpu = meter.per_event_ms(len(events))
    assert cpu["worker"] is not None and 0 < cpu["worker"] < 40
    assert cpu["server"] is None and cpu["floor_server"] is None
    # The floor's rows are gone again: only the case's 6 events are left.
    assert LeaderEvent.objects.filter(account_id=case.leader_id).count() == 6
    assert not LeaderEvent.objects.filter(external_id__startswith="bench-floor-").exists()


def test_copy_text_escapes_as_postgresql_copy_reads_it() -> None:
    assert _copy_text("a\tb\\c\nd") == "a\\tb\\\\c\\nd"
    assert (_copy_text(None), _copy_text(True), _copy_text(3)) == ("\\N", "t", "3")


def test_child_mode_when_not_started_by_the_command_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SCRATCH_ENV, raising=False)
    with pytest.raises(CommandError, match="scratch database"):
        call_command("bench_engine", "--child", "--events", "1", "--followers", "1")


def test_database_url_when_database_exists_then_refused_and_left_alone() -> None:
    name = f"copytrade_bench_exists_{os.getpid()}"
    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        # The suite runs on PostgreSQL (make test starts it): absent is a failure.
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            with pytest.raises(CommandError, match="already exists"):
                call_command("bench_engine", "--database-url", f"{PG_SERVER}/{name}")
            found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            assert found.fetchone() is not None
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_database_url_when_unreachable_and_skip_then_no_output() -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "bench_engine",
        "--database-url",
        "postgres://postgres@127.0.0.1:1/copytrade_bench",
        "--skip-unreachable",
        stdout=out,
        stderr=err,
    )
    assert out.getvalue() == ""
    assert "not reachable" in err.getvalue()


def test_leader_stream_when_same_seed_then_same_fills_and_never_crosses_flat() -> None:
    first = leader_stream(200, account="lead", seed=3)
    assert first == leader_stream(200, account="lead", seed=3)
    position = 0
    for fill in first:
        after = position + fill.side.sign * fill.qty
        assert position * after >= 0  # entries, adds, scale-outs and flats only
        position = after
    assert [f.time for f in first] == sorted({f.time for f in first})
    assert all(f.time.utcoffset() is not None for f in first)


@pytest.mark.django_db
def test_bench_paper_broker_when_answer_final_then_order_forgotten_and_resting_kept() -> None:
    # The latency cases' broker, as the sustained case's: a filled order
    # leaves the simulated book, a working one stays (it may fill later).
    placed: list[str] = []
    broker = bench_paper_broker(lambda: placed.append("placed"))
    at = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)

    def order(client_order_id: str, **kwargs: object) -> OrderRequest:
        return OrderRequest(
            account="F1",
            client_order_id=client_order_id,
            symbol="MNQH5",
            side=Side.BUY,
            qty=2,
            reference_price=Decimal("21539.50"),
            time=at,
            **kwargs,  # type: ignore[arg-type]
        )

    async def run() -> tuple[OrderResult, OrderResult, int]:
        await broker.connect()
        filled = await broker.place_order(order("ct-filled"))
        resting = await broker.place_order(
            order("ct-resting", order_type=OrderType.LIMIT, limit_price=Decimal("21000.00"))
        )
        return filled, resting, broker.held()

    filled, resting, held = asyncio.run(run())
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, 2)
    assert resting.status is OrderStatus.WORKING
    assert held == 1
    assert placed == ["placed", "placed"]


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50,
        99,
        100,
    )
    assert percentile([7], 99) == 7
