"""Processor time of a benchmark run: the worker's process and its database server.

**Why.** This machine's speed moves by more than twice within an hour (the
same code took 25 and then 68 ms of processor time per 200-follower event),
so a latency or a rate says little alone. The processor time
an event costs on both sides of the database connection says how much work
it is, whatever the machine's moment; with the cores it also bounds what the
machine could do at all (:func:`ceiling_orders_per_s`).

**The worker's** is ``time.process_time_ns`` of the benchmark's child process
(every thread: the event loop, the database thread, the in-process paper
exchange), less what the benchmark itself does between events (its probe's
sealing, the floor transactions): :class:`CpuMeter`.

**The server's** is read from ``/proc`` when PostgreSQL runs on this host
(:func:`server_of`): the postmaster's own time and its reaped children's
(``utime + stime + cutime + cstime``), plus the time of each process it
still has (``utime + stime``): backends, the WAL writer, the checkpointer.
A backend that exits between two readings moves its time from the second
sum into the postmaster's ``cutime``, so the total stays whole when Django
closes an old connection and opens another (``CONN_MAX_AGE``). That is the
server's work for everything done meanwhile, the bench's floor included:
the floor's own backend is read apart, in the same pass, and taken
out. SQLite runs inside the process: its work is in the worker's, and the
server's figures are ``None``, as they are when the server is elsewhere.

Clock ticks (``SC_CLK_TCK``, 100 a second here) make each reading 10 ms
coarse: the figures are totals over a case's events divided by their
number, never one event's.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROC = Path("/proc")
_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0


def stat_fields(text: str) -> list[str]:
    """The fields of a ``/proc/<pid>/stat`` line after the command name,
    so that ``fields[0]`` is the state (field 3 of proc(5)), ``fields[1]``
    the parent's pid, ``fields[11:15]`` utime, stime, cutime, cstime in
    clock ticks. The name (in parentheses) may hold spaces and ``)``: it
    ends at the last ``)``. Raises ``ValueError`` on a line without one."""
    end = text.rfind(")")
    if end < 0:
        raise ValueError(f"not a /proc stat line: {text[:80]!r}")
    return text[end + 2 :].split()


def _stat(pid: int) -> list[str] | None:
    try:
        return stat_fields((_PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError):
        return None  # gone meanwhile, or not readable: not counted


@dataclass(frozen=True)
class Server:
    """A local PostgreSQL server: its postmaster's pid, and the backend
    pid of the connection it was found through."""

    postmaster: int
    backend: int

    def cpu_ns(self, apart: int | None = None) -> tuple[int, int | None] | None:
        """The server's processor time so far (ns; see the module), and in
        the same reading its process ``apart``'s (``None`` when that one is
        gone or not given). ``None`` when the postmaster is gone."""
        own = _stat(self.postmaster)
        if own is None:
            return None
        total, aside = sum(int(value) for value in own[11:15]), None
        for entry in _PROC.iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(self.postmaster):
                ticks = int(fields[11]) + int(fields[12])
                total += ticks
                if apart is not None and int(entry.name) == apart:
                    aside = ticks * _NS_PER_TICK
        return total * _NS_PER_TICK, aside


def server_of(connection: Any) -> Server | None:
    """The PostgreSQL server behind Django's ``connection`` (opened), when
    it runs on this host and ``/proc`` shows it: its backend is a process
    named ``postgres`` whose parent is one too. ``None`` for SQLite, a
    server elsewhere (another host or another pid namespace) or no
    ``/proc``."""
    if connection.vendor != "postgresql" or _NS_PER_TICK == 0:
        return None
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    fields = _stat(backend)
    if fields is None or _name(backend) != "postgres":
        return None
    postmaster = int(fields[1])
    if _name(postmaster) != "postgres":
        return None
    return Server(postmaster=postmaster, backend=backend)


def _name(pid: int) -> str | None:
    try:
        return (_PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return None


class CpuMeter:
    """Processor time over a run of ``events``: the worker's, the server's
    and, when ``floor_backend`` is given, the floor's backend's (taken out
    of the server's). ``start()`` before the first event, ``stop()`` after
    the last; the benchmark's own work between events is wrapped in
    ``with meter.excluded():`` so that it is not counted as the worker's
    (outside ``start()``-``stop()`` it is not counted anyway)."""

    def __init__(self, server: Server | None, floor_backend: int | None = None) -> None:
        self._server = server
        self._floor = floor_backend
        self._excluded = 0
        self._running = False  # work excluded outside start-stop is not counted at all
        self._start: tuple[int, int | None, int | None] = (0, None, None)
        self._end: tuple[int, int | None, int | None] = (0, None, None)

    def _read(self) -> tuple[int, int | None, int | None]:
        # The floor's backend in the same reading as the server's total, so
        # that a tick between two readings cannot make the rest negative.
        read = None if self._server is None else self._server.cpu_ns(self._floor)
        server, floor = (None, None) if read is None else read
        return time.process_time_ns(), server, floor

    def start(self) -> None:
        self._start = self._read()
        self._running = True

    def stop(self) -> None:
        self._end = self._read()
        self._running = False

    @contextlib.contextmanager
    def excluded(self) -> Iterator[None]:
        started = time.process_time_ns()
        try:
            yield
        finally:
            if self._running:
                self._excluded += time.process_time_ns() - started

    def per_event_ms(self, events: int) -> dict[str, float | None]:
        """``worker``, ``server`` and ``floor_server`` milliseconds per
        event (``floor_server`` ``None`` without a floor backend; the
        server's ``None`` when it could not be read). Raises
        ``ValueError`` for ``events`` < 1."""
        if events < 1:
            raise ValueError(f"events must be >= 1, got {events}")
        (p0, s0, f0), (p1, s1, f1) = self._start, self._end
        server = None if s0 is None or s1 is None else s1 - s0
        floor = None if server is None or f0 is None or f1 is None else f1 - f0
        if server is not None and floor is not None:
            server -= floor
        return {
            "worker": _per(p1 - p0 - self._excluded, events),
            "server": None if server is None else _per(server, events),
            "floor_server": None if floor is None else _per(floor, events),
        }


def _per(ns: int, events: int) -> float:
    return round(ns / events / 1e6, 2)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ceiling_orders_per_s(
    orders_per_event: float, cpu_ms: dict[str, float | None], cores: int
) -> float | None:
    """The most follower orders a second ``cores`` cores could hand over if
    the worker and the server kept every core busy with this run's work:
    ``orders_per_event * cores * 1000 / (worker + server ms per event)``.
    An upper bound, not a forecast (one leader's events run one after the
    other in one worker). ``None`` when the server's time is unknown or no
    time was counted. Worked example: 200 orders an event, 30 + 20 ms,
    2 cores: 200 * 2 * 1000 / 50 = 8,000."""
    worker, server = cpu_ms["worker"], cpu_ms["server"]
    if server is None or worker is None or worker + server <= 0:
        return None
    return round(orders_per_event * cores * 1000 / (worker + server), 1)
