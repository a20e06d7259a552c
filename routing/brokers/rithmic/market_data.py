"""Rithmic market data: the last trade of each watched contract.

Prices are not per account, so one connection serves the whole adapter:
the ticker plant (R|Protocol infra type TICKER_PLANT) of the first
connected login, by login id, on a socket of its own (a market data
outage never takes an order login down, and an order login's reconnect
does not drop the prices). Each watched contract is subscribed once to
its last trades (RequestMarketDataUpdate 100, ``update_bits`` LAST_TRADE,
answered by 101); Rithmic then pushes LastTrade (150) messages, the
first a snapshot of the last trade so far. A contract no longer watched
is unsubscribed and its price forgotten.

Crash-only like the order logins: a lost ticker socket forgets every
price (a stale price must not read as current), and the next connection,
on the same or another connected login, subscribes every watched contract
again. A login whose ticker login Rithmic refuses (no market data
permission) is skipped until that login changes. Each subscription request
spends the login's request budget at ``Priority.QUERY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from async_rithmic import RithmicClient
from async_rithmic.enums import DataType, LastTradePresenceBits, SysInfraType

from routing.brokers.logins import ConnectionState, LoginConfig
from routing.brokers.rithmic.book import price
from routing.brokers.rithmic.sdk import LoginRefused, build_client
from routing.brokers.rithmic.session import WATCH_SECONDS, RithmicSession
from routing.brokers.rithmic.symbols import to_rithmic
from routing.engine.symbols import SymbolError, parse_contract

logger = logging.getLogger(__name__)

LAST_TRADE_BIT = int(LastTradePresenceBits.LAST_TRADE)


class RithmicMarketData:
    """The adapter's market data connection.

    ``sessions()`` lists the adapter's current login sessions;
    ``spend(session)`` spends one request of that login's budget
    (``Priority.QUERY``). The other arguments are the adapter's (see
    :class:`~routing.brokers.rithmic.adapter.RithmicAdapter`).
    """

    def __init__(
        self,
        *,
        sessions: Callable[[], Sequence[RithmicSession]],
        spend: Callable[[RithmicSession], Awaitable[bool]],
        app_name: str,
        app_version: str,
        ca_file: str | None,
        request_timeout: float,
        reconnect_delays: Sequence[float],
    ) -> None:
        self._sessions = sessions
        self._spend = spend
        self._app = (app_name, app_version)
        self._ca_file = ca_file
        self._timeout = request_timeout
        self._delays = tuple(reconnect_delays) or (1.0,)
        # Engine code -> (Rithmic symbol, exchange), and back.
        self._wanted: dict[str, tuple[str, str]] = {}
        self._codes: dict[tuple[str, str], str] = {}
        self._subscribed: set[str] = set()
        self._refused: set[str] = set()  # refused on this connection: not asked again
        self._logged: set[str] = set()  # contracts already logged as unknown or refused
        self._prices: dict[str, tuple[Decimal, datetime]] = {}
        self._skipped: dict[int, LoginConfig] = {}  # ticker login refused for this config
        self._client: RithmicClient | None = None
        self._session: RithmicSession | None = None
        self._changed = asyncio.Event()  # the watched set changed, or a new connection
        self._task: asyncio.Task[None] | None = None

    @property
    def login_id(self) -> int | None:
        """The login whose ticker plant is connected now, if any."""
        if self._client is None or self._session is None:
            return None
        return self._session.config.login_id

    # -- the adapter's interface -------------------------------------------------------

    async def watch(self, symbols: Collection[str]) -> None:
        """Watch exactly ``symbols`` (engine contract codes) from now on.

        Starts the connection on first use. A code that cannot be read or
        whose product Rithmic does not list is logged once and never
        subscribed. Never waits on the network (the risk pass calling it
        must not stall): the connection's task sends the subscription
        changes, at once when connected, else on connecting; a request that
        fails is logged and retried. A contract no longer given is
        forgotten at once. Never raises for a symbol or a connection problem.
        """
        wanted: dict[str, tuple[str, str]] = {}
        for text in symbols:
            try:
                code = parse_contract(text).code
                wanted[code] = to_rithmic(code)
            except SymbolError as exc:
                self._log_once(text, f"Rithmic market data: {exc}; its price stays unknown")
        self._wanted = wanted
        self._codes = {pair: code for code, pair in wanted.items()}
        for code in list(self._prices):
            if code not in wanted:
                del self._prices[code]
        self._changed.set()
        if self._task is None and wanted:
            self._task = asyncio.create_task(self._run(), name="rithmic-market-data")

    def last(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """The last trade of ``symbol``: (price in points, aware UTC time),
        or ``None`` (not watched, no trade yet, unreadable code, down)."""
        try:
            code = parse_contract(symbol).code
        except SymbolError:
            return None
        return self._prices.get(code)

    async def stop(self) -> None:
        """Close the connection and forget every price; idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._teardown()

    # -- connection --------------------------------------------------------------------

    def _pick(self) -> RithmicSession | None:
        for session in self._sessions():
            skipped = self._skipped.get(session.config.login_id)
            if session.is_up and (skipped is None or skipped != session.config):
                return session
        return None

    async def _run(self) -> None:
        failures = 0
        while True:
            session = self._pick()
            if session is None:
                await asyncio.sleep(self._delays[0])
                continue
            try:
                await self._connect(session)
            except LoginRefused as exc:
                self._skipped[session.config.login_id] = session.config
                logger.warning(
                    "Rithmic market data: login %s refused on the ticker plant (%s); "
                    "trying another login",
                    session.config.login_id,
                    exc,
                )
                await self._teardown()
                continue
            except Exception as exc:
                await self._teardown()
                failures += 1
                logger.warning(
                    "Rithmic market data: cannot connect login %s (%s: %s); retry %d",
                    session.config.login_id,
                    type(exc).__name__,
                    str(exc)[:120],
                    failures,
                )
                await asyncio.sleep(self._delays[min(failures, len(self._delays)) - 1])
                continue
            failures = 0
            try:
                await self._serve(session)
                logger.warning("Rithmic market data: connection lost; reconnecting")
            except Exception:
                # Crash-only: whatever broke, start again on a fresh connection.
                logger.exception("Rithmic market data: connection failed; reconnecting")
            await self._teardown()
            await asyncio.sleep(self._delays[0])

    async def _connect(self, session: RithmicSession) -> None:
        config = session.config
        client = build_client(
            login_id=config.login_id,
            user=config.credentials["username"],
            password=config.credentials["password"],
            system_name=config.credentials["system"],
            url=config.endpoint or config.credentials.get("gateway") or "",
            app_name=self._app[0],
            app_version=self._app[1],
            ca_file=self._ca_file,
            request_timeout=self._timeout,
        )
        client.on_tick += self._on_tick
        self._client = client
        await asyncio.wait_for(
            client.connect(plants=[SysInfraType.TICKER_PLANT], plant_connect_delay=0),
            timeout=self._timeout * 3,
        )
        self._session = session
        self._subscribed.clear()
        self._refused.clear()
        self._changed.set()  # subscribe everything watched on this connection

    async def _serve(self, session: RithmicSession) -> None:
        """Keep the subscriptions on the watched set; return when the
        ticker socket closes, or its login is stopped, replaced or refused
        (its credentials are then no longer wanted)."""
        assert self._client is not None
        plant = self._client.plants["ticker"]

        def current() -> bool:
            return (
                any(s is session for s in self._sessions())
                and session.state.state is not ConnectionState.FAILED
            )

        # The SDK signals a closed socket on no public event: poll its state.
        while plant.is_connected and current():
            if self._changed.is_set():
                self._changed.clear()
                if not await self._sync():
                    self._changed.set()
                    await asyncio.sleep(self._delays[0])
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), WATCH_SECONDS)

    async def _teardown(self) -> None:
        client, self._client, self._session = self._client, None, None
        self._subscribed.clear()
        self._prices.clear()
        if client is None:
            return
        with contextlib.suppress(Exception):
            await client.disconnect(timeout=2.0)
        for plant in client.plants.values():
            with contextlib.suppress(Exception):
                await plant._stop_background_tasks()

    # -- subscriptions -----------------------------------------------------------------

    async def _sync(self) -> bool:
        """Bring the subscriptions to the watched set (one request each).
        False when a request failed (not sent or not answered: left as it
        was, to be tried again)."""
        client, session = self._client, self._session
        if client is None or session is None:
            return True
        plant = client.plants["ticker"]
        changes = [(code, False) for code in sorted(self._subscribed - self._wanted.keys())]
        changes += [
            (code, True) for code in sorted(self._wanted.keys() - self._subscribed - self._refused)
        ]
        for code, subscribe in changes:
            symbol, exchange = to_rithmic(code)
            await self._spend(session)
            try:
                refusal = await asyncio.wait_for(
                    plant.last_trades(symbol, exchange, subscribe=subscribe, wait=self._timeout),
                    timeout=self._timeout * 2,
                )
            except Exception as exc:
                logger.warning(
                    "Rithmic market data: %s %s failed (%s: %s)",
                    "subscribing to" if subscribe else "unsubscribing from",
                    code,
                    type(exc).__name__,
                    str(exc)[:120],
                )
                return False
            if not subscribe:
                self._subscribed.discard(code)
            elif refusal is None:
                self._subscribed.add(code)
            else:
                self._refused.add(code)
                self._log_once(
                    code,
                    f"Rithmic market data: {code} ({symbol} on {exchange}) refused by "
                    f"Rithmic: {refusal}; its price stays unknown",
                )
        return True

    def _on_tick(self, data: dict[str, Any]) -> None:
        """One LastTrade (the SDK's ``on_tick`` dict: proto field names,
        ``datetime`` from ``ssboe``/``usecs``). A trade older than the price
        held is ignored (a snapshot after a live print)."""
        if data.get("data_type") != DataType.LAST_TRADE:
            return
        code = self._codes.get((data.get("symbol", ""), data.get("exchange", "")))
        # Wanted, not only subscribed: the snapshot can come before the
        # subscription's answer is taken in.
        if code is None or code not in self._wanted:
            return
        if int(data.get("presence_bits", 0)) & LAST_TRADE_BIT and "trade_price" in data:
            if not data.get("ssboe"):
                self._log_once(f"time:{code}", f"Rithmic market data: {code} trade without a time")
                return
            at = data["datetime"].astimezone(UTC)
            held = self._prices.get(code)
            if held is None or at >= held[1]:
                self._prices[code] = (price(data["trade_price"]), at)
        elif int(data.get("clear_bits", 0)) & LAST_TRADE_BIT:
            self._prices.pop(code, None)

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.warning(message)
