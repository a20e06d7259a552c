"""The budgets of every login an engine worker serves.

A platform counts requests per login, not per account: twenty prop-firm
accounts under one Tradovate user share that user's hourly budget. The
:class:`BudgetBook` hands every adapter of one worker the same
:class:`~routing.brokers.ratelimit.WindowBudget` per login, created on first
use from :data:`~routing.brokers.ratelimit.PLATFORM_LIMITS`, so whichever
account or adapter asks, the login's requests are counted once.
"""

from __future__ import annotations

from collections.abc import Mapping

from routing.brokers.ratelimit import PLATFORM_LIMITS, Clock, Window, WindowBudget


class BudgetBook:
    """Login id -> its :class:`WindowBudget`, made on first use.

    ``limits``: platform name -> windows (default :data:`PLATFORM_LIMITS`;
    a scoped budget of a login is named ``"<platform>/<scope>"``, e.g.
    ``"projectx/history"``); ``clock``: handed to every budget (tests pass a
    :class:`~routing.brokers.ratelimit.ManualClock`).
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[Window, ...]] = PLATFORM_LIMITS,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._budgets: dict[tuple[int, str], WindowBudget] = {}
        self._platforms: dict[int, str] = {}

    def budget(self, login_id: int, platform: str, *, scope: str = "") -> WindowBudget:
        """The budget of login ``login_id`` at ``platform`` (``"projectx"``,
        ``"tradovate"``, ``"ib"``, ``"rithmic"``), or its ``scope`` budget
        (``"history"``). The same object for every caller.

        Raises ``ValueError`` for a platform or scope with no limits, or a
        login id already used under another platform (login ids are
        ``accounts.BrokerLogin`` keys: one platform each).
        """
        name = f"{platform}/{scope}" if scope else platform
        if name not in self._limits:
            raise ValueError(
                f"login {login_id}: no request limits for {name!r} "
                f"(known: {', '.join(sorted(self._limits))})"
            )
        known = self._platforms.setdefault(login_id, platform)
        if known != platform:
            raise ValueError(f"login {login_id} is a {known!r} login, not {platform!r}")
        budget = self._budgets.get((login_id, name))
        if budget is None:
            budget = WindowBudget(self._limits[name], clock=self._clock, name=f"{login_id}:{name}")
            self._budgets[(login_id, name)] = budget
        return budget

    def discard(self, login_id: int) -> None:
        """Forget a login no longer served (its counts go with it). A login
        served again later starts from an empty window, so call this only
        once the login has been idle for its longest window, or accept that
        a re-added login may briefly overspend; removing it while requests
        wait leaves those waiters to the old budget object."""
        self._platforms.pop(login_id, None)
        for key in [k for k in self._budgets if k[0] == login_id]:
            del self._budgets[key]

    def states(self) -> dict[int, tuple[int, int | None]]:
        """For the accounts page: login id -> ``(used, limit)`` of its
        platform budget (scoped budgets are not shown), sorted by login id."""
        return {
            login_id: budget.used()
            for (login_id, name), budget in sorted(self._budgets.items())
            if "/" not in name
        }
