"""The Tradovate adapter: many logins, each with many accounts.

Each login (:class:`~routing.brokers.logins.LoginConfig` with credentials
``{"username", "password", "app_id", "app_version", "cid", "secret"}`` and
optional ``"device_id"``) gets a REST session
(:mod:`~routing.brokers.tradovate.session`), an entity book and a
websocket runner (:mod:`~routing.brokers.tradovate.stream`). Requests go to
the login holding the request's account (its external id: the Tradovate
account name, e.g. ``"DEMO123456"``, or its numeric id as text). Orders are
in :mod:`~routing.brokers.tradovate.orders`; last traded prices for
layer-2 risk in :mod:`~routing.brokers.tradovate.market_data`.

Budgets: ``budgets(login_id)`` gives each login's
:class:`~routing.brokers.budget.RequestBudget` (default
:class:`~routing.brokers.budget.Unlimited`); every REST request spends it
first: flatten and its cancels FLATTEN, closing orders and cancels EXIT,
entries ENTRY, modifications MODIFY keyed by client order id, reads QUERY.

Building it in the engine worker (one adapter for every Tradovate login)::

    adapter = TradovateAdapter(
        engine_contract_specs(),
        [LoginConfig(login_id=login.pk, platform="tradovate",
                     environment=Environment.DEMO or LIVE, credentials=decrypted,
                     accounts=("DEMO123456", ...), endpoint=None)],
        budgets=lambda login_id: budget_of(login_id),
    )
    registry = AdapterRegistry({"paper": paper, "tradovate": adapter})

and, for a Tradovate leader, consume ``adapter.leader_events(external_id)``
into ``EngineWorker.handle_leader_event(account_id, event, source="tradovate")``
as :mod:`routing.runtime.leader_streams` does for paper leaders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from routing.brokers.base import OrderResult
from routing.brokers.budget import Priority, RequestBudget, Unlimited
from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import (
    LOGIN_ADAPTER_CAPABILITIES,
    ConnectionState,
    LoginAdapter,
    LoginConfig,
    LoginState,
)
from routing.brokers.tradovate.book import Change, EntityBook
from routing.brokers.tradovate.market_data import QuoteFeed
from routing.brokers.tradovate.orders import Login, OrdersMixin
from routing.brokers.tradovate.positions import PositionsMixin
from routing.brokers.tradovate.session import LOCKOUT_SECONDS, RENEW_MARGIN, TradovateSession
from routing.brokers.tradovate.stream import LoginRunner
from routing.engine.symbols import parse_contract
from routing.engine.types import ContractSpec, LeaderFill

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Closed:
    """Queued by ``disconnect``: ends the streams of connection ``generation``."""

    generation: int


@dataclass(slots=True)
class _Entry:
    config: LoginConfig
    login: Login
    runner: LoginRunner


class TradovateAdapter(OrdersMixin, PositionsMixin, LoginAdapter):
    """Tradovate behind :class:`~routing.brokers.logins.LoginAdapter`.

    ``specs`` maps product roots to :class:`ContractSpec`: an order in any
    other root is REJECTED (fail closed), and positions are valued with the
    spec's point value. ``ack_wait`` seconds is how long ``place_order``,
    ``modify_order`` and ``cancel_order`` wait for the sync stream to show
    the result; ``connect_timeout`` how long ``connect`` waits for the logins'
    first sync; ``reconnect_delay`` / ``reconnect_max`` the websocket backoff;
    ``silence_timeout`` how long a silent socket lives; ``lockout_seconds``
    how long a login pauses after a 429 (Tradovate's lock: an hour);
    ``request_timeout`` the REST timeout (past it the outcome is unknown and
    the order is looked up before any resend). Raises ``ValueError`` for
    non-positive waits.
    """

    platform: ClassVar[str] = "tradovate"
    capabilities: ClassVar[Mapping[str, bool]] = LOGIN_ADAPTER_CAPABILITIES

    def __init__(
        self,
        specs: Mapping[str, ContractSpec],
        logins: Sequence[LoginConfig] = (),
        *,
        budgets: Callable[[int], RequestBudget] | None = None,
        ack_wait: float = 2.0,
        connect_timeout: float = 10.0,
        request_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        reconnect_max: float = 30.0,
        silence_timeout: float = 10.0,
        lockout_seconds: float = LOCKOUT_SECONDS,
        renew_margin: timedelta = RENEW_MARGIN,
    ) -> None:
        waits = {"ack_wait": ack_wait, "connect_timeout": connect_timeout,
                 "request_timeout": request_timeout, "reconnect_delay": reconnect_delay,
                 "silence_timeout": silence_timeout}  # fmt: skip
        for name, value in waits.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value}")
        self._specs = dict(specs)
        self._budgets = budgets
        self._ack_wait = ack_wait
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._lockout_seconds = lockout_seconds
        self._renew_margin = renew_margin
        self._reconnect = (reconnect_delay, reconnect_max)
        self._silence_timeout = silence_timeout
        self._configs: dict[int, LoginConfig] = {c.login_id: c for c in logins}
        self._entries: dict[int, _Entry] = {}
        self._budget_of: dict[int, RequestBudget] = {}
        self._started = False
        self._generation = 0
        self._uncertain: set[tuple[str, str]] = set()
        self._rejections: dict[tuple[str, str], OrderResult] = {}
        self._order_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._updates: asyncio.Queue[OrderResult | _Closed] | None = None
        self._leaders: dict[str, asyncio.Queue[LeaderFill | _Closed]] = {}
        self._last_update: dict[int, OrderResult] = {}  # Tradovate order id -> last published
        self._quotes = QuoteFeed(
            self._market_data_login,
            self._contract_id,
            reconnect_delay=reconnect_delay,
            reconnect_max=reconnect_max,
            silence_timeout=silence_timeout,
        )

    # -- logins -------------------------------------------------------------------

    def _budget(self, login_id: int) -> RequestBudget:
        budget = self._budget_of.get(login_id)
        if budget is None:
            budget = self._budgets(login_id) if self._budgets is not None else Unlimited()
            self._budget_of[login_id] = budget
        return budget

    def _open(self, config: LoginConfig) -> _Entry:
        session = TradovateSession(
            config,
            self._budget(config.login_id),
            request_timeout=self._request_timeout,
            lockout_seconds=self._lockout_seconds,
            renew_margin=self._renew_margin,
        )
        login = Login(session, EntityBook())
        runner = LoginRunner(
            session,
            login.book,
            self._on_change,
            reconnect_delay=self._reconnect[0],
            reconnect_max=self._reconnect[1],
            silence_timeout=self._silence_timeout,
        )
        entry = self._entries[config.login_id] = _Entry(config, login, runner)
        runner.start()
        return entry

    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        """Serve exactly ``logins``: open new ones, close dropped ones, reopen
        changed ones (credentials, accounts, endpoint). Never raises for one
        login's failure: :meth:`login_states` says it."""
        wanted = {c.login_id: c for c in logins}
        for login_id in [i for i in self._configs if wanted.get(i) != self._configs[i]]:
            entry = self._entries.pop(login_id, None)
            if entry is not None:
                await entry.runner.stop()
        self._configs = wanted
        if self._quotes.login_id is not None and self._quotes.login_id not in self._entries:
            self._quotes.reconnect()  # its login is gone: market data from another one
        if self._started:
            opened = [self._open(c) for i, c in wanted.items() if i not in self._entries]
            await asyncio.gather(*(e.runner.wait_ready(self._connect_timeout) for e in opened))

    def login_states(self) -> list[LoginState]:
        states = []
        for login_id in sorted(self._configs):
            entry = self._entries.get(login_id)
            if entry is not None:
                states.append(entry.login.session.login_state())
            else:
                states.append(_not_started(self._configs[login_id]))
        return states

    def account_connected(self, account: str) -> bool:
        entry = self._entry_for(account)
        return entry is not None and (
            entry.login.session.refresh_state() == ConnectionState.CONNECTED
        )

    def _entry_for(self, account: str) -> _Entry | None:
        # Only the accounts a login is configured for: the same Tradovate user
        # may list more accounts, but the worker acts for these alone.
        for login_id, config in self._configs.items():
            if account in config.accounts:
                return self._entries.get(login_id)
        return None

    def _login_for(self, account: str) -> tuple[Login, int]:
        if not any(account in c.accounts for c in self._configs.values()):
            raise BrokerFatal(f"no Tradovate login holds account {account!r}")
        entry = self._entry_for(account)
        if entry is None:
            raise BrokerTemporaryError("Tradovate adapter is not connected: call connect()")
        session = entry.login.session
        account_id = session.accounts.get(account)
        if account_id is None:
            session.require_usable()  # not logged in yet: temporary; FAILED: fatal
            raise BrokerFatal(
                f"Tradovate login {entry.config.login_id} does not list account {account!r}"
            )
        return entry.login, account_id

    # -- session ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True between ``connect`` and ``disconnect``. Each login reconnects
        on its own with backoff, so a login that is down does not make the
        whole adapter "not connected" (the worker would lock every Tradovate
        route and reconnect everything each poll): its state is in
        :meth:`login_states` and :meth:`account_connected`, which the engine
        checks per follower."""
        return self._started

    async def connect(self) -> None:
        """Open every login and wait up to ``connect_timeout`` for their first
        sync. Never raises for one login (its state says why). Idempotent."""
        if not self._started:
            self._started = True
            self._generation += 1
        opened = [self._open(c) for i, c in self._configs.items() if i not in self._entries]
        await asyncio.gather(*(e.runner.wait_ready(self._connect_timeout) for e in opened))

    async def disconnect(self) -> None:
        """Close every login and end the streams. Orders at Tradovate stay."""
        if not self._started:
            return
        self._started = False
        await self._quotes.stop()
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await entry.runner.stop()
        closed = _Closed(self._generation)
        for queue in self._leaders.values():
            queue.put_nowait(closed)
        if self._updates is not None:
            self._updates.put_nowait(closed)

    # -- market data -----------------------------------------------------------------

    async def watch_prices(self, symbols: Collection[str]) -> None:
        """Keep the last trade of ``symbols`` (engine contract codes) through
        the lowest-numbered connected login (:class:`QuoteFeed`). Returns at
        once: (un)subscriptions go out in the background on that login's
        budget. Never raises for an unknown symbol (logged once)."""
        self._quotes.watch(symbols)

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """``(price points, aware UTC time)`` of ``symbol``'s last trade; ``None``
        when not watched, no trade seen yet or market data down."""
        return self._quotes.last(symbol)

    def _market_data_login(self) -> Login | None:
        for login_id in sorted(self._entries) if self._started else ():
            session = self._entries[login_id].login.session
            if session.md_token and session.refresh_state() == ConnectionState.CONNECTED:
                return self._entries[login_id].login
        return None

    # -- streams -------------------------------------------------------------------

    def watch_leader(self, account: str) -> None:
        """Buffer ``account``'s fills for :meth:`leader_events` from now on."""
        self._leaders.setdefault(account, asyncio.Queue())

    async def leader_events(self, account: str) -> AsyncGenerator[LeaderFill]:
        """Yield a :class:`LeaderFill` for every new fill on ``account`` (the
        sync stream's ``fill`` events; ``event_id`` the fill id, ``order_id``
        Tradovate's order id), until ``disconnect``. Fills present at the
        first sync are history and not yielded; fills missed during a
        reconnect come with the next snapshot. Raises ``BrokerFatal`` for an
        account no login holds, ``BrokerTemporaryError`` when not connected."""
        if not self._started:
            raise BrokerTemporaryError("Tradovate adapter is not connected: call connect()")
        if not any(account in c.accounts for c in self._configs.values()):
            raise BrokerFatal(f"no Tradovate login holds account {account!r}")
        self.watch_leader(account)
        generation = self._generation
        queue = self._leaders[account]
        while True:
            item = await queue.get()
            if isinstance(item, _Closed):
                if item.generation >= generation:
                    return
                continue
            yield item

    def order_updates(self) -> AsyncGenerator[OrderResult]:
        """Yield the new result of every change to an order this adapter knows
        the client order id of (sent here or looked up), in stream order,
        until ``disconnect``. Buffered from this call on."""
        if self._updates is None:
            self._updates = asyncio.Queue()
        return self._update_stream(self._updates, self._generation)

    async def _update_stream(
        self, queue: asyncio.Queue[OrderResult | _Closed], generation: int
    ) -> AsyncGenerator[OrderResult]:
        if not self._started:
            raise BrokerTemporaryError("Tradovate adapter is not connected: call connect()")
        while True:
            item = await queue.get()
            if isinstance(item, _Closed):
                if item.generation >= max(generation, 1):
                    return
                continue
            yield item

    async def _on_change(self, session: TradovateSession, change: Change) -> None:
        entry = self._entries.get(session.config.login_id)
        if entry is None or change.order_id is None:
            return
        login, order_id = entry.login, change.order_id
        order = login.book.orders.get(order_id)
        if order is None and change.new_fill is not None and login.book.primed:
            found = await session.call("GET", "/order/item", Priority.QUERY,
                                       params={"id": order_id})  # fmt: skip
            if isinstance(found, dict) and "accountId" in found:
                login.book.apply("order", found)
                order = login.book.orders[order_id]
        if order is None or "contractId" not in order:
            return
        account = _external_id(entry.config, session, int(order["accountId"]))
        client_id = login.book.commands.get(order_id)
        if client_id is not None and self._updates is not None:
            result = await self._result(login, account, client_id, order_id)
            # One order change arrives as several entities (command, version,
            # order, fill): publish each distinct result once.
            if self._last_update.get(order_id) != result:
                self._last_update[order_id] = result
                self._updates.put_nowait(result)
        fill = change.new_fill
        if fill is not None and login.book.primed and account in self._leaders:
            symbol = parse_contract(await self._contract_name(login, fill.contract_id)).code
            self._leaders[account].put_nowait(
                LeaderFill(
                    event_id=fill.fill_id,
                    account=account,
                    symbol=symbol,
                    side=fill.side,
                    qty=fill.qty,
                    price=fill.price,
                    time=fill.time,
                    order_id=str(fill.order_id),
                )
            )


def _external_id(config: LoginConfig, session: TradovateSession, account_id: int) -> str:
    """The external id the worker uses for ``account_id`` (as configured)."""
    for external in config.accounts:
        if session.accounts.get(external) == account_id:
            return external
    return session.account_names.get(account_id, str(account_id))


def _not_started(config: LoginConfig) -> LoginState:
    return LoginState(
        login_id=config.login_id,
        state=ConnectionState.CONNECTING,
        since=datetime.now(UTC),
        detail="not connected yet",
    )
