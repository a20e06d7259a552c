"""A local fake ProjectX Gateway: REST under ``/api``, the SignalR user hub
and the market hub (:mod:`~routing.tests.brokers.projectx.fake_market`).

Speaks the wire shapes the project-x-py SDK and pysignalr expect (ProjectX
Gateway API docs; pysignalr's negotiate/handshake): ``POST /api/Auth/loginKey``
returns a JWT, every other call needs ``Authorization: Bearer``; answers are
``{"success", "errorCode", "errorMessage", ...}``. The hub negotiates at
``POST /hubs/user/negotiate``, then speaks the SignalR JSON protocol over a
websocket, each message ending with the 0x1e record separator; events are
invocations ``GatewayUserOrder`` / ``GatewayUserPosition`` /
``GatewayUserTrade`` carrying ``{"action": 1, "data": {...}}`` to the
connections subscribed to the account.

Holds accounts, orders, trades and positions in memory. Market orders fill
at once at ``prices[contract]``; limit and stop orders rest until
:meth:`FakeGateway.fill_working`. ``customTag`` is unique per account (a
second order with the same tag is refused). Faults for tests:
:meth:`drop` closes every hub connection (``refuse_hub`` keeps it shut),
``lose_answers`` accepts the next N orders and cuts the connection before
answering, ``drop_after`` does both in the middle of a burst, ``rate_limit`` requests
per ``rate_window`` seconds answer 429 past the limit (ProjectX: 200 / 60 s).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from routing.tests.brokers.projectx.fake_market import FakeMarketHub

RS = "\x1e"
# Dollars per point (CME contract specs), for the trades' profitAndLoss.
POINT_VALUES = {"MNQ": Decimal(2), "ENQ": Decimal(20), "MES": Decimal(5), "EP": Decimal(50)}
MARKET, LIMIT, STOP = 2, 1, 4
OPEN, FILLED, CANCELLED, REJECTED = 1, 2, 3, 5


def _jwt(subject: str) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {"sub": subject, "exp": int(time.time()) + 3600, "n": time.monotonic_ns()}
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"success": True, "errorCode": 0, "errorMessage": None, **fields})


def _refused(code: int, message: str, **fields: Any) -> web.Response:
    return web.json_response(
        {"success": False, "errorCode": code, "errorMessage": message, **fields}
    )


@dataclass
class _Hub:
    ws: web.WebSocketResponse
    user: str
    accounts: set[int] = field(default_factory=set)


class FakeGateway:
    """The fake server. ``users`` maps username -> (api key, account ids)."""

    def __init__(
        self,
        users: dict[str, tuple[str, list[int]]],
        *,
        prices: dict[str, Decimal] | None = None,
        rate_limit: int = 200,
        rate_window: float = 60.0,
    ) -> None:
        self.users = users
        self.prices: dict[str, Decimal] = dict(prices or {})
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.lose_answers = 0
        self.placed = 0
        # After the ``drop_after``-th order placed: drop the hub and lose the
        # answers of the orders in flight (``lose_on_drop`` of them).
        self.drop_after: int | None = None
        self.lose_on_drop = 0
        self.refuse_hub = False
        self.silent_hub = False  # push no events (as if the hub lost them)
        self.orders: dict[int, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.positions: dict[tuple[int, str], tuple[int, Decimal]] = {}
        self.requests: list[str] = []  # every /api path, in arrival order
        self._tokens: dict[str, str] = {}
        self._times: deque[float] = deque()
        self._ids = itertools.count(9001)
        self._hubs: list[_Hub] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        # The market hub (fake_market.py): ``market.publish_trade(contract, price)``.
        self.market = FakeMarketHub(self._user, lambda: self.refuse_hub, self._negotiate)

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); returns the base URL."""
        app = web.Application()
        app.router.add_post("/api/{path:.+}", self._api)
        app.router.add_post("/hubs/user/negotiate", self._negotiate)
        app.router.add_get("/hubs/user", self._hub)
        self.market.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for hub in list(self._hubs):
            await hub.ws.close()
        await self.market.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def drop(self) -> None:
        """Close every hub connection (user and market), as a network drop would."""
        hubs, self._hubs = self._hubs, []
        for hub in hubs:
            await hub.ws.close(code=1011, message=b"dropped")
        await self.market.drop()

    def hub_count(self) -> int:
        """Open user hub connections."""
        return len(self._hubs)

    # -- what tests read ----------------------------------------------------

    def orders_of(self, account: int) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["accountId"] == account]

    def tags(self, account: int) -> list[str]:
        return [o["customTag"] for o in self.orders_of(account) if o["customTag"]]

    def position(self, account: int, contract: str) -> int:
        return self.positions.get((account, contract), (0, Decimal(0)))[0]

    # -- what tests make happen -----------------------------------------------

    async def fill_working(self, order_id: int, price: Decimal) -> None:
        """Fill working order ``order_id`` completely at ``price``."""
        order = self.orders[order_id]
        assert order["status"] == OPEN, order
        await self._fill(order, price)

    async def trade_on(self, account: int, contract: str, side: int, size: int) -> int:
        """An order placed on the platform itself (a leader trading by hand),
        filled at once at ``prices[contract]``; returns its order id."""
        order = self._new_order(account, contract, MARKET, side, size, None, None, "")
        await self._push(account, "GatewayUserOrder", order)
        await self._fill(order, self.prices[contract])
        return int(order["id"])

    # -- REST -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        self.requests.append(path)
        now = time.monotonic()
        while self._times and now - self._times[0] >= self.rate_window:
            self._times.popleft()
        if len(self._times) >= self.rate_limit:
            return web.json_response(
                {"success": False, "errorMessage": "Too Many Requests"},
                status=429,
                headers={"Retry-After": str(int(self.rate_window))},
            )
        self._times.append(now)
        body = await request.json() if request.can_read_body else {}
        if path == "/Auth/loginKey":
            return self._login(body)
        user = self._user(request)
        if user is None:
            return web.json_response({"message": "unauthorized"}, status=401)
        if path == "/Auth/validate":
            token = _jwt(user)
            self._tokens[token] = user
            return _ok(newToken=token)
        if path == "/Account/search":
            accounts = [
                {
                    "id": a,
                    "name": f"PRAC-{a}",
                    "balance": 50000.0,
                    "canTrade": True,
                    "isVisible": True,
                    "simulated": True,
                }
                for a in self.users[user][1]
            ]
            return _ok(accounts=accounts)
        account = body.get("accountId")
        if account not in self.users[user][1]:
            return _refused(1, f"account {account} not found")
        handler = {
            "/Order/place": self._place,
            "/Order/search": self._search,
            "/Order/searchOpen": self._search_open,
            "/Order/cancel": self._cancel,
            "/Order/modify": self._modify,
            "/Position/searchOpen": self._positions,
            "/Trade/search": self._trades,
        }.get(path)
        if handler is None:
            return web.json_response({"message": f"no endpoint {path}"}, status=404)
        response = await handler(int(account), body)
        if path == "/Order/place" and json.loads(response.text or "{}").get("success"):
            self.placed += 1
            if self.placed == self.drop_after:
                self.lose_answers += self.lose_on_drop
                await self.drop()
        if path == "/Order/place" and self.lose_answers > 0 and response.status == 200:
            # Accepted and stored, but the answer never reaches the client.
            self.lose_answers -= 1
            assert request.transport is not None
            request.transport.abort()
        return response

    def _login(self, body: dict[str, Any]) -> web.Response:
        user = body.get("userName", "")
        if user not in self.users or self.users[user][0] != body.get("apiKey"):
            return _refused(3, "Invalid credentials", token=None)
        token = _jwt(user)
        self._tokens[token] = user
        return _ok(token=token)

    def _user(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or request.query.get("access_token", "")
        return self._tokens.get(token)

    def _new_order(
        self,
        account: int,
        contract: str,
        kind: int,
        side: int,
        size: int,
        limit: Decimal | None,
        stop: Decimal | None,
        tag: str,
    ) -> dict[str, Any]:
        order = {
            "id": next(self._ids), "accountId": account, "contractId": contract,
            "symbolId": contract.rsplit(".", 1)[0].removeprefix("CON."),
            "creationTimestamp": _now(), "updateTimestamp": _now(), "status": OPEN,
            "type": kind, "side": side, "size": size,
            "limitPrice": None if limit is None else float(limit),
            "stopPrice": None if stop is None else float(stop),
            "fillVolume": 0, "filledPrice": None, "customTag": tag or None,
        }  # fmt: skip
        self.orders[order["id"]] = order
        return order

    async def _place(self, account: int, body: dict[str, Any]) -> web.Response:
        tag = body.get("customTag") or ""
        if tag and tag in self.tags(account):
            return _refused(2, f"customTag {tag!r} already in use on account {account}")
        contract = body["contractId"]
        kind, size = int(body["type"]), int(body["size"])
        if contract not in self.prices:
            return _refused(8, f"contract {contract} not found")
        if kind not in (MARKET, LIMIT, STOP) or size <= 0:
            return _refused(2, f"invalid order type {kind} or size {size}")
        limit = None if body.get("limitPrice") is None else Decimal(str(body["limitPrice"]))
        stop = None if body.get("stopPrice") is None else Decimal(str(body["stopPrice"]))
        order = self._new_order(account, contract, kind, int(body["side"]), size, limit, stop, tag)
        await self._push(account, "GatewayUserOrder", order)
        if kind == MARKET:
            await self._fill(order, self.prices[contract])
        return _ok(orderId=order["id"])

    async def _fill(self, order: dict[str, Any], price: Decimal) -> None:
        account, contract = order["accountId"], order["contractId"]
        size, sign = order["size"] - order["fillVolume"], 1 if order["side"] == 0 else -1
        held, avg = self.positions.get((account, contract), (0, Decimal(0)))
        pnl: Decimal | None = None
        if held and (held > 0) != (sign > 0):
            points = (price - avg) * min(abs(held), size) * (1 if held > 0 else -1)
            pnl = points * POINT_VALUES.get(contract.split(".")[3], Decimal(1))
        new = held + sign * size
        if new == 0:
            avg = Decimal(0)
        elif held == 0 or (held > 0) != (new > 0):
            avg = price
        elif (held > 0) == (sign > 0):
            avg = (avg * abs(held) + price * size) / abs(new)
        self.positions[(account, contract)] = (new, avg)
        trade = {
            "id": next(self._ids), "accountId": account, "contractId": contract,
            "creationTimestamp": _now(), "price": float(price),
            "profitAndLoss": None if pnl is None else float(pnl), "fees": 0.37,
            "side": order["side"], "size": size, "voided": False, "orderId": order["id"],
        }  # fmt: skip
        self.trades.append(trade)
        order.update(status=FILLED, fillVolume=order["size"], filledPrice=float(price))
        order["updateTimestamp"] = _now()
        await self._push(account, "GatewayUserTrade", trade)
        await self._push(account, "GatewayUserOrder", order)
        position = {
            "id": hash((account, contract)) & 0xFFFF, "accountId": account,
            "contractId": contract, "creationTimestamp": _now(),
            "type": 1 if new > 0 else 2, "size": abs(new), "averagePrice": float(avg),
        }  # fmt: skip
        await self._push(account, "GatewayUserPosition", position)

    async def _search(self, account: int, body: dict[str, Any]) -> web.Response:
        return _ok(orders=self.orders_of(account))

    async def _search_open(self, account: int, body: dict[str, Any]) -> web.Response:
        return _ok(orders=[o for o in self.orders_of(account) if o["status"] == OPEN])

    async def _cancel(self, account: int, body: dict[str, Any]) -> web.Response:
        order = self.orders.get(int(body["orderId"]))
        if order is None or order["accountId"] != account or order["status"] != OPEN:
            return _refused(2, f"order {body['orderId']} is not open")
        order.update(status=CANCELLED, updateTimestamp=_now())
        await self._push(account, "GatewayUserOrder", order)
        return _ok()

    async def _modify(self, account: int, body: dict[str, Any]) -> web.Response:
        order = self.orders.get(int(body["orderId"]))
        if order is None or order["accountId"] != account or order["status"] != OPEN:
            return _refused(2, f"order {body['orderId']} is not open")
        for key in ("size", "limitPrice", "stopPrice"):
            if body.get(key) is not None:
                order[key] = body[key]
        order["updateTimestamp"] = _now()
        await self._push(account, "GatewayUserOrder", order)
        return _ok()

    async def _positions(self, account: int, body: dict[str, Any]) -> web.Response:
        rows = [
            {"id": hash(key) & 0xFFFF, "accountId": account, "contractId": key[1],
             "creationTimestamp": _now(), "type": 1 if qty > 0 else 2, "size": abs(qty),
             "averagePrice": float(avg)}
            for key, (qty, avg) in sorted(self.positions.items())
            if key[0] == account and qty
        ]  # fmt: skip
        return _ok(positions=rows)

    async def _trades(self, account: int, body: dict[str, Any]) -> web.Response:
        return _ok(trades=[t for t in self.trades if t["accountId"] == account])

    # -- the SignalR user hub -----------------------------------------------------

    async def _negotiate(self, request: web.Request) -> web.Response:
        if self._user(request) is None or self.refuse_hub:
            return web.json_response({"message": "unauthorized"}, status=401)
        connection = f"conn-{next(self._ids)}"
        return web.json_response(
            {
                "negotiateVersion": 1,
                "connectionId": connection,
                "connectionToken": connection,
                "availableTransports": [
                    {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}
                ],
            }
        )

    async def _hub(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        if user is None or self.refuse_hub:
            return web.json_response({"message": "unauthorized"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hub = _Hub(ws, user)
        handshook = False
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            for raw in filter(None, msg.data.split(RS)):
                frame = json.loads(raw)
                if not handshook:
                    handshook = True
                    await ws.send_str("{}" + RS)
                    self._hubs.append(hub)
                    continue
                await self._hub_message(hub, frame)
        if hub in self._hubs:
            self._hubs.remove(hub)
        return ws

    async def _hub_message(self, hub: _Hub, frame: dict[str, Any]) -> None:
        if frame.get("type") == 6:  # ping
            await hub.ws.send_str(json.dumps({"type": 6}) + RS)
        elif frame.get("type") == 1:
            args = frame.get("arguments") or []
            subscribe = frame.get("target") in {"SubscribeOrders", "SubscribeTrades"}
            if subscribe and args and int(args[0]) in self.users[hub.user][1]:
                hub.accounts.add(int(args[0]))
            if frame.get("invocationId"):
                reply = {"type": 3, "invocationId": frame["invocationId"], "result": None}
                await hub.ws.send_str(json.dumps(reply) + RS)

    async def _push(self, account: int, target: str, data: dict[str, Any]) -> None:
        if self.silent_hub:
            return
        frame = {"type": 1, "target": target, "arguments": [{"action": 1, "data": dict(data)}]}
        text = json.dumps(frame) + RS
        for hub in list(self._hubs):
            if account in hub.accounts and not hub.ws.closed:
                await hub.ws.send_str(text)
        await asyncio.sleep(0)
