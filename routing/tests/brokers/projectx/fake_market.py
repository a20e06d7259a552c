"""The fake Gateway's market hub (``/hubs/market``), part of :class:`FakeGateway`.

Negotiates and handshakes like the user hub (SignalR JSON protocol over a
websocket, records ending with 0x1e); understands
``SubscribeContractTrades(contractId)`` and ``UnsubscribeContractTrades``
(quotes and depth calls are answered and ignored) and pushes
``GatewayTrade`` invocations with arguments ``[contractId, [{"symbolId",
"price", "timestamp", "type", "volume"}]]`` (ProjectX Gateway API docs,
"Real Time Data Overview") to the connections subscribed to the contract.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

RS = "\x1e"


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    contracts: set[str] = field(default_factory=set)


class FakeMarketHub:
    """``user_of(request)`` is the gateway's token check (``None``: refused);
    ``refused()`` says whether hubs are refused now (the gateway's ``refuse_hub``)."""

    def __init__(
        self,
        user_of: Callable[[web.Request], str | None],
        refused: Callable[[], bool],
        negotiate: Callable[[web.Request], Any],
    ) -> None:
        self._user_of = user_of
        self._refused = refused
        self._negotiate = negotiate
        self.connections: list[_Connection] = []
        self.calls: list[tuple[str, str]] = []  # (hub method, contract id), in arrival order
        self.opened = 0  # connections handshaken, reconnects included
        self.refuse = False  # refuse market hub connections (401), user hub unaffected
        self.negotiations = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hubs/market/negotiate", self._negotiate_market)
        app.router.add_get("/hubs/market", self._hub)

    def subscribers(self, contract: str) -> int:
        """How many open connections subscribe to ``contract``'s trades."""
        return sum(contract in c.contracts for c in self.connections if not c.ws.closed)

    async def publish_trade(
        self,
        contract: str,
        price: Decimal | float,
        *,
        at: datetime | None = None,
        volume: int = 1,
        side: int = 0,
    ) -> None:
        """Push one trade print of ``contract`` to its subscribers."""
        trade = {
            "symbolId": contract.rsplit(".", 1)[0].removeprefix("CON."),
            "price": float(price),
            "timestamp": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
            "type": side,
            "volume": volume,
        }
        await self.push(contract, [trade])

    async def push(self, contract: str, payload: Any) -> None:
        """Push ``GatewayTrade`` with arguments ``[contract, payload]`` as given."""
        frame = {"type": 1, "target": "GatewayTrade", "arguments": [contract, payload]}
        text = json.dumps(frame) + RS
        for connection in list(self.connections):
            if contract in connection.contracts and not connection.ws.closed:
                await connection.ws.send_str(text)
        await asyncio.sleep(0)

    async def drop(self) -> None:
        connections, self.connections = self.connections, []
        for connection in connections:
            await connection.ws.close(code=1011, message=b"dropped")

    async def _negotiate_market(self, request: web.Request) -> web.StreamResponse:
        self.negotiations += 1
        if self.refuse:
            return web.json_response({"message": "unauthorized"}, status=401)
        response: web.StreamResponse = await self._negotiate(request)
        return response

    async def _hub(self, request: web.Request) -> web.StreamResponse:
        if self._user_of(request) is None or self._refused() or self.refuse:
            return web.json_response({"message": "unauthorized"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws)
        handshook = False
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            for raw in filter(None, msg.data.split(RS)):
                frame = json.loads(raw)
                if not handshook:
                    handshook = True
                    await ws.send_str("{}" + RS)
                    self.connections.append(connection)
                    self.opened += 1
                    continue
                await self._message(connection, frame)
        if connection in self.connections:
            self.connections.remove(connection)
        return ws

    async def _message(self, connection: _Connection, frame: dict[str, Any]) -> None:
        if frame.get("type") == 6:  # ping
            await connection.ws.send_str(json.dumps({"type": 6}) + RS)
            return
        if frame.get("type") != 1:
            return
        target, args = frame.get("target", ""), frame.get("arguments") or []
        if args:
            self.calls.append((target, str(args[0])))
        if target == "SubscribeContractTrades" and args:
            connection.contracts.add(str(args[0]))
        elif target == "UnsubscribeContractTrades" and args:
            connection.contracts.discard(str(args[0]))
        if frame.get("invocationId"):
            reply = {"type": 3, "invocationId": frame["invocationId"], "result": None}
            await connection.ws.send_str(json.dumps(reply) + RS)
