"""The Rithmic adapter's logins, sessions, budgets and pushed streams.

:class:`RithmicConnections` holds what :class:`~routing.brokers.logins.LoginAdapter`
asks for (logins, their states, which account is up) and turns what the
SDK pushes (order notifications, PnL position updates) into the book, the
``order_updates`` stream and each leader's ``leader_events`` stream, and
serves market data (:mod:`routing.brokers.rithmic.market_data`); the
order operations are in :mod:`routing.brokers.rithmic.adapter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from routing.brokers.base import OrderResult, PositionSnapshot
from routing.brokers.budget import Priority, RequestBudget, Unlimited
from routing.brokers.errors import BrokerFatal
from routing.brokers.logins import LoginAdapter, LoginConfig, LoginState
from routing.brokers.rithmic.book import OrderBook, TrackedOrder
from routing.brokers.rithmic.market_data import RithmicMarketData
from routing.brokers.rithmic.positions import position_snapshot
from routing.brokers.rithmic.sdk import RESPONSE_ORDER_HISTORY, RESPONSE_SHOW_ORDERS
from routing.brokers.rithmic.session import RECONNECT_DELAYS, RithmicSession
from routing.engine.types import LeaderFill, LeaderOrder

_STOP = object()


def trade_dates(now: datetime) -> list[str]:
    """The ``YYYYMMDD`` dates an order placed in the last day may be filed
    under: CME trade dates roll at 17:00 Central (22:00 or 23:00 UTC), so the
    day before, the day of and the day after ``now``'s UTC date."""
    day = now.astimezone(UTC).date()
    return [(day + timedelta(days=d)).strftime("%Y%m%d") for d in (-1, 0, 1)]


