"""The Interactive Brokers adapter: TWS / IB Gateway API through ib_async.

Each login (:class:`~routing.brokers.logins.LoginConfig`, credentials
``{"host", "port", "client_id"}``) is one API connection
(:class:`~routing.brokers.ib.session.IBLogin`) serving the IB accounts
given in ``accounts`` (financial-advisor and multi-account logins carry
many). Orders carry the client order id in ``orderRef`` and the account
code in ``account``; they are found again by ``orderRef`` in the gateway's
open orders, completed orders and executions (TWS API "Order" reference:
``orderRef`` is kept with the order), so nothing is ever resent blind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

from ib_async import Fill, Future, Trade

from routing.brokers.base import OrderRequest, OrderResult, PositionSnapshot
from routing.brokers.budget import Priority, RequestBudget, Unlimited
from routing.brokers.errors import BrokerError, BrokerFatal
from routing.brokers.ib.contracts import IBContractError, engine_code, ib_contract, multiplier_of
from routing.brokers.ib.market_data import IBMarketData
from routing.brokers.ib.orders import OrderOps
from routing.brokers.ib.session import RECONNECT_DELAYS, IBLogin
from routing.brokers.ib.translate import decimal_of, leader_fill, order_result, realized_of
from routing.brokers.logins import LOGIN_ADAPTER_CAPABILITIES, LoginAdapter, LoginConfig, LoginState
from routing.engine.types import LeaderFill, LeaderOrder, OrderType, Side

logger = logging.getLogger(__name__)

_END = object()


class IBAdapter(OrderOps, LoginAdapter):
    """Interactive Brokers through TWS / IB Gateway API connections.

    ``IBAdapter(logins, *, budgets=None, reconnect_delays=RECONNECT_DELAYS,
    timeout=4.0, fill_wait=2.0, delayed_market_data=True)``: ``logins`` the
    IB logins to serve;
    ``budgets(login_id)`` each login's request budget (default
    :class:`~routing.brokers.budget.Unlimited`; IB paces at 50 messages per
    second per connection, TWS API "Message Pacing"); ``timeout`` seconds
    for a connection attempt and for the gateway's answer to one request;
    ``fill_wait`` seconds a market order waits for its executions before
    ``place_order`` returns it WORKING (the rest arrives on
    :meth:`order_updates`); ``delayed_market_data`` whether contracts without
    a real-time market data subscription are marked at IB's delayed data
    (:mod:`routing.brokers.ib.market_data`).

    The engine worker builds one per process from the IB logins it serves::

        IBAdapter(
            [LoginConfig(login_id=login.pk, platform="ib", environment=...,
                         credentials={"host": ..., "port": ..., "client_id": ...},
                         accounts=(account.external_id, ...))],
            budgets=lambda login_id: <that login's RequestBudget>,
        )

    registers it as ``AdapterRegistry({..., "ib": adapter})``, calls
    ``set_logins`` when logins change, and checks ``account_connected``
    before sending for an account (``login_states`` for the accounts page).
    ``LoginConfig.endpoint`` (``"host:port"``) overrides the credentials'
    address.

    Live executions reach an API client for its own orders; a leader whose
    trades are placed elsewhere (TWS, another app) needs its login to use
    the gateway's Master API client id (TWS API "Master Client ID") so its
    fills stream here. Bracket entries are not supported (REJECTED).
    """

    platform: ClassVar[str] = "ib"
    capabilities: ClassVar[Mapping[str, bool]] = LOGIN_ADAPTER_CAPABILITIES

    def __init__(
        self,
        logins: Sequence[LoginConfig] = (),
        *,
        budgets: Callable[[int], RequestBudget] | None = None,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
        timeout: float = 4.0,
        fill_wait: float = 2.0,
        delayed_market_data: bool = True,
    ) -> None:
        self._configs: dict[int, LoginConfig] = {c.login_id: c for c in logins}
        self._budgets = budgets or (lambda login_id: Unlimited())
        self._delays = tuple(reconnect_delays)
        self._timeout = timeout
        self._fill_wait = fill_wait
        self._logins: dict[int, IBLogin] = {}
        self._started = False
        # Created by the first order_updates() call: nothing is kept for a
        # stream nobody reads, so an adapter without a consumer does not grow.
        self._updates: asyncio.Queue[object] | None = None
        self._pushed: dict[str, OrderResult] = {}
        self._leaders: dict[str, asyncio.Queue[object]] = {}
        self._refused: dict[tuple[str, str], OrderResult] = {}
        self._key_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._market = IBMarketData(
            lambda: self._logins.values(), timeout=timeout, delayed=delayed_market_data
        )

    # -- logins --

    @property
    def connected(self) -> bool:
        """True from :meth:`connect` to :meth:`disconnect`.

        Each login reconnects by itself with backoff; which logins and
        accounts are up is in :meth:`login_states` and
        :meth:`account_connected`. One IB Gateway down must not count as the
        whole platform down (the worker locks every route on a platform it
        finds disconnected), and requests for its accounts already fail
        closed with ``BrokerTemporaryError``.
        """
        return self._started

    async def connect(self) -> None:
        """Start every login's connection and wait (up to ``timeout``) for
        each to come up. A login that cannot connect does not raise: its
        state says why and it keeps retrying (unless FAILED). Returns at
        once when already started."""
        if self._started:
            return
        self._started = True
        await self.set_logins(list(self._configs.values()))
        await asyncio.gather(*(s.wait_connected(self._timeout) for s in self._logins.values()))

    async def disconnect(self) -> None:
        """Close every connection and end the streams. Idempotent."""
        self._started = False
        await self._market.close()
        logins, self._logins = list(self._logins.values()), {}
        for login in logins:
            await login.stop()
        if self._updates is not None:
            self._updates.put_nowait(_END)
            self._updates = None
        self._pushed.clear()
        for queue in self._leaders.values():
            queue.put_nowait(_END)

    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        """Serve exactly ``logins``: new ones start connecting, dropped ones
        close, a changed one (credentials, accounts, endpoint) reconnects."""
        self._configs = {c.login_id: c for c in logins}
        for login_id in list(self._logins):
            login = self._logins[login_id]
            config = self._configs.get(login_id)
            if config is None or not _same(config, login.config):
                del self._logins[login_id]
                await login.stop()
        if not self._started:
            return
        for login_id, config in self._configs.items():
            if login_id not in self._logins:
                login = IBLogin(
                    config,
                    budget=self._budgets(login_id),
                    on_connected=self._login_connected,
                    on_trade=self._trade_changed,
                    on_fill=self._fill_arrived,
                    delays=self._delays,
                    timeout=self._timeout,
                )
                self._logins[login_id] = login
                login.start()

    def login_states(self) -> list[LoginState]:
        return [self._logins[i].login_state() for i in sorted(self._logins)]

    def account_connected(self, account: str) -> bool:
        login = self._holder(account)
        return login is not None and login.is_connected and account in login.managed

    def _holder(self, account: str) -> IBLogin | None:
        for login in self._logins.values():
            if account in login.config.accounts:
                return login
        return None

    def _login_for(self, account: str) -> IBLogin:
        login = self._holder(account)
        if login is None:
            raise BrokerFatal(f"no IB login holds account {account!r}")
        return login

    # -- streams --

    def _login_connected(self, login: IBLogin) -> None:
        """After a (re)connect: push what changed while the connection was
        down, and re-deliver the session's executions to leader streams."""
        assert login.ib is not None
        for trade in login.ib.wrapper.trades.values():
            self._trade_changed(trade)
        for fill in login.ib.fills():
            self._fill_arrived(fill)
        self._market.login_connected(login)

    def _trade_changed(self, trade: Trade) -> None:
        cid = trade.order.orderRef
        login = self._holder(trade.order.account)
        if not cid or not self._started or login is None:
            return  # not an order of an account this adapter acts for
        key = (trade.order.account, cid)
        cancel = key in login.cancel_requested
        try:
            result = order_result(trade, cancel_requested=cancel)
        except IBContractError as exc:
            if self._updates is not None:
                self._updates.put_nowait(BrokerFatal(str(exc)))
            return
        if self._updates is not None and self._pushed.get(cid) != result:
            self._pushed[cid] = result
            self._updates.put_nowait(result)

    def _fill_arrived(self, fill: Fill) -> None:
        queue = self._leaders.get(fill.execution.acctNumber)
        if queue is None:
            return
        try:
            queue.put_nowait(leader_fill(fill))
        except IBContractError as exc:
            queue.put_nowait(BrokerFatal(str(exc)))

    def order_updates(self) -> AsyncIterator[OrderResult]:
        """Every change to an order carrying an ``orderRef`` on any login,
        as its full result; after a reconnect, each order the gateway lists
        whose result changed meanwhile. Buffered from this call on (nothing
        before the first call); ends at ``disconnect``; an execution of an
        unknown contract raises ``BrokerFatal`` when iterated. One consumer."""
        if self._updates is None:
            self._updates = asyncio.Queue()
        return self._update_stream(self._updates)

    async def _update_stream(self, queue: asyncio.Queue[object]) -> AsyncIterator[OrderResult]:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BrokerError):
                raise item
            assert isinstance(item, OrderResult)
            yield item

    async def leader_events(self, account: str) -> AsyncIterator[LeaderFill | LeaderOrder]:
        """``account``'s executions as :class:`LeaderFill` (``event_id`` =
        IB ``execId``), starting with the session's executions so far; after
        a reconnect the session's executions are delivered again (consumers
        de-duplicate on ``event_id``). Raises ``BrokerFatal`` for an account
        no login holds or an execution of an unknown contract."""
        login = self._login_for(account)
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._leaders[account] = queue
        if login.ib is not None:
            for fill in login.ib.fills():
                if fill.execution.acctNumber == account:
                    self._fill_arrived(fill)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BrokerError):
                    raise item
                assert isinstance(item, LeaderFill)
                yield item
        finally:
            if self._leaders.get(account) is queue:
                del self._leaders[account]

    # -- market data --

    async def watch_prices(self, symbols: Collection[str]) -> None:
        """Stream the last trades of exactly ``symbols`` (engine codes) on one
        connected login; others are cancelled. Never raises for a symbol
        (see :class:`~routing.brokers.ib.market_data.IBMarketData`)."""
        await self._market.watch(symbols)

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """``symbol``'s last traded price (points) and aware UTC arrival
        time, or ``None`` when not watched, not traded yet or disconnected."""
        return self._market.last(symbol)

    # -- positions and flatten --

    async def positions(self, account: str) -> list[PositionSnapshot]:
        """The gateway's futures positions of ``account`` (fresh request),
        plus flat contracts traded this session. ``avg_price`` is IB's
        ``avgCost`` / multiplier (IB reports cost per contract in dollars);
        ``realized_pnl`` the sum of the session's commission reports'
        ``realizedPNL``; no mark (``unrealized_pnl`` 0, unknown). Positions
        in other instruments than known futures are left out (logged)."""
        login = self._login_for(account)
        rows = await login.positions()
        ib = login.require()
        realized: dict[str, Decimal] = {}
        for fill in ib.fills():
            if fill.execution.acctNumber == account:
                with _skip_unknown(fill.contract.localSymbol):
                    symbol = engine_code(fill.contract)
                    realized[symbol] = realized.get(symbol, Decimal(0)) + realized_of(fill)
        held: dict[str, tuple[int, Decimal]] = {}
        for row in rows:
            if row.account != account or not row.position:
                continue
            with _skip_unknown(row.contract.localSymbol):
                symbol = engine_code(row.contract)
                avg = decimal_of(row.avgCost) / multiplier_of(row.contract)
                held[symbol] = (int(row.position), avg)
        return [
            PositionSnapshot(
                account=account,
                symbol=symbol,
                qty=held.get(symbol, (0, Decimal(0)))[0],
                avg_price=held.get(symbol, (0, Decimal(0)))[1],
                realized_pnl=realized.get(symbol, Decimal(0)),
                unrealized_pnl=Decimal(0),
                mark=None,
            )
            for symbol in sorted(set(held) | set(realized))
        ]

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        """Cancel ``account``'s working orders (in ``symbol``), then close each
        open position at market with client order id ``ib-flatten-<hex>``."""
        login = self._login_for(account)
        ib = login.require()
        for trade in list(ib.wrapper.trades.values()):
            if trade.order.account != account or trade.isDone() or not trade.order.orderId:
                continue
            if symbol is not None:
                try:
                    if engine_code(trade.contract) != symbol:
                        continue
                except IBContractError:
                    continue  # not the contract asked for
            await self._cancel_trade(login, trade, Priority.FLATTEN)
        results = []
        for position in await self.positions(account):
            if position.qty == 0 or (symbol is not None and position.symbol != symbol):
                continue
            close = OrderRequest(
                account=account,
                client_order_id=f"ib-flatten-{uuid.uuid4().hex[:16]}",
                symbol=position.symbol,
                side=Side.SELL if position.qty > 0 else Side.BUY,
                qty=abs(position.qty),
                order_type=OrderType.MARKET,
                time=time or datetime.now(UTC),
            )
            results.append(await self._place(close, Priority.FLATTEN))
        return results

    def _contract_for(self, order: OrderRequest) -> Future:
        """The IB contract of ``order``'s symbol, its year read from the
        order's time (now when it has none). Raises ``IBContractError``."""
        return ib_contract(order.symbol, order.time or datetime.now(UTC))


def _same(a: LoginConfig, b: LoginConfig) -> bool:
    return (a.credentials, a.accounts, a.endpoint, a.environment) == (
        b.credentials,
        b.accounts,
        b.endpoint,
        b.environment,
    )


class _skip_unknown:
    """Leave out (and log) a contract this adapter cannot name."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if isinstance(exc, IBContractError):
            logger.warning("IB contract %r left out: %s", self._what, exc)
            return True
        return False
