"""Real platforms' logins as the engine worker keeps them.

A mixin of :class:`routing.runtime.worker.EngineWorker`. Each pass it:

* brings the registry's login adapters up to date with the stored logins
  (credentials decrypted here, in the worker, and nowhere else), building a
  platform's adapter when its first login appears;
* records every login's connection state and request budget for the
  accounts page, when it changed;
* holds the accounts of a login that is not connected: their orders are
  blocked with the reason (:meth:`AdapterRegistry.unreachable`) until the
  worker has handled the reconnect. No platform documents cancel-on-
  disconnect for API users, so the worker does it itself: when a login comes
  back after being down for ``CANCEL_WORKING_AFTER_DOWN`` or longer, the
  copied orders still working on its accounts are cancelled *before*
  anything else reaches them; then the orders in doubt are recovered (queried
  by client order id, never resent blind) and positions reconciled.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from routing.brokers.base import BrokerAdapter
from routing.brokers.errors import BrokerError
from routing.brokers.logins import ConnectionState, LoginAdapter, LoginConfig, LoginState
from routing.runtime.adapters import AdapterRegistry
from routing.selectors import copy_orders_working, engine_contract_specs
from routing.services.reconnects import reconnect_journal

logger = logging.getLogger(__name__)

# Platform -> its login adapter's class, imported when a login of that
# platform is first served (so a platform's SDK is loaded only when used).
PLATFORM_ADAPTERS: dict[str, str] = {
    "projectx": "routing.brokers.projectx.adapter.ProjectXAdapter",
    "tradovate": "routing.brokers.tradovate.adapter.TradovateAdapter",
    "rithmic": "routing.brokers.rithmic.adapter.RithmicAdapter",
    "ib": "routing.brokers.ib.adapter.IBAdapter",
}


def cancel_working_after_down() -> timedelta:
    """How long a login may be down before its accounts' copied working
    orders are cancelled on reconnect (``CANCEL_WORKING_AFTER_DOWN_SECONDS``,
    default 30 s: a resting order left while the trader could see nothing of
    it may fill against a market the route no longer follows)."""
    return timedelta(seconds=float(getattr(settings, "CANCEL_WORKING_AFTER_DOWN_SECONDS", 30)))


class LoginsMixin:
    """Login adapters, their states and their reconnects for the engine
    worker, which provides the adapter ``registry``, the leaders it owns,
    ``recover`` / ``reconcile``, ``_flatten_cancel`` and ``_db``."""

    if TYPE_CHECKING:
        registry: AdapterRegistry
        owned_leaders: Collection[int] | None

        async def recover(self, *, leader_ids: Collection[int] | None = None) -> None: ...
        async def reconcile(self, *, leader_ids: Collection[int] | None = None) -> None: ...
        async def _flatten_cancel(
            self, adapter: BrokerAdapter, order_id: int, reason: str
        ) -> str: ...
        async def _db(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any: ...
        def _start_updates(self, adapter: BrokerAdapter) -> None: ...

    _logins_source: Callable[[], Sequence[LoginConfig]] | None
    _logins_record: Callable[..., None] | None
    _logins_version: Callable[[], object] | None
    _logins_seen: object
    _logins_fingerprint: object
    _logins: dict[int, LoginConfig]
    _recorded_states: list[LoginState]
    # Login id -> when the worker first saw it not connected.
    _down_since: dict[int, datetime]

    def _init_logins(
        self,
        source: Callable[[], Sequence[LoginConfig]] | None,
        record: Callable[..., None] | None,
        version: Callable[[], object] | None = None,
    ) -> None:
        """``source()`` reads the stored logins (decrypted), ``record(states=...)``
        stores their states, ``version()`` is a cheap value that changes
        whenever ``source()`` would (``None``: read the logins every pass);
        all synchronous ORM calls (run in the database thread). ``source``
        ``None``: no real platform is served (tests, the bench)."""
        self._logins_source = source
        self._logins_record = record
        self._logins_version = version
        self._logins_seen = object()
        self._logins_fingerprint = None
        self._logins = {}
        self._recorded_states = []
        self._down_since = {}

    async def refresh_logins(self) -> None:
        """Serve exactly the stored logins: build a platform's adapter for
        its first login, hand each adapter its logins (``set_logins``).
        A platform whose adapter cannot be built leaves its logins FAILED
        with the reason (recorded), never stops the other platforms."""
        if self._logins_source is None:
            return
        if self._logins_version is not None:
            # Credentials are decrypted only when something changed.
            version = await self._db(self._logins_version)
            if version == self._logins_seen:
                return
            self._logins_seen = version
        logins = await self._db(self._logins_source)
        fingerprint = tuple(sorted((login.login_id, _shape(login)) for login in logins))
        if fingerprint == self._logins_fingerprint:
            return
        by_platform: dict[str, list[LoginConfig]] = {}
        for login in logins:
            by_platform.setdefault(login.platform, []).append(login)
        for platform in sorted(set(by_platform) | set(self.registry.login_platforms())):
            served = by_platform.get(platform, [])
            adapter = self.registry.login_adapter(platform)
            if adapter is None:
                if not served:
                    continue
                adapter = await self._build_login_adapter(platform, served)
                if adapter is None:
                    continue
            await adapter.set_logins(served)
        self._logins = {login.login_id: login for login in logins}
        self._logins_fingerprint = fingerprint

    async def _build_login_adapter(
        self, platform: str, logins: Sequence[LoginConfig]
    ) -> LoginAdapter | None:
        path = PLATFORM_ADAPTERS.get(platform)
        try:
            if path is None:
                raise ImportError(f"no adapter is known for platform {platform!r}")
            adapter_class = import_string(path)
            extra: dict[str, Any] = {}
            if "specs" in inspect.signature(adapter_class).parameters:
                # Contract specs (tick sizes, point values) from the table.
                extra["specs"] = await self._db(engine_contract_specs)
            adapter = adapter_class(budgets=self.registry.budgets_of(platform), **extra)
        except (ImportError, TypeError, ValueError) as exc:
            logger.error("no %s adapter in this worker: %s", platform, exc)
            now = timezone.now()
            await self._record_states(
                [
                    LoginState(
                        login.login_id,
                        ConnectionState.FAILED,
                        now,
                        f"this engine worker cannot connect to {platform}: {exc}",
                    )
                    for login in logins
                ]
            )
            return None
        self.registry.add(adapter)
        self._start_updates(adapter)
        try:
            # Starts the adapter; each login then connects (and reconnects) by itself.
            await adapter.connect()
        except BrokerError as exc:
            # The next pass's connection check tries again (an incident if it stays down).
            logger.warning("%s adapter did not start: %s", platform, exc)
        return adapter

    async def watch_logins(self, *, now: datetime | None = None) -> None:
        """Record the logins' states; hold the accounts of a login that is
        not connected; handle each reconnect (cancel the copied working
        orders after a long down, recover, reconcile) before releasing them."""
        now = now or timezone.now()
        used = self.registry.budgets.states()
        states = [
            _with_budget(s, used.get(s.login_id))
            for a in self.registry.login_adapters()
            for s in a.login_states()
        ]
        await self._record_states(states)
        reconnected: list[tuple[LoginConfig, timedelta]] = []
        for state in states:
            login = self._logins.get(state.login_id)
            accounts = login.accounts if login is not None else ()
            platform = login.platform if login is not None else ""
            if state.state is not ConnectionState.CONNECTED:
                self._down_since.setdefault(state.login_id, min(state.since, now))
                for account in accounts:
                    self.registry.hold(platform, account, _held_reason(platform, state))
            elif state.login_id in self._down_since and login is not None:
                down_for = now - self._down_since[state.login_id]
                reconnected.append((login, down_for))
        for login, down_for in reconnected:
            await self._after_reconnect(login, down_for)
            self._down_since.pop(login.login_id, None)
            for account in login.accounts:
                self.registry.release(login.platform, account)

    async def _after_reconnect(self, login: LoginConfig, down_for: timedelta) -> None:
        adapter = self.registry.login_adapter(login.platform)
        if adapter is None:
            return
        cancelled: list[int] = []
        if down_for >= cancel_working_after_down():
            reason = (
                f"{login.platform} connection was down {down_for.total_seconds():.0f} s: "
                "copied working orders cancelled on reconnect"
            )
            for order_id in await self._db(
                copy_orders_working, platform=login.platform, accounts=list(login.accounts)
            ):
                problem = await self._flatten_cancel(adapter, order_id, reason)
                if problem:
                    logger.warning("on reconnect of login %s: %s", login.login_id, problem)
                else:
                    cancelled.append(order_id)
        await self._db(
            reconnect_journal,
            platform=login.platform,
            accounts=list(login.accounts),
            down_seconds=down_for.total_seconds(),
            cancelled=cancelled,
        )
        await self.recover(leader_ids=self.owned_leaders)
        await self.reconcile(leader_ids=self.owned_leaders)

    async def _record_states(self, states: list[LoginState]) -> None:
        if self._logins_record is None or states == self._recorded_states:
            return
        await self._db(self._logins_record, states=states)
        self._recorded_states = states


def _with_budget(state: LoginState, used: tuple[int, int | None] | None) -> LoginState:
    """``state`` with its login's budget use filled in, when the adapter
    left it out and the worker's budget book has it."""
    if state.budget_used is not None or used is None:
        return state
    return dataclasses.replace(state, budget_used=used[0], budget_limit=used[1])


def _shape(login: LoginConfig) -> tuple[object, ...]:
    """What a change of which reopens a login (credentials compared by value
    in memory only, never logged)."""
    return (
        login.platform,
        login.environment.value,
        tuple(sorted(login.credentials.items())),
        login.accounts,
        login.endpoint,
    )


def _held_reason(platform: str, state: LoginState) -> str:
    since = state.since.strftime("%Y-%m-%d %H:%M:%S UTC")
    detail = f": {state.detail}" if state.detail else ""
    return f"{platform} login {state.state.value} since {since}{detail}"


def stored_logins() -> dict[str, Callable[..., Any]]:
    """The engine worker's keyword arguments that serve the logins stored
    in the accounts app (:mod:`accounts.credentials`, :mod:`accounts.logins`):
    ``EngineWorker(**stored_logins())`` in a real deployment."""
    from accounts.credentials import login_configs, login_configs_version
    from accounts.logins import login_states_record

    return {
        "logins_source": login_configs,
        "logins_record": login_states_record,
        "logins_version": login_configs_version,
    }
