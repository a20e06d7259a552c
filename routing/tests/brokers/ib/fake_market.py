"""Market data for the fake IB Gateway: contract look-ups and last trades.

Requests handled (fields as ib_async 2.1.0's ``Client`` sends them):
``reqContractDetails`` (9), answered with ``contractDetails`` (10) and
``contractDetailsEnd`` (52), or error 200 for a product the gateway has no
price for; ``reqMarketDataType`` (59); ``reqMktData`` (1), answered with
``marketDataType`` (58) and the contract's last trade so far as
``tickPrice`` (1); ``cancelMktData`` (2). :meth:`FakeMarketData.publish`
prints a trade to every subscription of that contract, :meth:`FakeMarketData.quote`
a best bid and ask. With
``delayed_only`` the account has no real-time subscription: a client that
asked market data type 1 gets error 354 (TWS API message codes), one that
asked 3 gets warning 10167 and DELAYED_LAST ticks (tick type 68) under
market data type 3; with ``silent_details`` contract look-ups go
unanswered. Fields follow ``ib_async/decoder.py`` at
:data:`~.fake_wire.SERVER_VERSION` (``contractDetails``,
``priceSizeTick`` and the ``wrap`` table).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from routing.tests.brokers.ib.fake_wire import FakeContract, error, frame

BID, ASK, LAST, DELAYED_LAST = 1, 2, 4, 68  # TWS API "Tick Types"


def contract_details(req_id: int, c: FakeContract) -> list[object]:
    """``contractDetails`` (message 10, no version field from 164)."""
    return [
        10,
        req_id,
        c.symbol,
        "FUT",
        c.month,  # lastTradeDate [-lastTradeTime-timeZone]
        "",  # strike
        "",  # right
        c.exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,  # marketName
        c.trading_class,
        c.con_id,
        "0.25",  # minTick
        c.multiplier,
        "LMT,MKT,STP,STPLMT",  # orderTypes
        c.exchange,  # validExchanges
        1,  # priceMagnifier
        0,  # underConId
        c.symbol,  # longName
        "",  # primaryExchange
        c.month,  # contractMonth
        *[""] * 8,  # industry .. evMultiplier
        0,  # secIdList count
        "",  # aggGroup
        c.symbol,  # underSymbol
        "IND",  # underSecType
        "",  # marketRuleIds
        c.month,  # realExpirationDate
        "",  # stockType
        1,  # minSize
        1,  # sizeIncrement
        1,  # suggestedSizeIncrement
    ]


def tick_price(req_id: int, tick_type: int, price: Decimal, size: int) -> list[object]:
    """``tickPrice`` (message 1): ``[1, version, reqId, tickType, price,
    size, attrMask]``, read by ib_async's ``Decoder.priceSizeTick``."""
    return [1, 6, req_id, tick_type, price, size, 0]


def market_data_type(req_id: int, data_type: int) -> list[object]:
    """``marketDataType`` (message 58)."""
    return [58, 1, req_id, data_type]


class FakeMarketData:
    """The market data half of :class:`~.fake_gateway.FakeGateway` (a mixin:
    needs its ``prices``, the products the gateway knows)."""

    prices: dict[str, Decimal]

    def _init_market(self) -> None:
        self.delayed_only = False
        self.silent_details = False  # contract look-ups booked but never answered
        # (connection, request id) -> contract; connections die with their socket.
        self.subscriptions: dict[tuple[asyncio.StreamWriter, int], FakeContract] = {}
        self.market_requests: list[tuple[str, str]] = []  # (request, trading class)
        self._data_types: dict[asyncio.StreamWriter, int] = {}
        self._trades: dict[tuple[str, str], tuple[Decimal, int]] = {}

    def live_subscriptions(self) -> list[FakeContract]:
        """Contracts subscribed on open connections, sorted by trading class."""
        return sorted(
            (c for (w, _), c in self.subscriptions.items() if not w.transport.is_closing()),
            key=lambda c: (c.trading_class, c.month),
        )

    def publish(self, trading_class: str, month: str, price: Decimal, size: int = 1) -> None:
        """A trade of ``size`` at ``price`` in the contract (``"MNQ"``,
        ``"202603"``): every subscription to it gets a LAST tick (DELAYED_LAST
        when delayed), and later subscriptions get it first."""
        self._trades[(trading_class, month)] = (price, size)
        for (w, req_id), c in list(self.subscriptions.items()):
            if w.transport.is_closing():
                del self.subscriptions[(w, req_id)]
            elif (c.trading_class, c.month) == (trading_class, month):
                w.write(frame(tick_price(req_id, self._tick_type(w), price, size)))

    def quote(self, trading_class: str, month: str, bid: Decimal, ask: Decimal) -> None:
        """A new best bid and ask (tick types 1 and 2, size 5) in the contract:
        quotes, not trades."""
        for (w, req_id), c in list(self.subscriptions.items()):
            if not w.transport.is_closing() and (c.trading_class, c.month) == (
                trading_class,
                month,
            ):
                w.write(frame(tick_price(req_id, BID, bid, 5)))
                w.write(frame(tick_price(req_id, ASK, ask, 5)))

    def _tick_type(self, w: asyncio.StreamWriter) -> int:
        return DELAYED_LAST if self.delayed_only else LAST

    def _market(self, w: asyncio.StreamWriter, f: list[str]) -> None:
        match int(f[0]):
            case 59:
                self._data_types[w] = int(f[2])
            case 9:
                self._details(w, int(f[2]), _contract(f[3:]))
            case 1:
                self._subscribe(w, int(f[2]), _contract(f[3:]))
            case 2:
                c = self.subscriptions.pop((w, int(f[2])), None)
                self.market_requests.append(("cancelMktData", c.trading_class if c else ""))

    def _details(self, w: asyncio.StreamWriter, req_id: int, c: FakeContract) -> None:
        self.market_requests.append(("reqContractDetails", c.trading_class))
        if self.silent_details:
            return
        if c.trading_class not in self.prices:
            w.write(frame(error(req_id, 200, "No security definition has been found")))
            return
        c.con_id = abs(hash((c.symbol, c.month))) % 10**8
        w.write(frame(contract_details(req_id, c)))
        w.write(frame([52, 1, req_id]))

    def _subscribe(self, w: asyncio.StreamWriter, req_id: int, c: FakeContract) -> None:
        self.market_requests.append(("reqMktData", c.trading_class))
        data_type = self._data_types.get(w, 1)
        if self.delayed_only and data_type == 1:
            w.write(frame(error(req_id, 354, "Requested market data is not subscribed.")))
            return
        self.subscriptions[(w, req_id)] = c
        if self.delayed_only:
            w.write(frame(error(req_id, 10167, "Displaying delayed market data.")))
        w.write(frame(market_data_type(req_id, 3 if self.delayed_only else 1)))
        trade = self._trades.get((c.trading_class, c.month))
        if trade is not None:
            w.write(frame(tick_price(req_id, self._tick_type(w), *trade)))


def _contract(f: list[str]) -> FakeContract:
    """The contract fields conId .. tradingClass as the client sends them."""
    return FakeContract(
        symbol=f[1],
        month=f[3],
        multiplier=f[6],
        exchange=f[7],
        local_symbol=f[10],
        trading_class=f[11],
        con_id=int(f[0] or 0),
        currency=f[9],
    )
