"""Last traded prices of futures from IB market data, for layer-2 risk.

One streaming ``reqMktData`` subscription per watched contract (ib_async
``IB.reqMktData(contract, genericTickList="", snapshot=False)``), on one
connected login of the adapter (prices are not per account), after the
contract is qualified (``reqContractDetails``: ib_async keys tickers by
``conId``, and the gateway's answer tells a contract it does not know). The
price kept is the Ticker's ``last``, taken only from a LAST tick (TWS API
"Tick Types": type 4 LAST, 68 DELAYED_LAST), and the time is when that tick
reached the client (ib_async stamps each tick on arrival; aware UTC).

Delayed data: each connection asks ``reqMarketDataType(3)`` before its
first subscription (unless ``delayed`` is off, then 1). TWS API "Market
Data Types": with type 3 the gateway sends real-time data for contracts the
account is subscribed to and 15-20 minute delayed data (tick 68, market
data type 3) for the others, instead of refusing them (error 354).
A delayed price is logged (warning, once per contract) and still kept: a
position marked 15 minutes late is halted late, one never marked is never
halted. With ``delayed=False`` such a contract's price stays unknown.

Symbols no longer watched are cancelled (``cancelMktData``) and their
price forgotten. A subscription belongs to one connection: when it is
lost the price becomes unknown and the contract is subscribed again on the
next connected login (at once on reconnect, else on the next ``watch``).
Each request (``reqMarketDataType``, ``reqContractDetails``,
``reqMktData``, ``cancelMktData``) spends one request of that login's
budget at ``Priority.QUERY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import Contract, Ticker

from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.ib.contracts import IBContractError, ib_contract
from routing.brokers.ib.session import IBLogin
from routing.brokers.ib.translate import decimal_of

logger = logging.getLogger(__name__)

# TWS API "Tick Types": LAST and DELAYED_LAST (both set ib_async's Ticker.last).
LAST_TICKS = frozenset({4, 68})
DELAYED_LAST = 68
# TWS API message codes that are notices, not refusals: 10167 "Displaying
# delayed market data", 2100-2199 connection and data farm warnings.
_NOT_ERRORS = frozenset({10167, *range(2100, 2200)})
# TWS API "Market Data Types" (reqMarketDataType): 1 real-time, 3 delayed
# where the account has no real-time subscription.
REALTIME, DELAYED = 1, 3


@dataclass(eq=False)
class _Subscription:
    login: IBLogin
    generation: int
    contract: Contract
    ticker: Ticker
    handler: Callable[[Ticker], None] | None = None

    @property
    def live(self) -> bool:
        return self.login.is_connected and self.login.generation == self.generation


class IBMarketData:
    """Watched contracts' last prices over the adapter's logins.

    ``IBMarketData(logins, *, timeout=4.0, delayed=True)``: ``logins()``
    the adapter's current :class:`IBLogin` objects (the lowest login id
    connected serves new subscriptions); ``timeout`` seconds for the
    gateway's answer to a contract look-up; ``delayed`` whether contracts
    without a real-time subscription get delayed data (module docstring).
    """

    def __init__(
        self,
        logins: Callable[[], Iterable[IBLogin]],
        *,
        timeout: float = 4.0,
        delayed: bool = True,
    ) -> None:
        self._logins = logins
        self._timeout = timeout
        self._data_type = DELAYED if delayed else REALTIME
        self._wanted: frozenset[str] = frozenset()
        self._subs: dict[str, _Subscription] = {}
        self._prices: dict[str, tuple[Decimal, datetime]] = {}
        # Connections (login id, generation) that were told the data type,
        # and contracts the gateway did not know on one: not asked again there.
        self._typed: set[tuple[int, int]] = set()
        self._refused: dict[str, tuple[int, int]] = {}
        self._logged: set[tuple[str, str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._dirty = False

    async def watch(self, symbols: Collection[str]) -> None:
        """Stream exactly ``symbols`` (engine codes, ``"MNQH6"``) from now on.

        Returns at once: the requests are sent by a background task, so a
        slow gateway never holds up the risk pass that calls this. Never
        raises for a symbol: one with an unknown root or unreadable code, or
        one the gateway does not know, is logged once and its price stays
        unknown; with no login connected nothing is subscribed yet (the
        next call or reconnect does it)."""
        self._wanted = frozenset(symbols)
        self._kick()

    def last(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """``symbol``'s last traded price (points) and the aware UTC time it
        arrived, or ``None`` (not watched, no trade yet, connection lost)."""
        sub = self._subs.get(symbol)
        if sub is None or not sub.live or symbol not in self._wanted:
            return None
        return self._prices.get(symbol)

    def login_connected(self, login: IBLogin) -> None:
        """After ``login`` (re)connected: subscribe again what lost its
        subscription, without waiting for the next :meth:`watch`."""
        if self._wanted:
            self._kick()

    async def close(self) -> None:
        """Stop the background task and forget every subscription and price
        (the connections are closed by the adapter)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wanted = frozenset()
        self._subs.clear()
        self._prices.clear()
        self._typed.clear()
        self._refused.clear()

    def _kick(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sync(), name="ib-market-data")

    async def _sync(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                for symbol in sorted(set(self._subs) - self._wanted):
                    await self._cancel(symbol)
                await self._subscribe_missing()
            except Exception:  # supervisor: market data must not end on an SDK surprise
                logger.exception("IB market data: subscribing failed; retried on the next watch")

    def _source(self) -> IBLogin | None:
        connected = [login for login in self._logins() if login.is_connected]
        return min(connected, key=lambda login: login.config.login_id, default=None)

    async def _subscribe_missing(self) -> None:
        for symbol in sorted(self._wanted):
            sub = self._subs.get(symbol)
            if sub is not None and sub.live:
                continue
            if sub is not None:  # its connection is gone, and the stream with it
                del self._subs[symbol]
                self._prices.pop(symbol, None)
            login = self._source()
            if login is None:
                return
            try:
                await self._subscribe(login, symbol)
            except (TimeoutError, ConnectionError, BrokerTemporaryError) as exc:
                # Tried again on the next watch or reconnect; said once until it works.
                self._log_once(
                    symbol, "failed", "IB market data for %s not subscribed yet: %s",
                    f"{exc.__class__.__name__} on login {login.config.login_id}; retrying",
                )  # fmt: skip

    async def _subscribe(self, login: IBLogin, symbol: str) -> None:
        connection = (login.config.login_id, login.generation)
        if self._refused.get(symbol) == connection:
            return
        try:
            contract = ib_contract(symbol, datetime.now(UTC))
        except IBContractError as exc:
            self._log_once(symbol, "unknown", "IB market data for %s unavailable: %s", exc)
            return
        ib = login.require()
        if connection not in self._typed:
            await login.budget.spend(Priority.QUERY)
            ib.reqMarketDataType(self._data_type)
            self._typed.add(connection)
            ib.errorEvent += self._error
        await login.budget.spend(Priority.QUERY)
        (qualified,) = await asyncio.wait_for(ib.qualifyContractsAsync(contract), self._timeout)
        if not isinstance(qualified, Contract):
            self._refused[symbol] = connection
            self._log_once(
                symbol, "refused", "IB market data for %s unavailable: %s", "the gateway "
                "found no unique contract for it"
            )  # fmt: skip
            return
        if not login.is_connected or login.generation != connection[1]:
            raise ConnectionError("connection lost during the contract look-up")
        await login.budget.spend(Priority.QUERY)
        ticker = ib.reqMktData(qualified, "", False, False)
        sub = _Subscription(login, connection[1], qualified, ticker)
        sub.handler = lambda t: self._ticked(symbol, sub, t)
        ticker.updateEvent += sub.handler
        self._subs[symbol] = sub
        self._logged.discard((symbol, "failed"))

    def _ticked(self, symbol: str, sub: _Subscription, ticker: Ticker) -> None:
        if self._subs.get(symbol) is not sub:
            return  # a cancelled or replaced subscription
        lasts = [t for t in ticker.ticks if t.tickType in LAST_TICKS and _is_price(t.price, t.size)]
        if not lasts:
            return
        tick = lasts[-1]
        if tick.tickType == DELAYED_LAST:
            self._log_once(
                symbol, "delayed", "IB market data for %s is %s", "delayed 15-20 minutes "
                "(no real-time subscription): positions are marked late"
            )  # fmt: skip
        self._prices[symbol] = (decimal_of(tick.price), tick.time.astimezone(UTC))

    def _error(self, req_id: int, code: int, text: str, contract: Contract | None) -> None:
        """Say (once) why a subscription gets no data: e.g. 354 "Requested
        market data is not subscribed" (TWS API message codes)."""
        if contract is None or code in _NOT_ERRORS:
            return
        for symbol, sub in self._subs.items():
            if sub.contract is contract:
                self._log_once(symbol, f"error {code}", "IB market data for %s refused: %s",
                               f"error {code}: {text}")  # fmt: skip

    async def _cancel(self, symbol: str) -> None:
        sub = self._subs.pop(symbol)
        self._prices.pop(symbol, None)
        sub.ticker.updateEvent -= sub.handler
        if sub.live and sub.login.ib is not None:
            await sub.login.budget.spend(Priority.QUERY)
            sub.login.ib.cancelMktData(sub.contract)

    def _log_once(self, symbol: str, kind: str, message: str, reason: object) -> None:
        if (symbol, kind) not in self._logged:
            self._logged.add((symbol, kind))
            logger.warning(message, symbol, reason)


def _is_price(price: float, size: float) -> bool:
    """Not NaN (ib_async's empty price) nor -1 with size 0 (TWS API "Tick
    Types": -1 means no data is currently available). A negative price with
    a size is a real trade (NYMEX crude printed below zero in April 2020)."""
    return not math.isnan(price) and not (price == -1 and size == 0)
