"""Orders at Tradovate: place (idempotent per client order id), look up,
modify, cancel, positions and flatten, for :class:`TradovateAdapter`.

Source: Tradovate API documentation, "Place Order" (POST
``/order/placeorder``: ``accountSpec``, ``accountId``, ``clOrdId``,
``action``, ``symbol``, ``orderQty``, ``orderType``, ``price``,
``stopPrice``, ``isAutomated`` -> ``{"orderId"}`` or ``{"failureReason",
"failureText"}``), "Modify Order", "Cancel Order", "Order List", "Command
List" (the ``New`` command carries the ``clOrdId``), "Fill List",
"Order Version Dependents", "Position List", "Contract Find/Item".

Tradovate does not enforce ``clOrdId`` unique, so an order whose answer was
lost (:class:`~routing.brokers.tradovate.session.OutcomeUnknownError`) is
remembered as uncertain, and the next ``place_order`` of that id first
lists the account's orders and their commands to find it: it is resent
only when Tradovate has no order with that ``clOrdId``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.budget import Priority
from routing.brokers.tradovate.book import EntityBook
from routing.brokers.tradovate.protocol import (
    ACTIONS,
    ORDER_TYPES,
    json_price,
    order_result,
    price,
)
from routing.brokers.tradovate.session import OutcomeUnknownError, TradovateSession
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import ContractSpec, OrderType, Side

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Login:
    """One login's REST session and entity book, as the orders code needs them."""

    session: TradovateSession
    book: EntityBook


def request_problem(order: OrderRequest, specs: dict[str, ContractSpec]) -> str | None:
    """Why ``order`` cannot be sent (a REJECTED reason), or ``None``."""
    if order.qty <= 0:
        return f"QTY_INVALID: qty must be > 0, got {order.qty}"
    try:
        contract = parse_contract(order.symbol)
    except SymbolError as exc:
        return f"UNKNOWN_SYMBOL: {exc}"
    if contract.root not in specs:
        return f"UNKNOWN_SYMBOL: root={contract.root!r} symbol={order.symbol!r} has no spec"
    if order.stop_loss is not None or order.take_profit is not None:
        return "BRACKET_UNSUPPORTED: Tradovate brackets are not sent by this adapter"
    wants_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    wants_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if wants_limit != (order.limit_price is not None):
        return f"PRICE_INVALID: {order.order_type} limit price {order.limit_price}"
    if wants_stop != (order.stop_price is not None):
        return f"PRICE_INVALID: {order.order_type} stop price {order.stop_price}"
    for value in (order.limit_price, order.stop_price):
        if value is not None and (not value.is_finite() or value <= 0):
            return f"PRICE_INVALID: {value}"
    return None


