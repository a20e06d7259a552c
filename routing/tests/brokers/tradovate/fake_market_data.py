"""The fake Tradovate's market-data websocket (``/v1/md/websocket``).

Same framing as the trading websocket; ``authorize`` takes an
``mdAccessToken`` the fake issued; ``md/subscribeQuote`` /
``md/unsubscribeQuote`` ``{"symbol": name}`` as in Tradovate's "Market
Data" request reference (an unknown symbol is answered 404 with
``errorText``; so is one in ``refused``). A subscription is sent the contract's current quote at
once when a trade was published, then every quote :meth:`publish_trade`
makes, as ``{"e": "md", "d": {"quotes": [...]}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from routing.brokers.tradovate.protocol import format_time
from routing.tests.brokers.tradovate.fake_exchange import FakeExchange

Send = Any
Receive = Any


@dataclass
class _MdSocket:
    send: Send
    authorized: bool = False
    closed: bool = False
    quotes: set[int] = field(default_factory=set)  # subscribed contract ids
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    async def write(self) -> None:
        while (text := await self.outbox.get()) is not None:
            await self.send({"type": "websocket.send", "text": text})
        await self.send({"type": "websocket.close", "code": 1011})


@dataclass
class FakeMarketData:
    """Quotes for the contracts of ``exchange``; ``requests`` logs every
    ``(endpoint, body)`` received; ``tokens`` the md tokens issued."""

    exchange: FakeExchange
    tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    trades: dict[int, dict[str, Any]] = field(default_factory=dict)  # contract id -> quote
    refused: set[str] = field(default_factory=set)  # symbols subscribeQuote answers 404
    authorized_with: list[str] = field(default_factory=list)  # md tokens, in order
    _sockets: list[_MdSocket] = field(default_factory=list)

    # -- controls ------------------------------------------------------------------

    def publish_trade(
        self, symbol: str, price: Decimal, *, size: int = 1, at: datetime | None = None
    ) -> dict[str, Any]:
        """A trade of ``size`` at ``price`` on contract ``symbol`` (one the
        exchange lists), at aware ``at`` (now); pushed to its subscribers.
        Returns the quote sent."""
        contract = self.exchange.contract_named(symbol)
        if contract is None:
            raise KeyError(f"the fake lists no contract {symbol!r}")
        moment = at or datetime.now(UTC)
        quote = {
            "timestamp": format_time(moment),
            "contractId": contract["id"],
            "entries": {
                "Trade": {"price": float(price), "size": size},
                "Bid": {"price": float(price) - 0.25, "size": 3},
                "Offer": {"price": float(price) + 0.25, "size": 4},
            },
        }
        self.trades[contract["id"]] = quote
        for socket in self._sockets:
            if contract["id"] in socket.quotes and not socket.closed:
                socket.outbox.put_nowait(_md_frame(quote))
        return quote

    def publish_bid(self, symbol: str, bid: Decimal) -> None:
        """A quote with a bid change only (no ``Trade`` entry)."""
        contract = self.exchange.contract_named(symbol)
        assert contract is not None
        quote = {
            "timestamp": format_time(datetime.now(UTC)),
            "contractId": contract["id"],
            "entries": {"Bid": {"price": float(bid), "size": 1}},
        }
        for socket in self._sockets:
            if contract["id"] in socket.quotes and not socket.closed:
                socket.outbox.put_nowait(_md_frame(quote))

    def subscribers(self, symbol: str) -> int:
        """Open sockets subscribed to ``symbol``."""
        contract = self.exchange.contract_named(symbol)
        if contract is None:
            return 0
        return sum(1 for s in self._sockets if contract["id"] in s.quotes and not s.closed)

    def count(self, endpoint: str, symbol: str | None = None) -> int:
        return sum(
            1
            for e, body in self.requests
            if e == endpoint and (symbol is None or body.get("symbol") == symbol)
        )

    async def drop(self) -> None:
        """Close every market-data websocket now."""
        sockets, self._sockets = self._sockets, []
        for socket in sockets:
            socket.closed = True
            socket.outbox.put_nowait(None)
        await asyncio.sleep(0)

    # -- ASGI ----------------------------------------------------------------------

    async def serve(self, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        socket = _MdSocket(send)
        self._sockets.append(socket)
        socket.outbox.put_nowait("o")
        writer = asyncio.create_task(socket.write())
        beat = asyncio.create_task(self._heartbeat(socket))
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect" or socket.closed:
                    return
                text = message.get("text") or ""
                if text and text != "[]":
                    self._request(socket, text)
        finally:
            beat.cancel()
            socket.closed = True
            if socket in self._sockets:
                self._sockets.remove(socket)
            socket.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer

    async def _heartbeat(self, socket: _MdSocket) -> None:
        while not socket.closed:
            await asyncio.sleep(1.0)
            socket.outbox.put_nowait("h")

    def _request(self, socket: _MdSocket, text: str) -> None:
        endpoint, request_id, _query, raw = [*text.split("\n", 3), "", "", ""][:4]
        answer: dict[str, Any] = {"i": int(request_id), "s": 200}
        if endpoint == "authorize":
            self.requests.append((endpoint, {}))
            socket.authorized = raw in self.tokens
            self.authorized_with.append(raw)
            answer["s"] = 200 if socket.authorized else 401
            socket.outbox.put_nowait("a" + json.dumps([answer]))
            return
        body = json.loads(raw) if raw else {}
        self.requests.append((endpoint, body))
        contract = self.exchange.contract_named(str(body.get("symbol")))
        snapshot = None
        if not socket.authorized:
            answer["s"] = 401
        elif endpoint not in ("md/subscribeQuote", "md/unsubscribeQuote"):
            answer["s"] = 404
        elif contract is None or contract["name"] in self.refused:
            answer["s"] = 404
            answer["d"] = {"errorText": f"Symbol not found: {body.get('symbol')}"}
        elif endpoint == "md/subscribeQuote":
            socket.quotes.add(contract["id"])
            snapshot = self.trades.get(contract["id"])
        else:
            socket.quotes.discard(contract["id"])
        socket.outbox.put_nowait("a" + json.dumps([answer]))
        if snapshot is not None:
            socket.outbox.put_nowait(_md_frame(snapshot))


def _md_frame(quote: dict[str, Any]) -> str:
    return "a" + json.dumps([{"e": "md", "d": {"quotes": [quote]}}])
