"""``manage.py bench_ratelimits``: orders through the login budgets over real HTTP.

**What runs.** Per case, a fresh :class:`FakePlatform` on 127.0.0.1 that
counts each login's requests on arrival against the platform's documented
limits (:mod:`routing.runtime.bench_ratelimits_server`) and an aiohttp
client that sends every order through the login's budget from a
:class:`~routing.brokers.budget_book.BudgetBook` (the same objects the
adapters use), then over HTTP. A Tradovate penalty body makes the client
call :meth:`~routing.brokers.ratelimit.WindowBudget.penalise` with
``p-time`` and repeat the order with the ticket, as the adapters must.

**Cases.** For ProjectX, Tradovate and IB: ``followers`` followers on one
login and on ``followers`` logins; each of ``events`` leader events (entry,
stop modify, exit, in turn) sends one order per follower, all released at
once (the worst case: a fast leader). ``burst``: ``burst`` entries on one
ProjectX login, beyond its 200 per 60 s: the budget holds the excess until
the window rolls. ``penalty``: Tradovate, one login, each login's first
order answered with a penalty ticket: the queue stops for ``p-time``.
``control``: the ProjectX burst sent *without* a budget, to show the server
does refuse what exceeds the limit (its rejections must be > 0).

**Measured.** Per case, from the release of the orders: ``last_accepted_s``
(the last order accepted by the server), ``max_wait_s`` (longest time an
order waited on its budget), orders ``accepted`` and ``superseded``, and the
server's counts: ``rejections`` (429s) and ``late_requests`` (requests that
ignored a running penalty) must be 0 except in ``control``. ``--quick``
shortens windows longer than 10 s twenty-fold (60 s -> 3 s, the guard kept)
on both sides, so the burst waits seconds instead of a minute.
"""

from __future__ import annotations

import asyncio
import os
import platform as platform_module
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from routing.brokers.budget import Priority
from routing.brokers.budget_book import BudgetBook
from routing.brokers.ratelimit import PLATFORM_LIMITS, Window, WindowBudget
from routing.runtime.bench_ratelimits_server import FakePlatform

DEFAULT_FOLLOWERS = 20
DEFAULT_EVENTS = 3
DEFAULT_BURST = 300
QUICK_SCALE = 0.05
PROFILES = ("projectx", "tradovate", "ib")
# Leader events in turn: an entry, a stop move of the working order, an exit.
EVENT_PRIORITIES = (Priority.ENTRY, Priority.MODIFY, Priority.EXIT)
# One order to send: (login id, follower number, priority, coalescing key).
_Order = tuple[int, int, Priority, str | None]


@dataclass(frozen=True)
class BenchRatelimitsConfig:
    """One run's shape: ``followers`` per case, ``events`` leader events per
    case, ``burst`` orders of the burst case, ``quick`` (shortened windows,
    see the module docstring), ``penalty_seconds`` of the injected ticket."""

    followers: int = DEFAULT_FOLLOWERS
    events: int = DEFAULT_EVENTS
    burst: int = DEFAULT_BURST
    quick: bool = False
    penalty_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.followers < 1 or self.events < 1 or self.burst < 1:
            raise ValueError(f"bench_ratelimits: counts must be >= 1, got {self}")
        if self.penalty_seconds <= 0:
            raise ValueError(f"bench_ratelimits: penalty_seconds must be > 0, got {self}")


def scaled_limits(quick: bool) -> dict[str, tuple[Window, ...]]:
    """:data:`PLATFORM_LIMITS`, windows over 10 s shortened by
    :data:`QUICK_SCALE` when ``quick`` (short windows stay: the guard and
    real latency would dominate them)."""
    if not quick:
        return dict(PLATFORM_LIMITS)
    return {
        name: tuple(w.scaled(QUICK_SCALE) if w.seconds > 10 else w for w in windows)
        for name, windows in PLATFORM_LIMITS.items()
    }


@dataclass
class _Outcome:
    accepted: bool = False
    superseded: bool = False
    rejected: bool = False
    penalties: int = 0
    waited: float = 0.0  # seconds on the budget, all tries
    done_at: float = 0.0  # seconds after the release


