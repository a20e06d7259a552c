"""A local HTTP platform that enforces a broker's request limits per login.

For ``manage.py bench_ratelimits`` (:mod:`routing.runtime.bench_ratelimits`):
an aiohttp server on 127.0.0.1 that takes ``POST /order/<login>`` with a
JSON body and counts each login's requests, on arrival, in every window of
the platform's *documented* figures (:attr:`Window.documented`, never the
budget's lower ones). A request that would exceed a window is refused the
way the platform refuses it, and counted:

- ProjectX, IB: HTTP 429 (``rejections``).
- Tradovate: HTTP 429, and the login is locked (every later request 429)
  for ``lock_seconds``, as Tradovate's user-level limit does for an hour.

Tradovate penalty tickets (``inject_penalty``): the first order of each
login is answered ``200 {"p-ticket": ..., "p-time": seconds}`` and not
handled, as Tradovate answers a rate-limited endpoint. Until ``p-time`` has
passed, a request without that ticket is answered with a penalty body too
(``penalised``): those sent before the client heard of the penalty are
unavoidable, but one arriving more than ``grace`` seconds after the ticket
was issued means the client did not stop its queue (``late_requests``,
a violation). A request that carries the ticket before ``p-time`` is up gets
429 and locks the login, as a captcha demand would. After ``p-time`` the
ticket's request is accepted.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from routing.brokers.ratelimit import Window


@dataclass
class _Login:
    arrivals: list[deque[float]]
    locked_until: float = float("-inf")
    ticket: str | None = None
    ticket_issued: float = 0.0
    ticket_until: float = float("-inf")
    injected: bool = False


@dataclass
class ServerCounts:
    """What the server saw (the benchmark reports these)."""

    requests: int = 0
    accepted: int = 0
    rejections: int = 0  # HTTP 429: a limit exceeded, a lock or an early ticket
    penalties_injected: int = 0
    penalised: int = 0  # answered with a penalty body while a ticket ran
    late_requests: int = 0  # of those, arriving after the grace: violations
    max_in_window: dict[str, int] = field(default_factory=dict)  # "<limit>/<s>": most seen


class FakePlatform:
    """The fake platform for one benchmark case.

    ``windows``: the platform's windows (their ``documented`` figure and
    ``seconds`` are enforced; windows without a documented figure enforce
    ``limit``); ``tradovate``: refuse the Tradovate way (lock on 429);
    ``inject_penalty``: seconds of the penalty ticket each login's first
    order gets (``None``: none); ``grace``: see the module docstring;
    ``lock_seconds``: how long a Tradovate 429 locks the login.
    """

    def __init__(
        self,
        windows: tuple[Window, ...],
        *,
        tradovate: bool = False,
        inject_penalty: float | None = None,
        grace: float = 0.25,
        lock_seconds: float = 3600.0,
    ) -> None:
        self.windows = windows
        self.tradovate = tradovate
        self.inject_penalty = inject_penalty
        self.grace = grace
        self.lock_seconds = lock_seconds
        self.counts = ServerCounts()
        self._logins: dict[str, _Login] = {}
        self._tickets = itertools.count(1)
        self._order_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); return the base URL."""
        app = web.Application()
        app.router.add_post("/order/{login}", self._order)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _limits(self) -> list[tuple[int, float]]:
        return [(w.documented or w.limit, w.seconds) for w in self.windows]

    async def _order(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        now = time.monotonic()
        login = self._logins.setdefault(
            request.match_info["login"], _Login([deque() for _ in self.windows])
        )
        self.counts.requests += 1
        over = self._count_arrival(login, now)
        if now < login.locked_until:
            return self._reject()
        if over:
            if self.tradovate:
                login.locked_until = now + self.lock_seconds
            return self._reject()
        if self.inject_penalty is not None and not login.injected:
            login.injected = True
            self.counts.penalties_injected += 1
            return self._penalty(login, now, self.inject_penalty)
        if now < login.ticket_until:
            if body.get("p-ticket") is not None:  # repeated before p-time: captcha / lock
                login.locked_until = now + self.lock_seconds
                return self._reject()
            self.counts.penalised += 1
            if now - login.ticket_issued > self.grace:
                self.counts.late_requests += 1
            return self._penalty(login, now, login.ticket_until - now, renew=False)
        self.counts.accepted += 1
        return web.json_response({"orderId": next(self._order_ids)})

    def _count_arrival(self, login: _Login, now: float) -> bool:
        over = False
        for (limit, seconds), arrivals in zip(self._limits(), login.arrivals, strict=True):
            while arrivals and arrivals[0] <= now - seconds:
                arrivals.popleft()
            arrivals.append(now)  # refused requests count too
            label = f"{limit}/{seconds:g}s"
            seen = self.counts.max_in_window.get(label, 0)
            self.counts.max_in_window[label] = max(seen, len(arrivals))
            over = over or len(arrivals) > limit
        return over

    def _reject(self) -> web.Response:
        self.counts.rejections += 1
        return web.Response(status=429)

    def _penalty(
        self, login: _Login, now: float, seconds: float, *, renew: bool = True
    ) -> web.Response:
        if renew:
            login.ticket = f"ticket-{next(self._tickets)}"
            login.ticket_issued = now
            login.ticket_until = now + seconds
        return web.json_response({"p-ticket": login.ticket, "p-time": seconds, "p-captcha": False})
