"""Sliding-window request budgets per login, below each platform's limit.

:class:`WindowBudget` implements :class:`~routing.brokers.budget.RequestBudget`
for one login. It keeps a log of the requests it let go and lets a new one go
only while, in every one of its windows, the requests of the last
``seconds`` (plus a small guard for in-flight delays, :class:`Window`) and
the new one stay within ``limit``. ``limit`` is the
platform's documented figure less a safety margin (:data:`PLATFORM_LIMITS`):
the margin absorbs network jitter (two requests sent 60.0 s apart may reach
the platform 59.99 s apart) and requests this process does not see (a login
also used by the trader's own platform session).

Waiting requests are served by ``(priority, arrival)``: flatten and exits
first, entries next, modifications and queries last; a lower priority never
overtakes a higher one. The last :attr:`Window.reserve` requests of each
window are kept for FLATTEN and EXIT, so a flatten arriving just after a
burst of entries still goes at once instead of waiting for the window to
roll. A request with a ``key`` supersedes an earlier one still waiting with
the same key (that one returns ``False`` and counts nothing) and takes its
place in the queue: three stop moves of one order while the window is full
send only the last price. :meth:`WindowBudget.penalise` stops the login's
queue for a while (a Tradovate penalty ticket's ``p-time``).

The budgets run on one asyncio event loop (the engine worker's); nothing
here is thread-safe. Time comes from a :class:`Clock` so tests drive it by
hand (:class:`ManualClock`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from routing.brokers.budget import Priority


class Timer(Protocol):
    """A scheduled callback that can be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic seconds and callbacks after a delay."""

    def now(self) -> float:
        """Monotonic time in seconds (any origin)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once, ``delay`` seconds from now."""
        ...


class LoopClock:
    """The real clock: ``time.monotonic`` (asyncio's loop time) and the
    running event loop's ``call_later``."""

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


class _ManualTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told (tests, simulations).

    :meth:`advance` moves time forward and runs, in time order, every
    callback that falls due on the way; the woken coroutines then run at the
    event loop's next turns (``await asyncio.sleep(0)``).
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._due: list[tuple[float, int, _ManualTimer, Callable[[], None]]] = []

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _ManualTimer()
        heapq.heappush(self._due, (self._now + max(delay, 0.0), next(self._seq), timer, callback))
        return timer

    def next_due(self) -> float | None:
        """When the next pending callback is due (``None``: none is)."""
        while self._due and self._due[0][2].cancelled:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` (>= 0) forward, running the callbacks due."""
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        self.advance_to(self._now + seconds)

    def advance_to(self, when: float) -> None:
        """Move to ``when`` (not before now), running the callbacks due on the way."""
        if when < self._now:
            raise ValueError(f"ManualClock.advance_to: {when} is before now ({self._now})")
        while self._due and self._due[0][0] <= when:
            due, _, timer, callback = heapq.heappop(self._due)
            self._now = max(self._now, due)
            if not timer.cancelled:
                callback()
        self._now = when


@dataclass(frozen=True)
class Window:
    """One sliding window a login's requests must fit.

    ``limit`` requests (what the budget allows: the platform's ``documented``
    figure less the margin) in any ``seconds``; ``reserve`` of those only
    FLATTEN and EXIT may use. ``documented`` is the platform's own figure
    (``None`` where it publishes none); the benchmark's fake servers enforce
    it.

    ``guard`` seconds are added to the window: a request counts for
    ``seconds + guard`` after the budget let it go. The platform counts a
    request when it arrives, and requests let go together do not arrive
    together (client queue, TLS, network, a busy event loop): when a burst
    arrives 0.5 s late and the next one, let go a window later, arrives at
    once, a platform window would hold both. While the spread of those
    delays stays under ``guard``, any ``seconds`` at the platform hold at
    most ``limit`` requests. (Holding every sliding window also holds a
    fixed window or a token bucket of the same count and period.)

    Raises ``ValueError`` for a limit < 1, a window <= 0 s, a negative
    guard, a reserve that leaves entries nothing or a limit above the
    documented figure.
    """

    limit: int
    seconds: float
    documented: int | None = None
    reserve: int = 0
    guard: float = 0.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0 or self.guard < 0:
            raise ValueError(f"Window: need limit >= 1, seconds > 0, guard >= 0: {self!r}")
        if not 0 <= self.reserve < self.limit:
            raise ValueError(f"Window: reserve must be in [0, limit), got {self!r}")
        if self.documented is not None and self.documented < self.limit:
            raise ValueError(f"Window: limit above the documented figure: {self!r}")

    @property
    def span(self) -> float:
        """Seconds a request counts: the window plus the guard."""
        return self.seconds + self.guard

    def cap(self, priority: Priority) -> int:
        """Requests ``priority`` may fill the window up to."""
        return self.limit if priority <= Priority.EXIT else self.limit - self.reserve

    def scaled(self, factor: float) -> Window:
        """The same counts over ``seconds * factor`` (fast benchmark runs;
        the guard, a matter of real latency, is kept)."""
        return Window(self.limit, self.seconds * factor, self.documented, self.reserve, self.guard)


def _window(documented: int, seconds: float, *, guard: float, margin: float = 0.10) -> Window:
    # 10 % below the documented figure; a tenth of what is left is kept for exits.
    limit = int(documented * (1 - margin))
    return Window(limit, seconds, documented, reserve=max(1, limit // 10), guard=guard)


PLATFORM_LIMITS: dict[str, tuple[Window, ...]] = {
    # ProjectX Gateway (TopstepX), "Rate Limits" page of the Gateway API docs:
    # "All other Endpoints: 200 requests / 60 seconds", over it HTTP 429.
    # 180 per 60 s, 18 of them kept for exits.
    "projectx": (_window(200, 60.0, guard=2.0),),
    # Same page: "POST /api/History/retrieveBars: 50 requests / 30 seconds".
    # A second budget of the login (scope "history"), never on the order path.
    "projectx/history": (_window(50, 30.0, guard=2.0),),
    # Tradovate partner docs, "Rate Limits": authenticated user-level limit
    # 5,000 requests per rolling hour; a 429 stops the login for an hour and
    # cannot be cleared by the client; penalty tickets ("p-ticket", "p-time",
    # "p-captcha") on novel endpoints. Copier vendors report a much lower
    # per-minute threshold (80 per minute, Tradesyncer's help centre), so
    # the hour's 4,500 are also spread at most 75 per minute (4,500 / 60):
    # the hour cannot be burnt in one minute and the reported figure holds.
    "tradovate": (
        _window(5000, 3600.0, guard=5.0),
        _window(80, 60.0, guard=2.0, margin=0.0625),
    ),
    # Interactive Brokers TWS API, "Order Limitations": "the TWS API's inherent
    # limitation of 50 messages per second"; beyond it TWS/Gateway paces and
    # eventually disconnects. 45 per second, all messages (orders and
    # requests) from one client id counted together; TWS/Gateway runs on the
    # worker's host or LAN, so a 0.1 s guard covers the delays.
    "ib": (_window(50, 1.0, guard=0.1),),
    # Rithmic publishes no request rate. R|Protocol is a socket protocol like
    # IB's; half of IB's published 50/s, less the margin, gives 20 per second:
    # still a 20-account flatten within one second, and far below anything a
    # risk desk would flag as an order storm. Guard 0.2 s: a remote gateway.
    "rithmic": (Window(20, 1.0, None, reserve=2, guard=0.2),),
}


@dataclass(eq=False)
class _Waiter:
    priority: Priority
    seq: int
    cost: int
    key: str | None
    future: asyncio.Future[bool]
    entries: list[list[float]] = field(default_factory=list)  # granted: its log entries


class WindowBudget:
    """One login's request budget over sliding ``windows`` (see the module).

    ``windows``: the :class:`Window` values every request must fit (all of
    them); ``clock``: a :class:`Clock` (default :class:`LoopClock`);
    ``name``: shown in errors. Raises ``ValueError`` for no windows.
    """

    def __init__(
        self, windows: tuple[Window, ...], *, clock: Clock | None = None, name: str = ""
    ) -> None:
        if not windows:
            raise ValueError(f"WindowBudget {name!r}: at least one window is needed")
        self.windows = windows
        self.name = name
        self._clock: Clock = clock or LoopClock()
        # Per window, the granted requests' [time, cost] (lists: a refund
        # finds its own entry by identity).
        self._logs: list[deque[list[float]]] = [deque() for _ in windows]
        # (priority, arrival, push order, waiter): a superseding request shares
        # the arrival of the one it replaced; the push order keeps keys unique.
        self._queue: list[tuple[int, int, int, _Waiter]] = []
        self._by_key: dict[str, _Waiter] = {}
        self._seq = itertools.count()
        self._pushes = itertools.count()
        self._paused_until = float("-inf")
        self._timer: Timer | None = None
        self._timer_at = float("inf")

    async def spend(self, priority: Priority, *, key: str | None = None, cost: int = 1) -> bool:
        """Wait until ``cost`` requests fit every window, count them, return
        ``True``; ``False`` (nothing counted) when a later request with the
        same ``key`` superseded this one while it waited. Cancelling the
        waiting task counts nothing (a grant not yet taken is refunded).
        Raises ``ValueError`` for a cost < 1 or above what ``priority`` may
        ever spend in one window."""
        priority = Priority(priority)
        for window in self.windows:
            if cost < 1 or cost > window.cap(priority):
                raise ValueError(
                    f"budget {self.name!r}: cost {cost} cannot fit {priority.name} "
                    f"in {window.cap(priority)} per {window.seconds:g} s"
                )
        waiter = _Waiter(
            priority, next(self._seq), cost, key, asyncio.get_running_loop().create_future()
        )
        if key is not None:
            earlier = self._by_key.get(key)
            if earlier is not None and not earlier.future.done():
                # Take the superseded request's place so a storm of updates
                # to one order never starves it.
                waiter.priority = min(priority, earlier.priority)
                waiter.seq = earlier.seq
                earlier.future.set_result(False)
            self._by_key[key] = waiter
        heapq.heappush(self._queue, (waiter.priority, waiter.seq, next(self._pushes), waiter))
        self._pump()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.entries:  # granted, but the caller will never send it
                self._refund(waiter)
            raise
        finally:
            if key is not None and self._by_key.get(key) is waiter:
                del self._by_key[key]
            if self._queue:
                self._pump()

    def penalise(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now; a longer pause already set
        is kept. Adapters call it with a Tradovate penalty ticket's
        ``p-time`` (then repeat the request with the ticket), a platform's
        ``Retry-After``, or 3600 after a Tradovate 429 (the login is locked
        for an hour: sending sooner only extends the lock). Requests already
        let go are not recalled. Raises ``ValueError`` for negative seconds."""
        if seconds < 0:
            raise ValueError(f"budget {self.name!r}: penalty must be >= 0 s, got {seconds}")
        self._paused_until = max(self._paused_until, self._clock.now() + seconds)
        self._timer_at = float("inf")  # re-arm at the new time
        self._pump()

    def paused_for(self) -> float:
        """Seconds the queue stays stopped by :meth:`penalise` (0 when not)."""
        return max(0.0, self._paused_until - self._clock.now())

    def used(self) -> tuple[int, int | None]:
        """``(spent, limit)`` of the window nearest its limit (ties: the
        first, the platform's main window)."""
        self._prune(self._clock.now())
        best: tuple[int, int] | None = None
        for window, log in zip(self.windows, self._logs, strict=True):
            spent = int(sum(entry[1] for entry in log))
            if best is None or spent * best[1] > best[0] * window.limit:
                best = (spent, window.limit)
        assert best is not None  # at least one window (constructor)
        return best

    def waiting(self) -> int:
        """Requests waiting now."""
        return sum(1 for *_, w in self._queue if not w.future.done())

    # -- scheduling ------------------------------------------------------------

    def _prune(self, now: float) -> None:
        for window, log in zip(self.windows, self._logs, strict=True):
            # The same expression as the wake-up time in _wait: float rounding
            # must never keep an entry the timer considered expired.
            while log and log[0][0] + window.span <= now:
                log.popleft()

    def _wait(self, waiter: _Waiter, now: float) -> float:
        """Seconds until ``waiter`` fits every window (0: now)."""
        wait = self._paused_until - now
        for window, log in zip(self.windows, self._logs, strict=True):
            room = window.cap(waiter.priority) - waiter.cost
            spent = sum(entry[1] for entry in log)
            for entry in log:  # oldest first: the ones that expire first
                if spent <= room:
                    break
                spent -= entry[1]
                wait = max(wait, entry[0] + window.span - now)
        return wait

    def _pump(self) -> None:
        now = self._clock.now()
        self._prune(now)
        while self._queue:
            waiter = self._queue[0][3]
            if waiter.future.done():  # superseded or cancelled
                heapq.heappop(self._queue)
                continue
            wait = self._wait(waiter, now)
            if wait > 0:
                self._wake_at(now + wait)
                return
            heapq.heappop(self._queue)
            for log in self._logs:
                entry = [now, float(waiter.cost)]
                log.append(entry)
                waiter.entries.append(entry)
            waiter.future.set_result(True)

    def _wake_at(self, when: float) -> None:
        if self._timer is not None and self._timer_at <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._clock.call_later(when - self._clock.now(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self._pump()

    def _refund(self, waiter: _Waiter) -> None:
        mine = {id(entry) for entry in waiter.entries}
        for i, log in enumerate(self._logs):
            self._logs[i] = deque(entry for entry in log if id(entry) not in mine)
        waiter.entries.clear()
