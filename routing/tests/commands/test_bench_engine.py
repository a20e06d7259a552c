"""manage.py bench_engine: JSON shape and consistency on a scratch database.

No timing assertions: the speed targets are in the benchmark's output.
"""

from __future__ import annotations

import json
import os
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from psycopg import sql

from accounts.models import BrokerAccount
from routing.models import CopyOrder, LeaderEvent
from routing.runtime.bench import SCRATCH_ENV, leader_stream, percentile

PG_SERVER = "postgres://postgres@127.0.0.1:5432"


@pytest.mark.django_db
def test_small_run_when_benchmarked_then_json_counts_match_engine_and_real_db_untouched() -> None:
    # Arrange
    rows_before = (BrokerAccount.objects.count(), LeaderEvent.objects.count())
    out, err = StringIO(), StringIO()
    # Act
    call_command(
        "bench_engine", "--events", "20", "--followers", "1,3", "--warmup", "5",
        stdout=out, stderr=err,
    )  # fmt: skip
    # Assert
    result = json.loads(out.getvalue())
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["db_vendor"] == "sqlite"
    assert result["machine"]["python"]
    assert [case["followers"] for case in result["cases"]] == [1, 3]
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
        assert set(case["split_p50_ms"]) == {
            "to_ingest",
            "ingest",
            "engine_in_ingest",
            "ingest_to_last_handoff",
            "after_last_handoff",
        }
    # The configured (here: test) database was never written to.
    assert (BrokerAccount.objects.count(), LeaderEvent.objects.count()) == rows_before
    assert CopyOrder.objects.count() == 0


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


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50,
        99,
        100,
    )
    assert percentile([7], 99) == 7
