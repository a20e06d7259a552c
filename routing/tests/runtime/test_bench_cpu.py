"""The benchmark's processor time: the worker's, and the local server's from /proc.

Assertions are on processor time counted, with margins of several clock
ticks, never on how long anything took.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from routing.runtime.bench_cpu import CpuMeter, ceiling_orders_per_s, server_of, stat_fields

# Server work that takes a few hundred ms of processor time here.
HEAVY = "SELECT count(*) FROM generate_series(1, 3000000)"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _burn(ms: int) -> None:
    until = time.process_time_ns() + ms * 1_000_000
    while time.process_time_ns() < until:
        pass


def test_stat_fields_when_name_holds_spaces_and_parens_then_fields_after_the_last() -> None:
    # Arrange: proc(5) fields 1-2 are the pid and "(comm)"; utime is field 14.
    line = "4242 (post gres) x) S 17 4242 4242 0 -1 4194560 9 0 0 0 31 7 5 2 20 0 1 0\n"
    # Act
    fields = stat_fields(line)
    # Assert
    assert fields[0] == "S"
    assert fields[1] == "17"  # the parent
    assert fields[11:15] == ["31", "7", "5", "2"]  # utime, stime, cutime, cstime


def test_stat_fields_when_no_name_then_value_error_naming_the_line() -> None:
    with pytest.raises(ValueError, match="not a /proc stat line: 'garbage'"):
        stat_fields("garbage")


@pytest.mark.django_db
def test_server_when_postgresql_runs_here_then_postmaster_and_backend_found() -> None:
    # Act
    server = server_of(connection)
    # Assert
    assert server is not None
    assert server.backend == connection.connection.info.backend_pid
    assert Path(f"/proc/{server.postmaster}/comm").read_text().strip() == "postgres"


@pytest.mark.django_db
def test_server_time_when_a_backend_works_then_exits_then_its_time_is_kept() -> None:
    """Django closes old connections (CONN_MAX_AGE): a backend's time must
    stay in the total once it has exited (the postmaster's reaped children)."""
    # Arrange
    server = server_of(connection)
    assert server is not None
    before = server.cpu_ns()
    assert before is not None
    params = connection.get_connection_params()
    with psycopg.connect(**params) as other:
        pid = other.info.backend_pid
        other.execute(HEAVY).fetchone()
        read = server.cpu_ns(apart=pid)
        assert read is not None and read[1] is not None
        worked = read[1]
    # Act: the backend has exited and been reaped.
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    after = server.cpu_ns()
    # Assert
    assert after is not None
    assert worked >= 5 * TICK_MS * 1e6  # the query did count
    assert after[0] - before[0] >= worked - 2 * TICK_MS * 1e6


@pytest.mark.django_db
def test_meter_when_floor_backend_works_then_taken_out_of_the_server() -> None:
    # Arrange: the floor's backend is this connection's.
    server = server_of(connection)
    assert server is not None
    meter = CpuMeter(server, floor_backend=server.backend)
    # Act
    meter.start()
    with connection.cursor() as cursor:
        cursor.execute(HEAVY)
        cursor.fetchone()
    meter.stop()
    cpu = meter.per_event_ms(1)
    # Assert: the query is the floor's; the rest of the server did little.
    assert cpu["floor_server"] is not None and cpu["server"] is not None
    assert cpu["floor_server"] >= 5 * TICK_MS
    assert 0 <= cpu["server"] < cpu["floor_server"]


def test_meter_when_work_excluded_then_not_counted_as_the_workers() -> None:
    # Arrange
    meter = CpuMeter(None)
    # Act: 30 ms of the worker's, 100 ms of the benchmark's, over two events;
    # the benchmark's work before the start is not taken off the worker's.
    with meter.excluded():
        _burn(100)
    meter.start()
    _burn(30)
    with meter.excluded():
        _burn(100)
    meter.stop()
    cpu = meter.per_event_ms(2)
    # Assert
    assert cpu["worker"] is not None and 15 <= cpu["worker"] < 50
    assert cpu["server"] is None and cpu["floor_server"] is None


def test_meter_when_no_events_then_value_error() -> None:
    with pytest.raises(ValueError, match="events must be >= 1, got 0"):
        CpuMeter(None).per_event_ms(0)


def test_ceiling_when_worked_example_then_orders_a_second_both_cores_could_hand_over() -> None:
    # 200 orders an event, 30 ms worker + 20 ms server, 2 cores:
    # 2 * 1000 / 50 = 40 events a second, 8,000 orders.
    assert ceiling_orders_per_s(200, {"worker": 30.0, "server": 20.0}, 2) == 8000.0
    # 145.5 orders, 63.38 + 39.44 = 102.82 ms, 2 cores: 291,000 / 102.82
    # = 2830.19 orders a second.
    assert ceiling_orders_per_s(145.5, {"worker": 63.38, "server": 39.44}, 2) == 2830.2


def test_ceiling_when_server_unknown_or_nothing_counted_then_none() -> None:
    assert ceiling_orders_per_s(200, {"worker": 30.0, "server": None}, 2) is None
    assert ceiling_orders_per_s(200, {"worker": 0.0, "server": 0.0}, 2) is None
