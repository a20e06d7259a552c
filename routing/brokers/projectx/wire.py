"""ProjectX Gateway wire values <-> Copytrade's broker values.

Codes from the ProjectX Gateway API docs (and project-x-py's
``models.OrderUpdateEvent``): order ``type`` 1 Limit, 2 Market, 4 Stop;
``side`` 0 Bid (buy), 1 Ask (sell); order ``status`` 0 None, 1 Open,
2 Filled, 3 Cancelled, 4 Expired, 5 Rejected, 6 Pending; position
``type`` 1 Long, 2 Short. Prices arrive as JSON numbers and become
``Decimal`` through their shortest decimal text; times are ISO 8601 (UTC
when the text has no offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from routing.brokers.base import BrokerFill, OrderRequest, OrderResult, OrderStatus
from routing.brokers.projectx.symbols import ProjectXSymbolError, engine_symbol
from routing.engine.types import LeaderFill, OrderType, Side

ORDER_TYPES: dict[OrderType, int] = {OrderType.LIMIT: 1, OrderType.MARKET: 2, OrderType.STOP: 4}
SIDES: dict[Side, int] = {Side.BUY: 0, Side.SELL: 1}
OPEN, FILLED, CANCELLED, EXPIRED, REJECTED, PENDING = 1, 2, 3, 4, 5, 6
FINAL = frozenset({FILLED, CANCELLED, EXPIRED, REJECTED})


def decimal(value: Any, what: str) -> Decimal:
    """``Decimal`` of a JSON number; raises ``ValueError`` naming ``what``."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:  # an ArithmeticError, not a ValueError
        raise ValueError(f"{what}: expected a number, got {value!r}") from exc


def timestamp(text: Any) -> datetime:
    """An aware UTC time from an ISO 8601 text."""
    time = datetime.fromisoformat(str(text))
    return time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)


def unwrap(argument: Any) -> dict[str, Any] | None:
    """The payload of a hub event: ``{"action", "data"}`` or the bare object."""
    if isinstance(argument, dict):
        inner = argument.get("data")
        return inner if isinstance(inner, dict) else argument
    return None


def side_of(code: Any) -> Side:
    if code == 0:
        return Side.BUY
    if code == 1:
        return Side.SELL
    raise ValueError(f"unknown ProjectX side {code!r}")


def place_payload(order: OrderRequest, account_id: int, contract: str) -> dict[str, Any]:
    """The ``/Order/place`` body; the caller checked the type and prices."""
    return {
        "accountId": account_id,
        "contractId": contract,
        "type": ORDER_TYPES[order.order_type],
        "side": SIDES[order.side],
        "size": order.qty,
        "limitPrice": None if order.limit_price is None else float(order.limit_price),
        "stopPrice": None if order.stop_price is None else float(order.stop_price),
        "trailPrice": None,
        "customTag": order.client_order_id,
        "linkedOrderId": None,
    }


def request_problem(order: OrderRequest) -> str:
    """Why ``order`` cannot go to ProjectX as it is, or ``""``."""
    if order.qty <= 0:
        return f"quantity must be a positive number of contracts, got {order.qty}"
    if order.order_type not in ORDER_TYPES:
        return f"order type {order.order_type.value} is not supported on ProjectX"
    if order.stop_loss is not None or order.take_profit is not None:
        return "bracket orders (stop_loss / take_profit) are not supported on ProjectX yet"
    needs_limit = order.order_type is OrderType.LIMIT
    needs_stop = order.order_type is OrderType.STOP
    kind = order.order_type.value
    if needs_limit != (order.limit_price is not None):
        return f"a {kind} order {'needs' if needs_limit else 'takes no'} limit_price"
    if needs_stop != (order.stop_price is not None):
        return f"a {kind} order {'needs' if needs_stop else 'takes no'} stop_price"
    return ""


@dataclass
class KnownOrder:
    """What the adapter knows of one order it placed (or found) at ProjectX.

    ``order`` is the last order object seen (REST or hub), ``trades`` the
    order's executions by trade id.
    """

    account: str
    client_order_id: str
    order: dict[str, Any] | None = None
    trades: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def order_id(self) -> int | None:
        return None if self.order is None else int(self.order["id"])

    @property
    def settled(self) -> bool:
        """Final at ProjectX with every execution it reports seen."""
        if self.order is None or self.order.get("status") not in FINAL:
            return False
        return self._traded() >= int(self.order.get("fillVolume") or 0)

    def _traded(self) -> int:
        return sum(int(t["size"]) for t in self.trades.values() if not t.get("voided"))

    def result(self, reason: str = "") -> OrderResult:
        """The order as an :class:`OrderResult` (``reason`` added for a refused change)."""
        assert self.order is not None, "an order not seen at ProjectX has no result"
        order = self.order
        fills = tuple(self._fill(t) for _, t in sorted(self.trades.items()) if not t.get("voided"))
        filled = sum(f.qty for f in fills)
        avg = (sum((f.price * f.qty for f in fills), Decimal(0)) / filled) if filled else None
        volume = int(order.get("fillVolume") or 0)
        if volume > filled and order.get("filledPrice") is not None:
            # The hub has not brought every execution yet: the order's own figures.
            filled, avg = volume, decimal(order["filledPrice"], "filledPrice")
        code = order.get("status")
        if code == FILLED:
            status = OrderStatus.FILLED
        elif code in (CANCELLED, EXPIRED):
            status = OrderStatus.CANCELLED
            what = "cancelled" if code == CANCELLED else "expired"
            reason = reason or f"{what} at ProjectX after {filled} filled"
        elif code == REJECTED:
            status = OrderStatus.REJECTED
            reason = reason or "rejected by ProjectX"
        else:
            status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.WORKING
        return OrderResult(
            client_order_id=self.client_order_id,
            broker_order_id=str(order["id"]),
            status=status,
            filled_qty=filled,
            avg_price=avg,
            fills=fills,
            reason=reason,
        )

    def _fill(self, trade: dict[str, Any]) -> BrokerFill:
        return BrokerFill(
            fill_id=str(trade["id"]),
            client_order_id=self.client_order_id,
            account=self.account,
            symbol=symbol_or_id(trade["contractId"]),
            side=side_of(trade["side"]),
            qty=int(trade["size"]),
            price=decimal(trade["price"], f"trade {trade['id']} price"),
            time=timestamp(trade["creationTimestamp"]),
        )


def symbol_or_id(contract: str) -> str:
    """The engine code of ``contract``, or the Gateway id itself when its root
    is unmapped (so an unknown position is shown, never hidden)."""
    try:
        return engine_symbol(contract)
    except ProjectXSymbolError:
        return contract


def leader_fill(trade: dict[str, Any]) -> LeaderFill:
    """A leader's execution (``GatewayUserTrade``) as a :class:`LeaderFill`;
    ``event_id`` is the ProjectX trade id. Raises ``ProjectXSymbolError`` for
    an unmapped contract."""
    return LeaderFill(
        event_id=str(trade["id"]),
        account=str(trade["accountId"]),
        symbol=engine_symbol(trade["contractId"]),
        side=side_of(trade["side"]),
        qty=int(trade["size"]),
        price=decimal(trade["price"], f"trade {trade['id']} price"),
        time=timestamp(trade["creationTimestamp"]),
        order_id=str(trade["orderId"]) if trade.get("orderId") is not None else None,
    )