class OrdersMixin:
    """The order methods of :class:`~routing.brokers.tradovate.adapter.TradovateAdapter`."""

    if TYPE_CHECKING:
        _specs: dict[str, ContractSpec]
        _ack_wait: float
        _uncertain: set[tuple[str, str]]
        _rejections: dict[tuple[str, str], OrderResult]
        _order_locks: dict[tuple[str, str], asyncio.Lock]

        def _login_for(self, account: str) -> tuple[Login, int]: ...

    # -- lookups -------------------------------------------------------------------

    async def _contract_id(self, login: Login, symbol: str) -> int | None:
        for contract_id, name in login.book.contracts.items():
            if name == symbol:
                return contract_id
        found = await login.session.call(
            "GET", "/contract/find", Priority.QUERY, params={"name": symbol}
        )
        if not isinstance(found, dict) or "id" not in found:
            return None
        login.book.apply("contract", found)
        return int(found["id"])

    async def _contract_name(self, login: Login, contract_id: int) -> str:
        name = login.book.contracts.get(contract_id)
        if name is None:
            found = await login.session.call(
                "GET", "/contract/item", Priority.QUERY, params={"id": contract_id}
            )
            login.book.apply("contract", found)
            name = login.book.contracts[contract_id]
        return parse_contract(name).code

    async def _result(
        self, login: Login, account: str, client_id: str, order_id: int
    ) -> OrderResult:
        order = login.book.orders.get(order_id)
        version = login.book.versions.get(order_id)
        symbol = "" if order is None else await self._contract_name(login, int(order["contractId"]))
        return order_result(
            client_order_id=client_id,
            order_id=order_id,
            ord_status="PendingNew" if order is None else str(order["ordStatus"]),
            fills=login.book.order_fills(order_id),
            account=account,
            symbol=symbol,
            order_qty=int(version["orderQty"]) if version else None,
        )

    async def _lookup(self, login: Login, account_id: int, client_id: str) -> int | None:
        """Find the order of ``account_id`` sent with ``client_id`` at Tradovate
        (order list, then the ``New`` commands, then its fills); ``None`` when
        there is none. Several (a duplicate already at the broker) are logged
        as an error and the oldest is used."""
        orders = await login.session.call("GET", "/order/list", Priority.QUERY) or []
        mine = {int(o["id"]): o for o in orders if int(o["accountId"]) == account_id}
        commands = await login.session.call("GET", "/command/list", Priority.QUERY) or []
        matching = [
            c
            for c in commands
            if c.get("clOrdId") == client_id
            and c.get("commandType") == "New"
            and int(c["orderId"]) in mine
        ]
        if not matching:
            return None
        ids = sorted({int(c["orderId"]) for c in matching})
        if len(ids) > 1:
            logger.error("tradovate holds %d orders with clOrdId %s: %s", len(ids), client_id, ids)
        for command in matching:
            login.book.apply("command", command)
        for order_id in ids:
            login.book.apply("order", mine[order_id])
        fills = await login.session.call("GET", "/fill/list", Priority.QUERY) or []
        for fill in fills:
            if int(fill["orderId"]) in ids:
                login.book.apply("fill", fill)
        await login.book.notify()
        return ids[0]

    async def _known_order(
        self, login: Login, account: str, account_id: int, client_id: str
    ) -> int | None:
        """The order id for ``client_id``: from the book, else looked up."""
        ids = login.book.order_ids(account_id, client_id)
        if ids and (account, client_id) not in self._uncertain:
            return ids[0]
        order_id = await self._lookup(login, account_id, client_id)
        self._uncertain.discard((account, client_id))
        return order_id

    # -- place -------------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` once per ``(account, client_order_id)``.

        A repeat returns the order's current result without sending. A
        repeat after an unknown outcome looks the ``clOrdId`` up at
        Tradovate first and sends only when it is not there. Refusals
        (bad size, unknown root or contract, missing prices, brackets,
        Tradovate's ``failureReason``) are REJECTED results. Waits up to the
        adapter's ``ack_wait`` seconds for the sync stream to report the
        order (a market order: its fills), else returns it WORKING. Raises
        ``BrokerTemporaryError`` (nothing sent while the login is down;
        outcome unknown after a lost answer), ``BrokerFatal`` for an account
        no login holds or a FAILED login.
        """
        login, account_id = self._login_for(order.account)
        key = (order.account, order.client_order_id)
        lock = self._order_locks.setdefault(key, asyncio.Lock())
        async with lock:  # a concurrent repeat waits for the first, then finds it
            return await self._place_once(login, account_id, order)

    async def _place_once(self, login: Login, account_id: int, order: OrderRequest) -> OrderResult:
        key = (order.account, order.client_order_id)
        if key in self._rejections:
            return self._rejections[key]
        login.session.require_usable()
        ids = login.book.order_ids(account_id, order.client_order_id)
        if ids or key in self._uncertain:
            found = await self._known_order(login, order.account, account_id, order.client_order_id)
            if found is not None:
                return await self._result(login, order.account, order.client_order_id, found)
        problem = request_problem(order, self._specs)
        if problem is not None:
            return self._reject(key, problem)
        symbol = parse_contract(order.symbol).code
        contract_id = await self._contract_id(login, symbol)
        if contract_id is None:
            return self._reject(key, f"UNKNOWN_CONTRACT: Tradovate has no contract {symbol!r}")
        net = login.book.net_position(account_id, contract_id)
        reduces = net != 0 and (net > 0) != (order.side == Side.BUY) and order.qty <= abs(net)
        return await self._send(
            login,
            order,
            account_id,
            symbol,
            Priority.EXIT if reduces or order.closing else Priority.ENTRY,
        )

    async def _send(
        self, login: Login, order: OrderRequest, account_id: int, symbol: str, priority: Priority
    ) -> OrderResult:
        key = (order.account, order.client_order_id)
        body: dict[str, Any] = {
            "accountSpec": login.session.account_names.get(account_id, str(account_id)),
            "accountId": account_id,
            "clOrdId": order.client_order_id,
            "action": ACTIONS[order.side],
            "symbol": symbol,
            "orderQty": order.qty,
            "orderType": ORDER_TYPES[order.order_type],
            "isAutomated": True,
        }
        if order.limit_price is not None:
            body["price"] = json_price(order.limit_price)
        if order.stop_price is not None:
            body["stopPrice"] = json_price(order.stop_price)
        try:
            answer = await login.session.call("POST", "/order/placeorder", priority, body=body)
        except OutcomeUnknownError:
            self._uncertain.add(key)
            raise
        if not isinstance(answer, dict) or "orderId" not in answer:
            reason = answer.get("failureReason", "") if isinstance(answer, dict) else ""
            text = (
                answer.get("failureText") or answer.get("errorText") or ""
                if isinstance(answer, dict)
                else f"unexpected answer {answer!r}"
            )
            return self._reject(key, f"TRADOVATE_REJECTED: {reason}: {text}".strip())
        order_id = int(answer["orderId"])
        book = login.book
        book.apply("command", {"orderId": order_id, "clOrdId": order.client_order_id,
                               "commandType": "New"})  # fmt: skip
        book.orders.setdefault(order_id, {"id": order_id, "accountId": account_id,
                                          "ordStatus": "PendingNew"})  # fmt: skip
        book.apply("order", book.orders[order_id])
        market = order.order_type == OrderType.MARKET
        await book.wait_for(
            lambda: (
                book.is_final(order_id) or (not market and book.status(order_id) != "PendingNew")
            ),
            self._ack_wait,
        )
        if "contractId" not in book.orders[order_id]:
            book.orders[order_id]["contractId"] = await self._contract_id(login, symbol)
        return await self._result(login, order.account, order.client_order_id, order_id)

    def _reject(self, key: tuple[str, str], reason: str) -> OrderResult:
        result = OrderResult.rejected(key[1], reason)
        self._rejections[key] = result
        return result

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """The order's current result (the book while the stream is up, else a
        lookup at Tradovate); ``None`` when Tradovate has no such order.
        Raises ``BrokerTemporaryError`` while the login is down."""
        login, account_id = self._login_for(account)
        if (account, client_order_id) in self._rejections:
            return self._rejections[(account, client_order_id)]
        login.session.require_usable()
        order_id = await self._known_order(login, account, account_id, client_order_id)
        if order_id is None:
            return None
        return await self._result(login, account, client_order_id, order_id)

    # -- modify / cancel -------------------------------------------------------------

    async def modify_order(
        self,
        account: str,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time: datetime | None = None,
    ) -> OrderResult | None:
        """Change a working order (``/order/modifyorder``, budget priority
        MODIFY keyed by the client order id, so a newer change supersedes a
        waiting one). Refusals come back as the unchanged result with
        ``reason``; ``None`` when Tradovate has no such order."""
        login, account_id = self._login_for(account)
        login.session.require_usable()
        order_id = await self._known_order(login, account, account_id, client_order_id)
        if order_id is None:
            return None
        current = await self._result(login, account, client_order_id, order_id)
        if current.is_final:
            return current
        version = await self._version(login, order_id)
        order_type = str(version.get("orderType", ""))
        refusal = None
        if qty is not None and qty <= current.filled_qty:
            refusal = f"MODIFY_QTY_NOT_ABOVE_FILLED: qty {qty} <= filled {current.filled_qty}"
        elif limit_price is not None and order_type not in ("Limit", "StopLimit"):
            refusal = f"MODIFY_PRICE_NOT_APPLICABLE: {order_type} order has no limit price"
        elif stop_price is not None and order_type not in ("Stop", "StopLimit"):
            refusal = f"MODIFY_PRICE_NOT_APPLICABLE: {order_type} order has no stop price"
        if refusal is not None:
            return dataclasses.replace(current, reason=refusal)
        body: dict[str, Any] = {
            "orderId": order_id,
            "orderQty": qty if qty is not None else int(version["orderQty"]),
            "orderType": order_type,
            "isAutomated": True,
        }
        for field_name, new, old in (
            ("price", limit_price, version.get("price")),
            ("stopPrice", stop_price, version.get("stopPrice")),
        ):
            value = new if new is not None else (None if old is None else price(old))
            if value is not None:
                body[field_name] = json_price(value)
        answer = await login.session.call(
            "POST", "/order/modifyorder", Priority.MODIFY, body=body, key=client_order_id
        )
        if answer is None:
            return dataclasses.replace(current, reason="MODIFY_SUPERSEDED: a newer change won")
        if isinstance(answer, dict) and answer.get("failureReason"):
            text = f"{answer.get('failureReason')}: {answer.get('failureText', '')}"
            return dataclasses.replace(current, reason=f"TRADOVATE_REFUSED: {text}")
        await login.book.wait_for(
            lambda: (
                login.book.versions.get(order_id, {}).get("orderQty") == body["orderQty"]
                and all(
                    login.book.versions.get(order_id, {}).get(f) == body.get(f)
                    for f in ("price", "stopPrice")
                )
            ),
            self._ack_wait,
        )
        return await self._result(login, account, client_order_id, order_id)

    async def _version(self, login: Login, order_id: int) -> dict[str, Any]:
        version = login.book.versions.get(order_id)
        if version is None:
            found = await login.session.call(
                "GET", "/orderVersion/deps", Priority.QUERY, params={"masterid": order_id}
            )
            for entity in found or []:
                login.book.apply("orderVersion", entity)
            version = login.book.versions.get(order_id, {})
        return version

    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        """Cancel the order's working rest (``/order/cancelorder``, priority
        EXIT: a cancel only removes risk). A final order comes back unchanged;
        ``None`` when Tradovate has no such order. Waits up to ``ack_wait``
        for the cancel to show, else returns the order as it stands."""
        login, account_id = self._login_for(account)
        login.session.require_usable()
        order_id = await self._known_order(login, account, account_id, client_order_id)
        if order_id is None:
            return None
        return await self._cancel(login, account, client_order_id, order_id, Priority.EXIT)

    async def _cancel(
        self, login: Login, account: str, client_id: str, order_id: int, priority: Priority
    ) -> OrderResult:
        if not login.book.is_final(order_id):
            body = {"orderId": order_id, "isAutomated": True}
            await login.session.call("POST", "/order/cancelorder", priority, body=body)
            await login.book.wait_for(lambda: login.book.is_final(order_id), self._ack_wait)
        return await self._result(login, account, client_id, order_id)