async def _send(
    session: aiohttp.ClientSession,
    url: str,
    budget: WindowBudget | None,
    priority: Priority,
    key: str | None,
    order: dict[str, Any],
    start: float,
) -> _Outcome:
    outcome = _Outcome()
    ticket: str | None = None
    while True:
        asked = time.monotonic()
        if budget is not None and not await budget.spend(priority, key=key):
            outcome.superseded = True
            return outcome
        outcome.waited += time.monotonic() - asked
        async with session.post(url, json={**order, "p-ticket": ticket}) as response:
            if response.status == 429:
                outcome.rejected = True
                return outcome
            response.raise_for_status()
            body = await response.json()
        if "p-ticket" not in body:
            outcome.accepted = True
            outcome.done_at = time.monotonic() - start
            return outcome
        # Tradovate: the request was not handled; wait p-time, repeat with the ticket.
        outcome.penalties += 1
        ticket = str(body["p-ticket"])
        if budget is not None:
            budget.penalise(float(body["p-time"]))
        else:
            await asyncio.sleep(float(body["p-time"]))


async def _run_case(
    name: str,
    platform: str,
    *,
    limits: dict[str, tuple[Window, ...]],
    orders: Sequence[_Order],
    logins: int,
    followers: int,
    budgeted: bool = True,
    inject_penalty: float | None = None,
) -> dict[str, Any]:
    server = FakePlatform(
        limits[platform], tradovate=platform == "tradovate", inject_penalty=inject_penalty
    )
    url = await server.start()
    book = BudgetBook(limits)
    try:
        connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: the budget paces
        async with aiohttp.ClientSession(connector=connector) as session:
            start = time.monotonic()
            outcomes = await asyncio.gather(
                *(
                    _send(
                        session,
                        f"{url}/order/{login}",
                        book.budget(login, platform) if budgeted else None,
                        priority,
                        key,
                        {"account": f"ACC-{follower}", "clientOrderId": f"ct-{n}"},
                        start,
                    )
                    for n, (login, follower, priority, key) in enumerate(orders)
                )
            )
    finally:
        await server.stop()
    accepted = [o for o in outcomes if o.accepted]
    return {
        "case": name,
        "platform": platform,
        "budgeted": budgeted,
        "followers": followers,
        "logins": logins,
        "orders": len(orders),
        "accepted": len(accepted),
        "superseded": sum(o.superseded for o in outcomes),
        "last_accepted_s": round(max((o.done_at for o in accepted), default=0.0), 4),
        "max_wait_s": round(max((o.waited for o in outcomes), default=0.0), 4),
        "penalties_seen": sum(o.penalties for o in outcomes),
        "budget_limits": [
            {"limit": w.limit, "seconds": w.seconds, "guard": w.guard} for w in limits[platform]
        ],
        "server": asdict(server.counts),
    }


def _fan_out(followers: int, logins: int, events: int) -> list[_Order]:
    orders: list[_Order] = []
    for event in range(events):
        priority = EVENT_PRIORITIES[event % len(EVENT_PRIORITIES)]
        for follower in range(followers):
            orders.append((follower % logins + 1, follower, priority, f"f{follower}-e{event}"))
    return orders


async def run_bench(config: BenchRatelimitsConfig) -> dict[str, Any]:
    """Every case in turn; the JSON-ready result (see the module docstring)."""
    limits = scaled_limits(config.quick)
    cases: list[dict[str, Any]] = []
    n = config.followers
    for platform in PROFILES:
        for logins in (1, n):
            cases.append(
                await _run_case(
                    f"{platform}_{n}_followers_{logins}_logins",
                    platform,
                    limits=limits,
                    orders=_fan_out(n, logins, config.events),
                    logins=logins,
                    followers=n,
                )
            )
    burst: list[_Order] = [(1, i % n, Priority.ENTRY, None) for i in range(config.burst)]
    cases.append(
        await _run_case("burst", "projectx", limits=limits, orders=burst, logins=1, followers=n)
    )
    cases.append(
        await _run_case(
            "penalty",
            "tradovate",
            limits=limits,
            orders=_fan_out(n, 1, 1),
            logins=1,
            followers=n,
            inject_penalty=config.penalty_seconds,
        )
    )
    cases.append(
        await _run_case(
            "control",
            "projectx",
            limits=limits,
            orders=burst,
            logins=1,
            followers=n,
            budgeted=False,
        )
    )
    load1, load5, load15 = os.getloadavg()
    budgeted = [c for c in cases if c["budgeted"]]
    return {
        "machine": {
            "cpu_count": os.cpu_count(),
            "loadavg": [round(load1, 2), round(load5, 2), round(load15, 2)],
            "python": platform_module.python_version(),
        },
        "config": asdict(config),
        "cases": cases,
        "violations": sum(
            c["server"]["rejections"] + c["server"]["late_requests"] for c in budgeted
        ),
        "all_accepted": all(c["accepted"] + c["superseded"] == c["orders"] for c in budgeted),
    }
