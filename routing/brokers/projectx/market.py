"""ProjectX market data: the last traded price of each watched contract.

Prices come from the Gateway's market hub (SignalR, ``<endpoint>/hubs/market``;
TopstepX ``https://rtc.topstepx.com/hubs/market``): the hub method
``SubscribeContractTrades(contractId)`` (``UnsubscribeContractTrades`` to
stop) makes the Gateway push ``GatewayTrade`` invocations whose arguments are
``[contractId, [trade, ...]]``, each trade ``{"symbolId", "price",
"timestamp", "type", "volume"}`` (ProjectX Gateway API docs, "Real Time Data
Overview"; project-x-py ``realtime.subscriptions.subscribe_market_data`` and
``realtime_data_manager.validation._parse_and_validate_trade_payload``).

Prices are not per account, so one market hub connection serves the whole
adapter, opened with the token of any connected login, on pysignalr like
the user hub (:mod:`~routing.brokers.projectx.session`). Each subscription
call spends one request of that login's budget at ``Priority.QUERY``.
pysignalr reconnects a dropped hub at once; every (re)open subscribes every
watched contract again. When pysignalr gives up, or the carrying login is
no longer connected, the next :meth:`MarketFeed.watch` opens the hub again
on a connected login (after a failed run, not before a backoff of
:data:`~routing.brokers.projectx.session.BACKOFF_FIRST` doubling to
``BACKOFF_MAX`` seconds). While the hub is down every price is unknown.

Symbols no longer watched are unsubscribed and their price forgotten (a
price nobody refreshes would go stale). A symbol with no ProjectX contract
id is logged once and never raises; its price stays unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pysignalr.client import SignalRClient
from websockets.exceptions import ConnectionClosed

from routing.brokers.budget import Priority
from routing.brokers.projectx import wire
from routing.brokers.projectx.session import BACKOFF_FIRST, BACKOFF_MAX, LoginSession, redact
from routing.brokers.projectx.symbols import ProjectXSymbolError, contract_id

logger = logging.getLogger(__name__)


class MarketFeed:
    """The adapter's market hub connection and last prices.

    ``sessions()`` gives the adapter's login sessions; the hub rides on the
    first connected one. Prices are ``(points as Decimal, aware UTC time of
    the trade)`` per engine contract code (``"MNQH6"``).
    """

    def __init__(self, sessions: Callable[[], Iterable[LoginSession]]) -> None:
        self._sessions = sessions
        self._wanted: dict[str, str] = {}  # engine code -> Gateway contract id
        self._symbol_of: dict[str, str] = {}  # Gateway contract id -> engine code
        self._prices: dict[str, tuple[Decimal, datetime]] = {}
        self._unknown: set[str] = set()  # symbols already logged as unknown
        self._garbled: set[str] = set()  # symbols whose unreadable trade was logged
        self._subscribed: set[str] = set()  # contract ids on the open connection
        self._session: LoginSession | None = None
        self._hub: SignalRClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._open = False
        self._lock = asyncio.Lock()
        self._failures = 0  # runs in a row that ended without opening
        self._retry_at = 0.0  # event loop time before which no new run starts
        self.opens = 0  # how many times the hub opened (reconnects included)

    # -- what the adapter calls ---------------------------------------------------

    async def watch(self, symbols: Collection[str]) -> None:
        """Watch exactly ``symbols`` (engine codes) from now on. Never raises
        for an unknown symbol; a failed subscription is logged and retried on
        the next call or the next reconnect."""
        today = datetime.now(UTC).date()
        wanted: dict[str, str] = {}
        for symbol in symbols:
            try:
                wanted[symbol] = contract_id(symbol, today=today)
            except ProjectXSymbolError as exc:
                if symbol not in self._unknown:
                    self._unknown.add(symbol)
                    logger.warning("ProjectX market data: %s; its price stays unknown", exc)
        async with self._lock:
            for symbol in set(self._wanted) - set(wanted):
                self._prices.pop(symbol, None)
            self._wanted = wanted
            self._symbol_of = {c: s for s, c in wanted.items()}
            self._ensure_hub()
            if self._open:
                await self._sync()

    def last(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """The last trade of ``symbol`` seen on the hub, or ``None`` (not
        watched, no trade yet, hub down)."""
        return self._prices.get(symbol) if self._open else None

    async def close(self) -> None:
        """Close the hub connection; every price becomes unknown."""
        await self._stop()
        self._wanted, self._symbol_of = {}, {}

    @property
    def subscribed(self) -> frozenset[str]:
        """The contract ids subscribed on the open connection."""
        return frozenset(self._subscribed)

    # -- the connection -------------------------------------------------------------

    def _ensure_hub(self) -> None:
        """Open the hub on a connected login unless it runs on one already."""
        running = self._task is not None and not self._task.done()
        if running and self._session is not None and self._session.connected:
            return
        if running or self._hub is not None:
            self._task_cancel()
        if not self._wanted or asyncio.get_running_loop().time() < self._retry_at:
            return
        session = next((s for s in self._sessions() if s.connected and s.token), None)
        if session is None:
            return  # no login connected: prices stay unknown until one is
        self._session = session
        token = session.token or ""
        hub = SignalRClient(
            f"{session.market_hub_url}?access_token={token}",
            access_token_factory=lambda: session.token or "",
            retry_count=3,
            retry_sleep=BACKOFF_FIRST,
        )
        hub.on("GatewayTrade", self._on_trade)
        hub.on_open(lambda: self._on_open(hub))
        hub.on_close(lambda: self._on_close(hub))
        self._hub = hub
        self._task = asyncio.create_task(self._run(hub), name="projectx-market-hub")

    async def _run(self, hub: SignalRClient) -> None:
        try:
            await hub.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pysignalr gave up (refused, retries spent)
            if self._hub is hub:
                self._failures += 1
                delay = min(BACKOFF_FIRST * 2 ** (self._failures - 1), BACKOFF_MAX)
                self._retry_at = asyncio.get_running_loop().time() + delay
            logger.warning(
                "ProjectX market hub stopped (%s); prices unknown until it reopens",
                redact(str(exc) or type(exc).__name__),
            )
        finally:
            if self._hub is hub:
                self._went_down()

    def _task_cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._hub = self._task = self._session = None
        self._went_down()

    async def _stop(self) -> None:
        task = self._task
        self._task_cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _went_down(self) -> None:
        self._open = False
        self._subscribed.clear()
        self._prices.clear()

    async def _on_open(self, hub: SignalRClient) -> None:
        if hub is not self._hub:
            return  # a connection being cancelled
        self.opens += 1
        self._failures, self._retry_at = 0, 0.0
        self._subscribed.clear()
        self._open = True
        async with self._lock:
            await self._sync()

    async def _on_close(self, hub: SignalRClient) -> None:
        if hub is self._hub:
            self._went_down()

    async def _sync(self) -> None:
        """Subscribe the watched contracts not subscribed yet, unsubscribe the
        ones no longer watched (the caller holds the lock)."""
        hub, session = self._hub, self._session
        if hub is None or session is None:
            return
        wanted = set(self._wanted.values())
        changes = [("UnsubscribeContractTrades", c) for c in sorted(self._subscribed - wanted)]
        changes += [("SubscribeContractTrades", c) for c in sorted(wanted - self._subscribed)]
        for method, contract in changes:
            await session.budget.spend(Priority.QUERY)
            if not self._open or hub is not self._hub:
                return  # the connection went down while waiting: the next open resubscribes
            try:
                await hub.send(method, [contract])  # type: ignore[list-item]
            except (RuntimeError, ConnectionClosed) as exc:
                logger.warning("ProjectX market hub %s(%s) failed: %s", method, contract, exc)
                return
            if method == "SubscribeContractTrades":
                self._subscribed.add(contract)
            else:
                self._subscribed.discard(contract)

    # -- events -------------------------------------------------------------------------

    async def _on_trade(self, arguments: Any) -> None:
        """``GatewayTrade``: ``[contractId, [trade, ...]]`` (or one trade)."""
        if not isinstance(arguments, list) or len(arguments) < 2:
            logger.error("ProjectX GatewayTrade not understood: %r", arguments)
            return
        symbol = self._symbol_of.get(str(arguments[0]))
        if symbol is None:
            return  # no longer watched
        trades = arguments[1] if isinstance(arguments[1], list) else [arguments[1]]
        for trade in trades:
            try:
                price = wire.decimal(trade["price"], "price")
                at = wire.timestamp(trade["timestamp"])
                if not price.is_finite() or price <= 0:
                    raise ValueError(f"price {price} is not a positive number")
            except (KeyError, ValueError, TypeError) as exc:
                if symbol in self._garbled:
                    continue  # logged once: a changed payload would flood the log
                self._garbled.add(symbol)
                logger.error(
                    "ProjectX GatewayTrade for %s not understood (%s): %r", symbol, exc, trade
                )
                continue
            known = self._prices.get(symbol)
            if known is None or at >= known[1]:  # a late older print never wins
                self._prices[symbol] = (price, at)
