"""A local fake Rithmic R|Protocol server for offline adapter tests.

Speaks the protobuf messages async-rithmic sends over a TLS websocket (each
frame: a 4-byte big-endian length, then the message; the template id says
which message it is), built and parsed with the SDK's own protobuf classes
(``async_rithmic.protocol_buffers``). It serves the order plant (login,
login info, trade routes, account list, order and bracket subscriptions,
new / modify / cancel order, show orders), the PnL plant (position
snapshot and updates) and the ticker plant (last trades, in
:mod:`~routing.tests.brokers.rithmic.fake_ticker`), holding accounts,
orders, fills, positions and prices.

Market orders fill at once at :attr:`FakeRithmic.prices` of their symbol;
limit and stop orders rest until :meth:`FakeRithmic.trade` prints through
them (a print is published to the ticker plant's subscribers too).
Faults: :meth:`drop_connections` closes every socket abruptly,
``drop_after_orders`` drops them right after accepting that many more new
orders (before answering the last), ``lose_answers`` accepts that many new
orders without sending anything about them on that connection.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from async_rithmic import protocol_buffers as pb
from async_rithmic.plants.base import TEMPLATES_MAP
from websockets.asyncio.server import Server, ServerConnection, serve

from routing.tests.brokers.rithmic.fake_notifications import FakeNotifications, Notify
from routing.tests.brokers.rithmic.fake_ticker import FakeTicker
from routing.tests.brokers.rithmic.fake_tls import make_certificate

ORDER_PLANT = 2
PNL_PLANT = 4
EXCHANGES = ("CME", "CBOT", "NYMEX", "COMEX")
BUY, SELL = 1, 2
LIMIT, MARKET, STOP_LIMIT, STOP_MARKET = 1, 2, 3, 4


@dataclass
class FakeOrder:
    basket_id: str
    account: str
    user_tag: str
    symbol: str
    exchange: str
    side: int
    qty: int
    price_type: int
    price: float = 0.0
    trigger_price: float = 0.0
    status: str = "open"  # open, complete
    completion: str = ""  # filled, cancelled, rejected
    fills: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def filled(self) -> int:
        return sum(q for _, q, _ in self.fills)

    @property
    def avg(self) -> float:
        return sum(q * p for _, q, p in self.fills) / self.filled if self.fills else 0.0


@dataclass
class _Conn:
    ws: ServerConnection
    user: str = ""
    infra: int = 0
    order_accounts: set[str] = field(default_factory=set)
    pnl_accounts: set[str] = field(default_factory=set)
    lost_tags: set[str] = field(default_factory=set)
    market_data: set[tuple[str, str]] = field(default_factory=set)  # (symbol, exchange)


class FakeRithmic(FakeNotifications, FakeTicker):
    """The fake server. ``users`` maps user -> (password, account ids);
    ``prices`` symbol -> float price market orders fill at. Start with
    ``await fake.start(tmp_path)``; ``url`` and ``cert_path`` then say
    where and how to reach it."""

    def __init__(self, users: dict[str, tuple[str, list[str]]], system: str = "Rithmic Test"):
        self.users = users
        self.system = system
        self.prices: dict[str, float] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.positions: dict[tuple[str, str], list[float]] = {}  # (acct, sym) -> [qty, avg, rpnl]
        self.drop_after_orders: int | None = None
        # Which notification replays an order in the order list and history:
        # 352 (what async-rithmic expects) or 351 (pbeets/rithmic-rs saw both).
        self.snapshot_template = 352
        self.history_requests: list[tuple[str, str]] = []
        # Request templates answered with an error rp_code (reads: 320, 324, 402).
        self.refuse: set[int] = set()
        self.refuse_orders: str | None = None  # new orders refused with this text
        self.lose_answers = 0
        self.logins: list[tuple[str, int]] = []
        self._conns: list[_Conn] = []
        self._seq = 0
        self._server: Server | None = None
        self.url = ""
        self.cert_path = Path()
        self._ticker_init()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, directory: Path) -> None:
        self.cert_path, key_path = make_certificate(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._server = await serve(self._handle, "127.0.0.1", 0, ssl=context)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"wss://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Abort every open socket at once (no close frame), as a network cut."""
        for conn in list(self._conns):
            if conn.ws.transport is not None:
                conn.ws.transport.abort()

    def orders_for(self, account: str) -> list[FakeOrder]:
        return [o for o in self.orders.values() if o.account == account]

    # -- wire ------------------------------------------------------------------------

    @staticmethod
    def _frame(message: Any) -> bytes:
        body = message.SerializeToString()
        return len(body).to_bytes(4, byteorder="big", signed=True) + body

    async def _send(self, conn: _Conn, message: Any) -> None:
        try:
            await conn.ws.send(self._frame(message))
        except Exception:
            return

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws)
        self._conns.append(conn)
        try:
            async for raw in ws:
                assert isinstance(raw, bytes)
                base = pb.base_pb2.Base()
                base.ParseFromString(raw[4:])
                request = TEMPLATES_MAP[base.template_id]()
                request.ParseFromString(raw[4:])
                await self._dispatch(conn, base.template_id, request)
        except Exception:
            pass
        finally:
            self._conns.remove(conn)

    def _reply(self, cls: Any, request: Any, template_id: int, **fields: Any) -> Any:
        message = cls(template_id=template_id, **fields)
        message.user_msg.extend(request.user_msg)
        return message

    async def _ok(self, conn: _Conn, cls: Any, request: Any, template_id: int, **f: Any) -> None:
        message = self._reply(cls, request, template_id, **f)
        message.rp_code.append("0")
        await self._send(conn, message)

    async def _dispatch(self, conn: _Conn, template_id: int, rq: Any) -> None:
        p = pb
        if template_id in self.refuse:
            answer = TEMPLATES_MAP[template_id + 1](template_id=template_id + 1)
            answer.user_msg.extend(rq.user_msg)
            answer.rp_code.extend(["1", "service unavailable"])
            await self._send(conn, answer)
            return
        if template_id == 10:
            await self._login(conn, rq)
        elif template_id == 16:
            msg = self._reply(p.response_rithmic_system_info_pb2.ResponseRithmicSystemInfo, rq, 17)
            msg.system_name.append(self.system)
            msg.rp_code.append("0")
            await self._send(conn, msg)
        elif template_id == 18:
            await self._ok(conn, p.response_heartbeat_pb2.ResponseHeartbeat, rq, 19)
        elif template_id == 12:
            await self._ok(conn, p.response_logout_pb2.ResponseLogout, rq, 13)
        elif template_id == 300:
            await self._ok(
                conn,
                p.response_login_info_pb2.ResponseLoginInfo,
                rq,
                301,
                fcm_id="FAKE-FCM",
                ib_id="FAKE-IB",
                user_type=3,
                user=conn.user,
            )
        elif template_id == 310:
            cls = p.response_trade_routes_pb2.ResponseTradeRoutes
            for exchange in EXCHANGES:
                row = self._reply(cls, rq, 311, exchange=exchange, trade_route="simulator")
                row.rq_handler_rp_code.append("0")
                await self._send(conn, row)
            await self._ok(conn, cls, rq, 311)
        elif template_id == 302:
            cls = p.response_account_list_pb2.ResponseAccountList
            for account in self.users[conn.user][1]:
                row = self._reply(cls, rq, 303, account_id=account, account_name=account)
                row.rq_handler_rp_code.append("0")
                await self._send(conn, row)
            await self._ok(conn, cls, rq, 303)
        elif template_id == 308:
            conn.order_accounts.add(rq.account_id)
            cls = p.response_subscribe_for_order_updates_pb2.ResponseSubscribeForOrderUpdates
            await self._ok(conn, cls, rq, 309)
        elif template_id == 336:
            cls = p.response_subscribe_to_bracket_updates_pb2.ResponseSubscribeToBracketUpdates
            await self._ok(conn, cls, rq, 337)
        elif template_id == 400:
            conn.pnl_accounts.add(rq.account_id)
            cls = p.response_pnl_position_updates_pb2.ResponsePnLPositionUpdates
            await self._ok(conn, cls, rq, 401)
        elif template_id == 402:
            for (account, symbol), _ in sorted(self.positions.items()):
                if account == rq.account_id:
                    await self._send(conn, self._position(account, symbol, snapshot=True))
            cls = p.response_pnl_position_snapshot_pb2.ResponsePnLPositionSnapshot
            await self._ok(conn, cls, rq, 403)
        elif template_id == 320:
            # Open orders only, as Rithmic's order list.
            for order in self.orders_for(rq.account_id):
                if order.status == "open":
                    await self._send(conn, self._snapshot(order))
            await self._ok(conn, p.response_show_orders_pb2.ResponseShowOrders, rq, 321)
        elif template_id == 324:
            self.history_requests.append((rq.account_id, rq.date))
            for order in self.orders_for(rq.account_id):
                if order.status != "open":
                    await self._send(conn, self._snapshot(order))
            cls = p.response_show_order_history_summary_pb2.ResponseShowOrderHistorySummary
            await self._ok(conn, cls, rq, 325)
        elif template_id == 312:
            await self._new_order(conn, rq)
        elif template_id == 314:
            await self._modify(conn, rq)
        elif template_id == 316:
            await self._cancel(conn, rq)
        elif template_id == 100:
            await self._market_data(conn, rq)

    # -- plants ----------------------------------------------------------------------

    async def _login(self, conn: _Conn, rq: Any) -> None:
        cls = pb.response_login_pb2.ResponseLogin
        known = self.users.get(rq.user)
        if known is None or known[0] != rq.password or rq.system_name != self.system:
            msg = self._reply(cls, rq, 11)
            msg.rp_code.extend(["13", "permission denied"])
            await self._send(conn, msg)
            return
        conn.user, conn.infra = rq.user, rq.infra_type
        self.logins.append((rq.user, rq.infra_type))
        await self._ok(
            conn, cls, rq, 11, fcm_id="FAKE-FCM", ib_id="FAKE-IB", heartbeat_interval=60.0
        )

    def _owns(self, conn: _Conn, account: str) -> bool:
        return conn.user in self.users and account in self.users[conn.user][1]

    async def _new_order(self, conn: _Conn, rq: Any) -> None:
        cls = pb.response_new_order_pb2.ResponseNewOrder
        if not self._owns(conn, rq.account_id) or self.refuse_orders:
            msg = self._reply(cls, rq, 313, user_tag=rq.user_tag)
            msg.rp_code.extend(["3", self.refuse_orders or f"no such account {rq.account_id}"])
            await self._send(conn, msg)
            return
        self._seq += 1
        order = FakeOrder(
            basket_id=f"B{self._seq:06d}",
            account=rq.account_id,
            user_tag=rq.user_tag,
            symbol=rq.symbol,
            exchange=rq.exchange,
            side=rq.transaction_type,
            qty=rq.quantity,
            price_type=rq.price_type,
            price=rq.price,
            trigger_price=rq.trigger_price,
        )
        self.orders[order.basket_id] = order
        if self.lose_answers > 0:
            self.lose_answers -= 1
            conn.lost_tags.add(order.user_tag)
        if self.drop_after_orders is not None:
            self.drop_after_orders -= 1
            if self.drop_after_orders <= 0:
                self.drop_after_orders = None
                self._work(order)
                self.drop_connections()
                return
        if order.user_tag not in conn.lost_tags:
            await self._ok(conn, cls, rq, 313, user_tag=rq.user_tag, basket_id=order.basket_id)
        await self._push(order, Notify.STATUS)
        await self._work_and_push(order)

    def _work(self, order: FakeOrder) -> bool:
        """Fill ``order`` if the market allows; True when it filled."""
        price = self.prices.get(order.symbol)
        if price is None or order.status != "open":
            return False
        buy = order.side == BUY
        if order.price_type == MARKET:
            at = price
        elif order.price_type == LIMIT and (price <= order.price if buy else price >= order.price):
            at = order.price
        elif order.price_type == STOP_MARKET and (
            price >= order.trigger_price if buy else price <= order.trigger_price
        ):
            at = price
        else:
            return False
        self._seq += 1
        qty = order.qty - order.filled
        order.fills.append((f"X{self._seq:06d}", qty, at))
        order.status, order.completion = "complete", "filled"
        self._book(order.account, order.symbol, qty if buy else -qty, at)
        return True

    async def _work_and_push(self, order: FakeOrder) -> None:
        if self._work(order):
            await self._push(order, Notify.FILL)
            await self._push_position(order.account, order.symbol)

    def _book(self, account: str, symbol: str, signed: int, price: float) -> None:
        pos = self.positions.setdefault((account, symbol), [0, 0.0, 0.0])
        qty, avg = int(pos[0]), pos[1]
        if qty == 0 or (qty > 0) == (signed > 0):
            pos[1] = (avg * abs(qty) + price * abs(signed)) / (abs(qty) + abs(signed))
        else:
            closed = min(abs(qty), abs(signed))
            pos[2] += (price - avg) * closed * (1 if qty > 0 else -1)
            if abs(signed) > abs(qty):
                pos[1] = price
        pos[0] = qty + signed
        if pos[0] == 0:
            pos[1] = 0.0

    async def trade(self, symbol: str, price: float) -> None:
        """A print at ``price``: resting orders it reaches fill and are pushed."""
        self.prices[symbol] = price
        for order in list(self.orders.values()):
            if order.symbol == symbol:
                await self._work_and_push(order)
        await self.publish(symbol, price)

    async def _modify(self, conn: _Conn, rq: Any) -> None:
        cls = pb.response_modify_order_pb2.ResponseModifyOrder
        order = self.orders.get(rq.basket_id)
        if order is None or order.status != "open" or not self._owns(conn, order.account):
            msg = self._reply(cls, rq, 315)
            msg.rp_code.extend(["5", "order is not working"])
            await self._send(conn, msg)
            return
        order.qty = rq.quantity or order.qty
        order.price = rq.price
        order.trigger_price = rq.trigger_price
        await self._ok(conn, cls, rq, 315, basket_id=order.basket_id)
        await self._push(order, Notify.MODIFY)
        await self._work_and_push(order)

    async def _cancel(self, conn: _Conn, rq: Any) -> None:
        cls = pb.response_cancel_order_pb2.ResponseCancelOrder
        order = self.orders.get(rq.basket_id)
        if order is None or order.status != "open" or not self._owns(conn, order.account):
            msg = self._reply(cls, rq, 317)
            msg.rp_code.extend(["5", "order is not working"])
            await self._send(conn, msg)
            return
        order.status, order.completion = "complete", "cancelled"
        await self._ok(conn, cls, rq, 317, basket_id=order.basket_id)
        await self._push(order, Notify.CANCEL)
