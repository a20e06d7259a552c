"""Tradovate market data: the last traded price of watched contracts.

Source: Tradovate API documentation, "Market Data" and its "Request
Reference": a websocket apart from the trading one (demo
``wss://md-demo.tradovateapi.com/v1/websocket``, live
``wss://md.tradovateapi.com/v1/websocket``) with the same framing
(:mod:`~routing.brokers.tradovate.protocol`), authorized with the access
token request's ``mdAccessToken``. ``md/subscribeQuote`` ``{"symbol":
"MNQH6"}`` streams ``{"e": "md", "d": {"quotes": [{"timestamp",
"contractId", "entries": {"Trade": {"price", "size"}, "Bid": ...}}]}}``;
``md/unsubscribeQuote`` takes the same body. Quotes name the contract by
id, so each symbol's id is looked up (``/contract/find``) before it is
subscribed; a symbol Tradovate does not know is logged once and its price
stays unknown.

Prices are not per account: one connected login serves every symbol. A
lost socket (or a renewed token) reconnects with doubling backoff and
subscribes the watched symbols again; while it is down every price is
unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerError
from routing.brokers.tradovate.orders import Login
from routing.brokers.tradovate.protocol import frame_request, parse_frame, parse_time, price
from routing.brokers.tradovate.stream import HEARTBEAT_SECONDS
from routing.engine.symbols import SymbolError, parse_contract

logger = logging.getLogger(__name__)

LoginPicker = Callable[[], Login | None]
ContractResolver = Callable[[Login, str], Awaitable[int | None]]


class QuoteFeed:
    """Keeps the last trade of the watched symbols from Tradovate's market data.

    ``pick`` returns the login to read market data with (a connected one
    holding an ``mdAccessToken``) or ``None`` while there is none;
    ``resolve(login, symbol)`` the contract id of ``symbol`` or ``None``
    when Tradovate has no such contract (it spends the login's budget).
    Subscriptions and unsubscriptions spend the login's budget at
    ``Priority.QUERY``. Symbols no longer watched are unsubscribed and
    their prices dropped.
    """

    def __init__(
        self,
        pick: LoginPicker,
        resolve: ContractResolver,
        *,
        reconnect_delay: float = 1.0,
        reconnect_max: float = 30.0,
        silence_timeout: float = 10.0,
    ) -> None:
        self._pick = pick
        self._resolve = resolve
        self._first_delay = reconnect_delay
        self._max_delay = reconnect_max
        self._silence = silence_timeout
        self._wanted: frozenset[str] = frozenset()
        self._changed = asyncio.Event()
        self._prices: dict[str, tuple[Decimal, datetime]] = {}
        self._subscribed: dict[str, int] = {}  # symbol -> contract id
        self._symbol_of: dict[int, str] = {}  # contract id -> symbol
        self._unknown: set[str] = set()  # refused this connection: not asked again
        self._logged: set[str] = set()  # unknown symbols already logged
        self._pending: dict[int, asyncio.Future[Mapping[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._force: asyncio.Event = asyncio.Event()
        self.login_id: int | None = None  # the login serving market data now
        self._was_up = False
        self.up = False

    # -- interface -------------------------------------------------------------------

    def watch(self, symbols: Collection[str]) -> None:
        """Watch exactly ``symbols`` (engine contract codes) from now on;
        starts the feed on first use. Never raises for a bad symbol."""
        wanted = frozenset(symbols)
        if wanted != self._wanted:
            self._wanted = wanted
            for symbol in self._unknown - wanted:
                self._unknown.discard(symbol)
            self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="tradovate-market-data")

    def last(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """``(price points, aware UTC time)`` of ``symbol``'s last trade, or
        ``None`` (not watched, no trade yet, market data down)."""
        if not self.up or symbol not in self._wanted:
            return None
        return self._prices.get(symbol)

    def reconnect(self) -> None:
        """Drop the socket and pick a login afresh (the serving login went away)."""
        self._force.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.up = False

    # -- connection ------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._first_delay
        while True:
            self._force.clear()  # a login is picked afresh now
            login = self._pick()
            if login is None:
                await asyncio.sleep(self._first_delay)
                continue
            self.login_id = login.session.config.login_id
            renewed = False
            try:
                renewed = await self._connect_and_pump(login)
                reason = "closed by Tradovate"
            except (OSError, TimeoutError, BrokerError, ValueError, KeyError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except websockets.WebSocketException as exc:
                reason = f"websocket: {exc}"
            except Exception as exc:
                # Crash-only: a bug or a malformed answer must not end market
                # data silently; it reconnects, loudly.
                logger.exception("tradovate market data failed")
                reason = f"unexpected {type(exc).__name__}: {exc}"
            finally:
                self.up = False
                self._subscribed.clear()
                self._symbol_of.clear()
                self._unknown.clear()
                for future in self._pending.values():
                    future.cancel()
                self._pending.clear()
            if self._force.is_set() or renewed:  # a new login or token: at once
                self._force.clear()
                delay = self._first_delay
                continue
            if self._was_up:  # a socket that worked starts the backoff again
                delay, self._was_up = self._first_delay, False
            logger.warning("tradovate market data down (%s); reconnecting in %.1f s", reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    async def _connect_and_pump(self, login: Login) -> bool:
        """One connection, until it fails, is forced closed or the login's md
        token is renewed (returns True then: reconnect with the new one)."""
        session = login.session
        token = session.md_token
        if token is None:
            raise BrokerError(f"Tradovate login {self.login_id} has no market-data token")
        async with connect(session.md_url, open_timeout=self._silence) as socket:
            frame = parse_frame(await self._recv(socket))
            if frame.kind != "o":
                raise ValueError(f"expected Tradovate's open frame, got {frame.kind!r}")
            reader = asyncio.create_task(self._read(socket))
            # Its own task: a subscription waiting on the budget must not
            # starve the heartbeat Tradovate expects every 2.5 s.
            beat = asyncio.create_task(self._heartbeat(socket))
            try:
                answer = await self._request(socket, "authorize", token)
                if int(answer.get("s", 0)) != 200:
                    raise BrokerError(
                        f"Tradovate refused the market-data token ({answer.get('s')})"
                    )
                self.up = self._was_up = True
                while not self._force.is_set() and session.md_token == token:
                    self._changed.clear()
                    await self._sync(socket, login)
                    waiter = asyncio.create_task(self._changed.wait())
                    forced = asyncio.create_task(self._force.wait())
                    done, _ = await asyncio.wait(
                        {reader, waiter, forced},
                        timeout=HEARTBEAT_SECONDS,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    waiter.cancel()
                    forced.cancel()
                    if reader in done:
                        reader.result()  # its error, if any, says why
                        return False
                return session.md_token != token
            finally:
                for task in (beat, reader):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _heartbeat(self, socket: ClientConnection) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await socket.send("[]")  # "WebSockets": the client's heartbeat

    async def _recv(self, socket: ClientConnection) -> str:
        async with asyncio.timeout(self._silence):
            message = await socket.recv()
        return message if isinstance(message, str) else message.decode()

    async def _read(self, socket: ClientConnection) -> None:
        try:
            while True:
                frame = parse_frame(await self._recv(socket))
                if frame.kind == "c":
                    return
                for message in frame.messages:
                    if not isinstance(message, Mapping):
                        continue
                    if "i" in message:
                        future = self._pending.pop(int(message["i"]), None)
                        if future is not None and not future.done():
                            future.set_result(message)
                    elif message.get("e") == "md":
                        self._apply(message.get("d"))
        finally:
            # A request waiting on a dead socket fails now, not at its timeout.
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("market-data websocket closed"))
            self._pending.clear()

    async def _request(
        self, socket: ClientConnection, endpoint: str, body: object
    ) -> Mapping[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await socket.send(frame_request(endpoint, request_id, body))
        async with asyncio.timeout(self._silence):
            return await future

    # -- subscriptions ---------------------------------------------------------------

    async def _sync(self, socket: ClientConnection, login: Login) -> None:
        wanted = self._wanted
        budget = login.session.budget
        for symbol in sorted(self._subscribed.keys() - wanted):
            if not await budget.spend(Priority.QUERY):
                continue
            await self._request(socket, "md/unsubscribeQuote", {"symbol": symbol})
            self._symbol_of.pop(self._subscribed.pop(symbol), None)
            self._prices.pop(symbol, None)
        for symbol in sorted(wanted - self._subscribed.keys() - self._unknown):
            contract_id = await self._contract_of(login, symbol)
            if contract_id is None or not await budget.spend(Priority.QUERY):
                continue
            # Known before asking: the current quote may follow the answer at once.
            self._symbol_of[contract_id] = symbol
            answer = await self._request(socket, "md/subscribeQuote", {"symbol": symbol})
            data = answer.get("d")
            if int(answer.get("s", 0)) != 200 or (
                isinstance(data, Mapping) and data.get("errorText")
            ):
                del self._symbol_of[contract_id]
                self._refuse(symbol, f"md/subscribeQuote answered {answer.get('s')}: {data}")
                continue
            self._subscribed[symbol] = contract_id
        for symbol in list(self._prices):
            if symbol not in wanted:
                del self._prices[symbol]

    async def _contract_of(self, login: Login, symbol: str) -> int | None:
        try:
            code = parse_contract(symbol).code
        except SymbolError as exc:
            self._refuse(symbol, str(exc))
            return None
        contract_id = await self._resolve(login, code)
        if contract_id is None:
            self._refuse(symbol, "Tradovate has no such contract")
        return contract_id

    def _refuse(self, symbol: str, why: str) -> None:
        self._unknown.add(symbol)
        if symbol not in self._logged:
            self._logged.add(symbol)
            logger.warning("tradovate market data: %r left unpriced (%s)", symbol, why)

    def _apply(self, data: object) -> None:
        quotes = data.get("quotes") if isinstance(data, Mapping) else None
        for quote in quotes or ():
            try:
                symbol = self._symbol_of.get(int(quote["contractId"]))
                trade = (quote.get("entries") or {}).get("Trade")
                if symbol is None or not isinstance(trade, Mapping) or "price" not in trade:
                    continue  # a bid/offer change only, or a contract no longer watched
                last = (price(trade["price"]), parse_time(str(quote["timestamp"])))
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                logger.error("tradovate quote unreadable (%s): %.300r", exc, quote)
                continue
            known = self._prices.get(symbol)
            if known is None or last[1] >= known[1]:  # never step back in time
                self._prices[symbol] = last
