"""The fake Tradovate's books: users, accounts, contracts, orders, fills, positions.

Entities are the dicts Tradovate's API returns (field names from its
documentation); every change is reported to ``on_event(user_id,
entity_type, event_type, entity)`` so the server can push it as a
``props`` event. Market orders fill at once at the contract's set price;
other orders rest until :meth:`FakeExchange.fill_working`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from routing.brokers.tradovate.protocol import format_time

LIVE = frozenset({"Working", "PendingNew"})
EventSink = Callable[[int, str, str, dict[str, Any]], None]


@dataclass
class FakeUser:
    user_id: int
    name: str
    password: str
    cid: int
    secret: str


@dataclass
class FakeExchange:
    """The broker side: what a real Tradovate would hold for its users."""

    on_event: EventSink = lambda *_: None
    users: dict[str, FakeUser] = field(default_factory=dict)
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[int, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    # -- set-up ------------------------------------------------------------------

    def add_user(self, name: str, password: str, *, cid: int = 8, secret: str = "s3cret") -> int:
        user = FakeUser(next(self._ids), name, password, cid, secret)
        self.users[name] = user
        return user.user_id

    def add_account(self, user_name: str, account_name: str) -> int:
        account_id = next(self._ids)
        self.accounts[account_id] = {
            "id": account_id,
            "name": account_name,
            "userId": self.users[user_name].user_id,
            "accountType": "Customer",
            "active": True,
        }
        return account_id

    def add_contract(self, name: str, price: Decimal | None = None) -> int:
        contract_id = next(self._ids)
        self.contracts[contract_id] = {"id": contract_id, "name": name, "contractMaturityId": 1}
        if price is not None:
            self.prices[name] = price
        return contract_id

    def contract_named(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.contracts.values() if c["name"] == name), None)

    def user_of(self, account_id: int) -> int:
        return int(self.accounts[account_id]["userId"])

    def user_accounts(self, user_id: int) -> set[int]:
        return {a for a, row in self.accounts.items() if row["userId"] == user_id}

    # -- orders ------------------------------------------------------------------

    def place(self, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``/order/placeorder``: ``{"orderId"}`` or a failure answer."""
        account_id = int(body.get("accountId", 0))
        account = self.accounts.get(account_id)
        if account is None or account["userId"] != user_id:
            return _failure("UnknownAccount", f"account {account_id} is not yours")
        if body.get("accountSpec") not in (None, account["name"]):
            return _failure("UnknownAccount", f"accountSpec {body.get('accountSpec')!r}")
        contract = self.contract_named(str(body.get("symbol")))
        if contract is None:
            return _failure("UnknownReason", f"Unknown symbol {body.get('symbol')!r}")
        qty = body.get("orderQty")
        if not isinstance(qty, int) or qty <= 0:
            return _failure("UnknownReason", f"orderQty {qty!r}")
        now = _now()
        order_id = next(self._ids)
        command = {
            "id": next(self._ids),
            "orderId": order_id,
            "timestamp": now,
            "clOrdId": body.get("clOrdId"),
            "commandType": "New",
            "commandStatus": "RiskPassed",
            "isAutomated": bool(body.get("isAutomated")),
        }
        self.commands.append(command)
        self._emit(user_id, "command", "Created", command)
        self._version(user_id, order_id, body)
        order = {
            "id": order_id,
            "accountId": account_id,
            "contractId": contract["id"],
            "timestamp": now,
            "action": body["action"],
            "ordStatus": "Working",
            "admin": False,
        }
        self.orders[order_id] = order
        self._emit(user_id, "order", "Created", order)
        if body.get("orderType") == "Market" and contract["name"] in self.prices:
            self.fill_working(order_id, self.prices[contract["name"]])
        return {"orderId": order_id}

    def _version(self, user_id: int, order_id: int, body: dict[str, Any]) -> None:
        version = {
            "id": next(self._ids),
            "orderId": order_id,
            "orderQty": body["orderQty"],
            "orderType": body["orderType"],
            "price": body.get("price"),
            "stopPrice": body.get("stopPrice"),
        }
        self.versions.append(version)
        self._emit(user_id, "orderVersion", "Created", version)

    def version_of(self, order_id: int) -> dict[str, Any]:
        return [v for v in self.versions if v["orderId"] == order_id][-1]

    def filled_qty(self, order_id: int) -> int:
        return sum(f["qty"] for f in self.fills if f["orderId"] == order_id)

    def fill_working(self, order_id: int, price: Decimal, qty: int | None = None) -> None:
        """Fill ``qty`` (default: all the rest) of a working order at ``price``."""
        order = self.orders[order_id]
        user_id = self.user_of(order["accountId"])
        rest = self.version_of(order_id)["orderQty"] - self.filled_qty(order_id)
        qty = rest if qty is None else min(qty, rest)
        fill = {
            "id": next(self._ids),
            "orderId": order_id,
            "contractId": order["contractId"],
            "timestamp": _now(),
            "tradeDate": {"year": 2026, "month": 12, "day": 3},
            "action": order["action"],
            "qty": qty,
            "price": float(price),
            "active": True,
            "finallyPaired": 0,
        }
        self.fills.append(fill)
        self._emit(user_id, "fill", "Created", fill)
        if qty == rest:
            order["ordStatus"] = "Filled"
            self._emit(user_id, "order", "Updated", order)
        self._position(user_id, order, qty, price)

    def _position(self, user_id: int, order: dict[str, Any], qty: int, price: Decimal) -> None:
        key = (order["accountId"], order["contractId"])
        row = self.positions.get(key)
        if row is None:
            row = self.positions[key] = {
                "id": next(self._ids),
                "accountId": key[0],
                "contractId": key[1],
                "netPos": 0,
                "netPrice": None,
                "bought": 0,
                "boughtValue": 0.0,
                "sold": 0,
                "soldValue": 0.0,
                "prevPos": 0,
            }
        signed = qty if order["action"] == "Buy" else -qty
        if order["action"] == "Buy":
            row["bought"] += qty
            row["boughtValue"] = float(Decimal(str(row["boughtValue"])) + price * qty)
        else:
            row["sold"] += qty
            row["soldValue"] = float(Decimal(str(row["soldValue"])) + price * qty)
        old = row["netPos"]
        new = old + signed
        if new == 0:
            row["netPrice"] = None
        elif old == 0 or (old > 0) != (new > 0):
            row["netPrice"] = float(price)
        elif abs(new) > abs(old):
            total = Decimal(str(row["netPrice"])) * abs(old) + price * qty
            row["netPrice"] = float(total / abs(new))
        row["netPos"] = new
        row["timestamp"] = _now()
        self._emit(user_id, "position", "Updated", row)

    def modify(self, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(body.get("orderId", 0)))
        if order is None or self.user_of(order["accountId"]) != user_id:
            return _failure("UnknownOrder", "no such order")
        if order["ordStatus"] not in LIVE:
            return _failure("TooLate", f"order is {order['ordStatus']}")
        if body["orderQty"] <= self.filled_qty(order["id"]):
            return _failure("UnknownReason", "orderQty not above the filled quantity")
        self._version(user_id, order["id"], body)
        return {"commandId": self._command(user_id, order["id"], "Modify")}

    def cancel(self, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(int(body.get("orderId", 0)))
        if order is None or self.user_of(order["accountId"]) != user_id:
            return _failure("UnknownOrder", "no such order")
        if order["ordStatus"] not in LIVE:
            return _failure("TooLate", f"order is {order['ordStatus']}")
        command_id = self._command(user_id, order["id"], "Cancel")
        order["ordStatus"] = "Canceled"
        self._emit(user_id, "order", "Updated", order)
        return {"commandId": command_id}

    def _command(self, user_id: int, order_id: int, kind: str) -> int:
        command = {
            "id": next(self._ids),
            "orderId": order_id,
            "timestamp": _now(),
            "commandType": kind,
            "commandStatus": "RiskPassed",
            "isAutomated": True,
        }
        self.commands.append(command)
        self._emit(user_id, "command", "Created", command)
        return int(command["id"])

    def _emit(
        self, user_id: int, entity_type: str, event_type: str, entity: dict[str, Any]
    ) -> None:
        self.on_event(user_id, entity_type, event_type, dict(entity))

    # -- reads (one user's) ------------------------------------------------------

    def snapshot(self, user_id: int) -> dict[str, Any]:
        """What ``user/syncrequest`` answers: every entity of the user."""
        mine = self.user_accounts(user_id)
        order_ids = {o for o, row in self.orders.items() if row["accountId"] in mine}
        return {
            "users": [{"id": user_id}],
            "accounts": [self.accounts[a] for a in sorted(mine)],
            "contracts": list(self.contracts.values()),
            "orders": [self.orders[o] for o in sorted(order_ids)],
            "commands": [c for c in self.commands if c["orderId"] in order_ids],
            "orderVersions": [v for v in self.versions if v["orderId"] in order_ids],
            "fills": [f for f in self.fills if f["orderId"] in order_ids],
            "positions": [p for p in self.positions.values() if p["accountId"] in mine],
        }

    def orders_with_client_id(self, client_order_id: str) -> list[int]:
        """Order ids whose New command carried ``client_order_id`` (tests)."""
        return [
            c["orderId"]
            for c in self.commands
            if c["commandType"] == "New" and c.get("clOrdId") == client_order_id
        ]


def _failure(reason: str, text: str) -> dict[str, Any]:
    return {"failureReason": reason, "failureText": text}


def _now() -> str:
    return format_time(datetime.now(UTC))
