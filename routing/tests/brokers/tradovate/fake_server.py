"""A local fake Tradovate: REST and websocket on 127.0.0.1, run by uvicorn.

It speaks the protocol of Tradovate's API documentation (paths under
``/v1``, bearer tokens, ``errorText`` refusals, time-penalty tickets, the
websocket's ``o``/``h``/``a[...]`` framing, ``authorize`` and
``user/syncrequest`` with ``props`` pushes) over the books of
:class:`FakeExchange`. Faults a test can ask for: :meth:`drop_websockets`
(now, or after the n-th order), a penalty ticket past a request rate
(``penalise_after``), a 429 to every request (``answer_429``), orders
accepted whose answer is lost (``lose_answers``: the request hangs past
the client's timeout) and orders lost before they arrive
(``lose_requests``: hangs likewise, nothing stored). Market data
(``/v1/md/websocket``) is :class:`FakeMarketData`, as ``md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from routing.brokers.tradovate.protocol import format_time
from routing.tests.brokers.tradovate.fake_exchange import FakeExchange
from routing.tests.brokers.tradovate.fake_market_data import FakeMarketData

Send = Any
Receive = Any


@dataclass
class _Socket:
    """One websocket; frames go out in order through ``outbox`` (``None`` closes)."""

    send: Send
    user_id: int | None = None
    synced: bool = False
    closed: bool = False
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    async def write(self) -> None:
        while (text := await self.outbox.get()) is not None:
            await self.send({"type": "websocket.send", "text": text})
        await self.send({"type": "websocket.close", "code": 1011})


@dataclass
class FakeTradovate:
    """The server; ``exchange`` holds the books, the rest are fault controls."""

    exchange: FakeExchange = field(default_factory=FakeExchange)
    token_seconds: float = 5400.0
    answer_429: bool = False
    lose_answers: int = 0
    lose_requests: int = 0
    drop_after_orders: int | None = None
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    tokens: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    token_requests: int = 0
    renewals: int = 0
    answered_429: int = 0
    penalties: list[str] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)
    _penalty: tuple[int, float, float] | None = None
    _captcha: bool = False
    _arrivals: list[float] = field(default_factory=list)
    _tickets: dict[str, float] = field(default_factory=dict)
    _sockets: list[_Socket] = field(default_factory=list)
    _orders_placed: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    md: FakeMarketData = field(init=False)

    def __post_init__(self) -> None:
        self.exchange.on_event = self._push
        self.md = FakeMarketData(self.exchange)  # quotes: /v1/md/websocket

    # -- running -------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on a free port; returns the REST base ``http://127.0.0.1:<port>/v1``."""
        config = uvicorn.Config(
            self, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
            ws="websockets-sansio", ws_ping_interval=None,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        # uvicorn sets a flag, with no event to wait on.
        while not self._server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        self._release.set()
        await self.drop_websockets()
        await self.md.drop()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- controls ------------------------------------------------------------------

    def penalise_after(
        self, requests: int, window: float, p_time: float, *, captcha: bool = False
    ) -> None:
        """Answer a penalty ticket (wait ``p_time`` s; ``captcha``: a person
        must solve one) to a request past ``requests`` in ``window`` seconds;
        a repeat bringing its ticket after ``p_time`` is served, one brought
        early gets a 429."""
        self._penalty = (requests, window, p_time)
        self._captcha = captcha
        self._arrivals.clear()

    async def drop_websockets(self) -> None:
        """Close every websocket now (pushes meanwhile are lost, as at Tradovate)."""
        sockets, self._sockets = self._sockets, []
        for socket in sockets:
            socket.closed = True
            socket.outbox.put_nowait(None)
        await asyncio.sleep(0)

    def placeorders(self) -> list[dict[str, Any]]:
        """Bodies of every ``/order/placeorder`` request received."""
        return [body for _, path, body in self.requests if path == "/order/placeorder"]

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)

    # -- ASGI ----------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket" and scope["path"].endswith("/md/websocket"):
            await self.md.serve(receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(receive, send)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body: dict[str, Any] = json.loads(raw) if raw else {}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        path = scope["path"].removeprefix("/v1")
        self.requests.append((scope["method"], path, {**query, **body}))
        token = dict(scope["headers"]).get(b"authorization", b"").decode().removeprefix("Bearer ")
        status, answer, hang = self._answer(path, body, query, token)
        if hang:
            await self._release.wait()  # the order stands; its answer is lost
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def _answer(
        self, path: str, body: dict[str, Any], query: dict[str, str], token: str
    ) -> tuple[int, Any, bool]:
        if self.answer_429:
            self.answered_429 += 1
            return 429, {"errorText": "Too many requests"}, False
        ticket = body.pop("p-ticket", None) or query.pop("p-ticket", None)
        penalty = self._check_penalty(ticket)
        if penalty is not None:
            return penalty
        if path == "/auth/accesstokenrequest":
            return 200, self._token_request(body), False
        user_id = self._user_of_token(token)
        if user_id is None:
            return 401, {"errorText": "Access is denied"}, False
        if path == "/auth/renewaccesstoken":
            self.renewals += 1
            return 200, self._issue(user_id), False
        ex = self.exchange
        mine = ex.user_accounts(user_id)
        if path == "/order/placeorder":
            if self.lose_requests > 0:
                self.lose_requests -= 1
                return 200, None, True  # lost before the broker saw it
            answer = ex.place(user_id, body)
            self._orders_placed += 1
            if self.drop_after_orders is not None and self._orders_placed >= self.drop_after_orders:
                self.drop_after_orders = None
                asyncio.get_running_loop().create_task(self.drop_websockets())
            if "orderId" in answer and self.lose_answers > 0:
                self.lose_answers -= 1
                return 200, answer, True
            return 200, answer, False
        if path == "/order/modifyorder":
            return 200, ex.modify(user_id, body), False
        if path == "/order/cancelorder":
            return 200, ex.cancel(user_id, body), False
        lists = {
            "/account/list": [ex.accounts[a] for a in sorted(mine)],
            "/order/list": [o for o in ex.orders.values() if o["accountId"] in mine],
            "/command/list": [
                c for c in ex.commands if ex.orders[c["orderId"]]["accountId"] in mine
            ],
            "/fill/list": [f for f in ex.fills if ex.orders[f["orderId"]]["accountId"] in mine],
            "/position/list": [p for p in ex.positions.values() if p["accountId"] in mine],
        }
        if path in lists:
            return 200, lists[path], False
        if path == "/contract/find":
            found = ex.contract_named(query.get("name", ""))
            return (200, found, False) if found else (404, None, False)
        if path == "/contract/item":
            found = ex.contracts.get(int(query.get("id", 0)))
            return (200, found, False) if found else (404, None, False)
        if path == "/order/item":
            order = ex.orders.get(int(query.get("id", 0)))
            ok = order is not None and order["accountId"] in mine
            return (200, order, False) if ok else (404, None, False)
        if path == "/orderVersion/deps":
            master = int(query.get("masterid", 0))
            return 200, [v for v in ex.versions if v["orderId"] == master], False
        return 404, {"errorText": f"no endpoint {path}"}, False

    def _check_penalty(self, ticket: str | None) -> tuple[int, Any, bool] | None:
        if self._penalty is None:
            return None
        now = time.monotonic()
        if ticket is not None:
            due = self._tickets.pop(ticket, None)
            if due is None or now < due:
                self.answered_429 += 1
                return 429, {"errorText": "ticket redeemed early or unknown"}, False
            self.redeemed.append(ticket)
            return None
        limit, window, p_time = self._penalty
        self._arrivals = [t for t in self._arrivals if now - t < window] + [now]
        if len(self._arrivals) <= limit:
            return None
        new_ticket = secrets.token_hex(8)
        self._tickets[new_ticket] = now + p_time
        self.penalties.append(new_ticket)
        return 200, {"p-ticket": new_ticket, "p-time": p_time, "p-captcha": self._captcha}, False

    def _token_request(self, body: dict[str, Any]) -> dict[str, Any]:
        self.token_requests += 1
        user = self.exchange.users.get(str(body.get("name")))
        if (
            user is None
            or body.get("password") != user.password
            or body.get("sec") != user.secret
            or body.get("cid") != user.cid
        ):
            return {"errorText": "Incorrect username or password. Please try again."}
        return self._issue(user.user_id) | {"name": user.name, "userStatus": "Active"}

    def _issue(self, user_id: int) -> dict[str, Any]:
        token = secrets.token_hex(16)
        expires = datetime.now(UTC) + timedelta(seconds=self.token_seconds)
        self.tokens[token] = (user_id, expires)
        md_token = secrets.token_hex(16)
        self.md.tokens.add(md_token)
        return {
            "accessToken": token,
            "mdAccessToken": md_token,
            "expirationTime": format_time(expires),
            "userId": user_id,
            "hasLive": False,
        }

    def _user_of_token(self, token: str) -> int | None:
        found = self.tokens.get(token)
        if found is None or found[1] <= datetime.now(UTC):
            return None
        return found[0]

    # -- websocket -------------------------------------------------------------------

    async def _websocket(self, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        socket = _Socket(send)
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
                    self._ws_request(socket, text)
        finally:
            beat.cancel()
            socket.closed = True
            if socket in self._sockets:
                self._sockets.remove(socket)
            socket.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer

    async def _heartbeat(self, socket: _Socket) -> None:
        while not socket.closed:
            await asyncio.sleep(1.0)
            socket.outbox.put_nowait("h")

    def _ws_request(self, socket: _Socket, text: str) -> None:
        endpoint, request_id, _query, body = [*text.split("\n", 3), "", "", ""][:4]
        answer: dict[str, Any] = {"i": int(request_id), "s": 200}
        if endpoint == "authorize":
            socket.user_id = self._user_of_token(body)
            if socket.user_id is None:
                answer["s"] = 401
        elif endpoint == "user/syncrequest" and socket.user_id is not None:
            answer["d"] = self.exchange.snapshot(socket.user_id)
            socket.synced = True
        else:
            answer["s"] = 404
        socket.outbox.put_nowait("a" + json.dumps([answer]))

    def _push(
        self, user_id: int, entity_type: str, event_type: str, entity: dict[str, Any]
    ) -> None:
        frame = "a" + json.dumps(
            [{"e": "props", "d": {"entityType": entity_type, "eventType": event_type,
                                  "entity": entity}}]
        )  # fmt: skip
        for socket in self._sockets:
            if socket.synced and socket.user_id == user_id and not socket.closed:
                socket.outbox.put_nowait(frame)