class RithmicConnections(LoginAdapter):
    """Logins and pushes of the Rithmic adapter; see
    :class:`~routing.brokers.rithmic.adapter.RithmicAdapter` for the arguments."""

    def __init__(
        self,
        logins: Sequence[LoginConfig] = (),
        *,
        budgets: Callable[[int], RequestBudget] | None = None,
        app_name: str = "Copytrade",
        app_version: str = "0.1",
        ca_file: str | None = None,
        request_timeout: float = 10.0,
        fill_wait: float = 2.0,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
    ) -> None:
        self._configs: dict[int, LoginConfig] = {c.login_id: c for c in logins}
        self._budgets: dict[int, RequestBudget] = {}
        self._budget_for = budgets
        self._app = (app_name, app_version)
        self._ca_file = ca_file
        self._timeout = request_timeout
        self._fill_wait = fill_wait
        self._delays = tuple(reconnect_delays)
        self._sessions: dict[int, RithmicSession] = {}
        self._started = False
        self.book = OrderBook()
        self._updates: asyncio.Queue[Any] = asyncio.Queue()
        self._leaders: dict[str, asyncio.Queue[Any]] = {}
        self._pushed: dict[tuple[str, str], PositionSnapshot] = {}
        self._changed = asyncio.Event()
        self.market_data = RithmicMarketData(
            sessions=lambda: [self._sessions[k] for k in sorted(self._sessions)],
            spend=lambda session: self._spend(session, Priority.QUERY, None),
            app_name=app_name,
            app_version=app_version,
            ca_file=ca_file,
            request_timeout=request_timeout,
            reconnect_delays=reconnect_delays,
        )

    # -- logins ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True once started: each login then reconnects by itself, and a
        login that is down blocks only its own accounts
        (:meth:`account_connected`, :meth:`login_states`), not the platform."""
        return self._started

    async def connect(self) -> None:
        self._started = True
        await self.set_logins(list(self._configs.values()))

    async def disconnect(self) -> None:
        self._started = False
        await self.market_data.stop()
        for session in list(self._sessions.values()):
            await session.stop()
        self._sessions.clear()
        # End the streams being consumed; a later connect starts fresh ones.
        updates, self._updates = self._updates, asyncio.Queue()
        leaders, self._leaders = self._leaders, {}
        await updates.put(_STOP)
        for queue in leaders.values():
            await queue.put(_STOP)

    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        self._configs = {c.login_id: c for c in logins}
        if not self._started:
            return
        for login_id, session in list(self._sessions.items()):
            if self._configs.get(login_id) != session.config:
                await session.stop()
                del self._sessions[login_id]
        starting = []
        for login_id, config in self._configs.items():
            if login_id not in self._sessions:
                session = RithmicSession(
                    config,
                    app_name=self._app[0],
                    app_version=self._app[1],
                    ca_file=self._ca_file,
                    request_timeout=self._timeout,
                    reconnect_delays=self._delays,
                    on_notification=self._on_notification,
                    on_position=self._on_position,
                    on_connected=self._resync,
                )
                self._sessions[login_id] = session
                starting.append(session.start())
        await asyncio.gather(*starting)

    async def watch_prices(self, symbols: Collection[str]) -> None:
        """Watch the last trades of ``symbols`` (engine contract codes) on
        the ticker plant of a connected login; see
        :meth:`RithmicMarketData.watch` (never raises; symbols no longer
        given are unsubscribed and their price forgotten)."""
        if self._started:
            await self.market_data.watch(symbols)

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """The last trade of ``symbol`` (points, aware UTC) from Rithmic's
        ticker plant, or ``None`` when unknown."""
        return self.market_data.last(symbol)

    def login_states(self) -> list[LoginState]:
        states = []
        for login_id in sorted(self._sessions):
            state = self._sessions[login_id].state
            used, limit = self._budget(login_id).used()
            states.append(
                LoginState(state.login_id, state.state, state.since, state.detail, used, limit)
            )
        return states

    def account_connected(self, account: str) -> bool:
        session = self._session_or_none(account)
        return session is not None and session.is_up

    def _budget(self, login_id: int) -> RequestBudget:
        if login_id not in self._budgets:
            factory = self._budget_for
            self._budgets[login_id] = factory(login_id) if factory else Unlimited()
        return self._budgets[login_id]

    def _session_or_none(self, account: str) -> RithmicSession | None:
        for session in self._sessions.values():
            if account in session.config.accounts:
                return session
        return None

    def _session(self, account: str) -> RithmicSession:
        session = self._session_or_none(account)
        if session is None:
            raise BrokerFatal(f"no Rithmic login holds account {account!r}")
        session.require_up(account)
        if account not in session.accounts:
            raise BrokerFatal(
                f"Rithmic login {session.config.login_id} does not list account {account!r}"
            )
        return session

    async def _spend(self, session: RithmicSession, priority: Priority, key: str | None) -> bool:
        return await self._budget(session.config.login_id).spend(priority, key=key)

    # -- pushes ------------------------------------------------------------------------

    def _on_notification(self, message: Any) -> TrackedOrder | None:
        """Fold one order notification in; push what changed. Returns the
        order it concerns (``None``: not a contract Copytrade trades)."""
        order, fills = self.book.apply(message)
        if order is None:
            return self.book.find(message)
        self._updates.put_nowait(order.result())
        queue = self._leaders.get(order.account)
        if queue is not None:
            for fill in fills:
                queue.put_nowait(
                    LeaderFill(
                        event_id=fill.fill_id,
                        account=fill.account,
                        symbol=fill.symbol,
                        side=fill.side,
                        qty=fill.qty,
                        price=fill.price,
                        time=fill.time,
                        order_id=order.basket_id,
                    )
                )
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return order

    def _on_position(self, message: Any) -> None:
        snapshot = position_snapshot(message)
        if snapshot is not None:
            self._pushed[(snapshot.account, snapshot.symbol)] = snapshot

    async def _resync(self, session: RithmicSession) -> None:
        """After each login: re-read every account's orders, open and of the
        day (what changed while the socket was down comes out on the streams)."""
        for account in sorted(session.accounts & set(session.config.accounts)):
            await self._refresh(session, account, history=True)

    async def _refresh(self, session: RithmicSession, account: str, *, history: bool) -> set[str]:
        """Fold ``account``'s open orders into the book and, with ``history``,
        its orders of the trading days around now (a filled or cancelled
        order is no longer open: RequestShowOrders lists open orders only).
        Returns the client order ids of the open orders."""
        plant = session.require_up(account).plants["order"]
        await self._spend(session, Priority.QUERY, None)
        open_now = set()
        for message in await session.call(
            f"open orders of {account}",
            plant.list_orders(account_id=account),
            answer=RESPONSE_SHOW_ORDERS,
        ):
            order = self._on_notification(message)
            if order is not None:
                open_now.add(order.client_order_id)
        if history:
            for day in trade_dates(datetime.now(UTC)):
                await self._spend(session, Priority.QUERY, None)
                for message in await session.call(
                    f"orders of {account} on {day}",
                    plant.show_order_history_summary(date=day, account_id=account),
                    answer=RESPONSE_ORDER_HISTORY,
                ):
                    self._on_notification(message)
        return open_now

    async def _wait(self, done: Callable[[], bool], seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return done()
        return True

    def last_positions(self, account: str) -> list[PositionSnapshot]:
        """Positions of ``account`` as last pushed by the PnL plant, by symbol."""
        return sorted(
            (p for (a, _), p in self._pushed.items() if a == account), key=lambda p: p.symbol
        )

    # -- streams -----------------------------------------------------------------------

    async def order_updates(self) -> AsyncIterator[OrderResult]:  # type: ignore[override]
        while True:
            item = await self._updates.get()
            if item is _STOP:
                return
            yield item

    async def leader_events(  # type: ignore[override]
        self, account: str
    ) -> AsyncIterator[LeaderFill | LeaderOrder]:
        queue = self._leader_queue(account)
        while True:
            item = await queue.get()
            if item is _STOP:
                return
            yield item

    def _leader_queue(self, account: str) -> asyncio.Queue[Any]:
        """``account``'s leader event queue: fills are kept for an account
        only once its stream was asked for (follower fills are not buffered)."""
        return self._leaders.setdefault(account, asyncio.Queue())
