"""A fake IB Gateway: a local TCP server speaking the TWS API wire protocol.

A real socket fake, so the adapter is tested through ib_async exactly as
it runs against IB: handshake (``API\\0`` + version range, answered with
server version and time), ``startApi`` answered with ``nextValidId`` and
``managedAccounts``, then ``placeOrder`` (new or modify), ``cancelOrder``,
``reqPositions``, ``reqOpenOrders`` / ``reqAllOpenOrders``,
``reqCompletedOrders`` and ``reqExecutions`` answered with ``openOrder``,
``orderStatus``, ``execDetails``, ``commissionReport``, ``position``,
``completedOrder`` and ``errorMsg`` (fields in :mod:`.fake_wire`).

Behaviour: market orders fill at once at ``prices[trading class]``;
limit and stop orders rest until :meth:`FakeGateway.fill` fills them. A
second connection with a client id in use gets error 326 and is closed
(as IB does). Orders are owned by the client id that placed them and shown
to it again after a reconnect. Test knobs: ``drop_after`` (close every
connection right after booking that many new orders, before answering the
last one), ``silent_refs`` (book orders with these ``orderRef`` without
answering), :meth:`drop` and :meth:`trade_elsewhere` (a fill of an order
placed outside the API, sent to every client as to a master client).
Market data (contract look-ups, ``reqMktData``, :meth:`publish`) is in
:mod:`.fake_market`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from routing.tests.brokers.ib.fake_market import FakeMarketData
from routing.tests.brokers.ib.fake_wire import (
    SERVER_VERSION,
    FakeContract,
    FakeExecution,
    FakeOrder,
    commission_report,
    completed_order,
    error,
    exec_details,
    frame,
    open_order,
    order_status,
    position,
    unframe,
)


class FakeGateway(FakeMarketData):
    """``FakeGateway(accounts, prices)``; ``await start()`` binds a free port
    on 127.0.0.1 (``port``); ``await stop()`` closes it."""

    def __init__(self, accounts: Sequence[str], prices: Mapping[str, Decimal]) -> None:
        self.accounts = tuple(accounts)
        self.prices = dict(prices)
        self.orders: list[FakeOrder] = []
        self.executions: list[tuple[FakeOrder, FakeExecution]] = []
        self.positions: dict[tuple[str, str], tuple[FakeContract, int, Decimal]] = {}
        self.realized: dict[tuple[str, str], Decimal] = {}
        self.drop_after: int | None = None
        self.silent_refs: set[str] = set()
        self.connects = 0
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None
        self._perm = 1000
        self._exec = 0
        self.port = 0
        self._init_market()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening (new connections are refused) and drop every client."""
        if self._server is not None:
            self._server.close()
            self.drop()
            await self._server.wait_closed()
            self._server = None

    def drop(self) -> None:
        """Cut every client connection at once (no goodbye)."""
        for writer in list(self._writers.values()):
            writer.transport.abort()
        self._writers.clear()

    def orders_by_ref(self, ref: str) -> list[FakeOrder]:
        return [o for o in self.orders if o.order_ref == ref]

    # -- connection --

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_id: int | None = None
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            _, buffer = unframe(await reader.read(4096))
            writer.write(frame([SERVER_VERSION, "20261203 16:00:00 UTC"]))
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                messages, buffer = unframe(buffer + data)
                for fields in messages:
                    if fields[0] == "71":
                        client_id = int(fields[2])
                        if client_id in self._writers:
                            writer.write(frame(error(-1, 326, "client id is already in use")))
                            client_id = None
                            return
                        self._writers[client_id] = writer
                        self.connects += 1
                        next_id = max((o.order_id for o in self.orders), default=0) + 1
                        writer.write(frame([9, 1, next_id]))
                        writer.write(frame([15, 1, ",".join(self.accounts)]))
                    elif client_id is not None:
                        self._handle(client_id, writer, fields)
                    if writer.transport.is_closing():
                        return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if client_id is not None and self._writers.get(client_id) is writer:
                del self._writers[client_id]
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.close()

    def _handle(self, client_id: int, w: asyncio.StreamWriter, fields: list[str]) -> None:
        def send(*messages: list[object]) -> None:
            for message in messages:
                w.write(frame(message))

        match int(fields[0]):
            case 3:
                self._place(client_id, w, fields)
            case 4:
                self._cancel(client_id, w, int(fields[2]))
            case 5 | 16:
                for o in self.orders:
                    if not o.done and (fields[0] == "16" or o.client_id == client_id):
                        send(open_order(o), order_status(o))
                send([53, 1])
            case 99:
                send(*(completed_order(o) for o in self.orders if o.done), [102])
            case 7:
                req_id = int(fields[2])
                for o, ex in self.executions:
                    send(exec_details(req_id, o, ex), commission_report(ex))
                send([55, 1, req_id])
            case 61:
                for (account, _), (c, qty, avg) in sorted(self.positions.items()):
                    send(position(account, c, qty, avg * Decimal(c.multiplier)))
                send([62, 1])
            case 1 | 2 | 9 | 59:
                self._market(w, fields)
            case 49:
                send([49, 1, int(datetime.now(UTC).timestamp())])
            case _:
                pass  # requests the adapter does not use are ignored

    # -- orders --

    def _place(self, client_id: int, w: asyncio.StreamWriter, f: list[str]) -> None:
        order_id = int(f[1])
        existing = next(
            (o for o in self.orders if o.client_id == client_id and o.order_id == order_id), None
        )
        if existing is not None:
            self._modify(w, existing, f)
            return
        contract = FakeContract(
            symbol=f[3],
            month=f[5],
            multiplier=f[8],
            exchange=f[9],
            local_symbol=f[12],
            trading_class=f[13],
            con_id=abs(hash((f[3], f[5]))) % 10**8,
        )
        self._perm += 1
        order = FakeOrder(
            client_id=client_id,
            order_id=order_id,
            perm_id=self._perm,
            contract=contract,
            account=f[23],
            action=f[16],
            qty=int(Decimal(f[17])),
            order_type=f[18],
            lmt=f[19],
            aux=f[20],
            tif=f[21],
            order_ref=f[26],
        )
        self.orders.append(order)
        price = self.prices.get(contract.trading_class)
        rejection = None
        if order.account not in self.accounts:
            rejection = (201, f"Order rejected - reason: account {order.account} not found")
        elif price is None:
            rejection = (200, "No security definition has been found for the request")
        if rejection is not None:
            order.status = "Inactive"
        elif order.order_type == "MKT":
            self._execute(order, order.qty, price)  # type: ignore[arg-type]
        if self.drop_after is not None and len(self.orders) >= self.drop_after:
            self.drop_after = None
            self.drop()
            return
        if order.order_ref in self.silent_refs:
            return
        if rejection is not None:
            w.write(frame(error(order_id, *rejection)))
            w.write(frame(order_status(order)))
            return
        self._announce(order, w, executed=order.exec_ids)

    def _announce(
        self, order: FakeOrder, w: asyncio.StreamWriter, *, executed: Sequence[str]
    ) -> None:
        """openOrder + orderStatus, then the given executions live."""
        status, order.status = order.status, "Submitted" if executed else order.status
        w.write(frame(open_order(order)))
        w.write(frame(order_status(order)))
        order.status = status
        for o, ex in self.executions:
            if ex.exec_id in executed:
                w.write(frame(exec_details(-1, o, ex)))
        if executed:
            w.write(frame(order_status(order)))
            for _, ex in self.executions:
                if ex.exec_id in executed:
                    w.write(frame(commission_report(ex)))

    def _modify(self, w: asyncio.StreamWriter, o: FakeOrder, f: list[str]) -> None:
        if o.done:
            w.write(frame(error(o.order_id, 104, "Cannot modify a filled order.")))
            return
        qty = int(Decimal(f[17]))
        if qty <= o.filled:
            w.write(frame(error(o.order_id, 321, "Error validating request: quantity")))
            return
        o.qty, o.lmt, o.aux = qty, f[19], f[20]
        w.write(frame(open_order(o)))
        w.write(frame(order_status(o)))

    def _cancel(self, client_id: int, w: asyncio.StreamWriter, order_id: int) -> None:
        o = next(
            (o for o in self.orders if o.client_id == client_id and o.order_id == order_id), None
        )
        if o is None:
            w.write(frame(error(order_id, 10147, f"OrderId {order_id} is not found.")))
        elif o.done:
            w.write(frame(error(order_id, 161, "Cancel attempted when order is not cancellable")))
        else:
            o.status = "Cancelled"
            w.write(frame(order_status(o)))
            w.write(frame(error(order_id, 202, "Order Canceled - reason:")))

    def fill(self, order_ref: str, qty: int, price: Decimal) -> None:
        """Fill ``qty`` of the working order with ``order_ref`` at ``price``
        and tell its client (if connected)."""
        (o,) = [o for o in self.orders if o.order_ref == order_ref and not o.done]
        ex = self._execute(o, qty, price)
        w = self._writers.get(o.client_id)
        if w is not None:
            w.write(frame(exec_details(-1, o, ex)))
            w.write(frame(order_status(o)))
            w.write(frame(commission_report(ex)))

    def trade_elsewhere(
        self, account: str, contract: FakeContract, action: str, qty: int, price: Decimal
    ) -> FakeOrder:
        """A market order placed outside the API (TWS, client id 0, order
        id 0) and filled; every connected client hears of it."""
        self._perm += 1
        o = FakeOrder(0, 0, self._perm, contract, account, action, qty, "MKT", "", "", "DAY", "")
        self.orders.append(o)
        ex = self._execute(o, qty, price)
        for w in self._writers.values():
            o.status, status = "Submitted", o.status
            w.write(frame(open_order(o)))
            o.status = status
            w.write(frame(exec_details(-1, o, ex)))
            w.write(frame(order_status(o)))
            w.write(frame(commission_report(ex)))
        return o

    def _execute(self, o: FakeOrder, qty: int, price: Decimal) -> FakeExecution:
        self._exec += 1
        o.filled += qty
        o.cost += price * qty
        o.status = "Filled" if o.filled >= o.qty else "Submitted"
        key = (o.account, o.contract.local_symbol or o.contract.month)
        c, held, avg = self.positions.get(key, (o.contract, 0, Decimal(0)))
        signed = qty if o.action == "BUY" else -qty
        realized = Decimal(0)
        if held and (held > 0) != (signed > 0):
            closed = min(abs(held), qty)
            realized = (price - avg) * closed * (1 if held > 0 else -1) * Decimal(c.multiplier)
        new = held + signed
        if new == 0:
            avg = Decimal(0)
        elif held == 0 or (held > 0) != (new > 0):
            avg = price
        elif abs(new) > abs(held):
            avg = (avg * abs(held) + price * qty) / abs(new)
        self.positions[key] = (c, new, avg)
        ex = FakeExecution(
            exec_id=f"0000fake.{o.perm_id}.{self._exec:02d}",
            perm_id=o.perm_id,
            qty=qty,
            price=price,
            time=datetime.now(UTC),
            cum_qty=o.filled,
            avg=o.avg,
            realized=realized,
        )
        o.exec_ids.append(ex.exec_id)
        self.executions.append((o, ex))
        return ex
