"""Orders as Rithmic reports them, turned into :class:`OrderResult` values.

R|Protocol reports every change to an order twice: as an
ExchangeOrderNotification (template 352: ``notify_type`` STATUS, MODIFY,
CANCEL, FILL with ``fill_id`` / ``fill_size`` / ``fill_price``, REJECT with
``text``) and as a RithmicOrderNotification (351: the order's life at
Rithmic, ``notify_type`` OPEN ... COMPLETE with ``completion_reason``).
Both carry the order's ``user_tag`` (the client order id Copytrade sent),
``basket_id`` (Rithmic's order id), ``quantity``, ``total_fill_size`` and
``avg_fill_price``. The order list (RequestShowOrders, 320: open orders)
and the day's order history (RequestShowOrderHistorySummary, 324) answer
with the same messages, ``is_snapshot`` set; which of the two templates a
server replays is not settled (pbeets/rithmic-rs PR 98 sees both), so both
are folded in. Fields: async-rithmic's bundled ``*_notification.proto``.
Individual fills come only from 352 FILL; a 351 never adds a fill, except
through a snapshot's catch-up below.

A snapshot carries no individual fills: when it shows more filled than
the fills already seen (fills made while the socket was down), the
difference becomes one fill with the id ``"<basket_id>:<total filled>"``
at the price that makes the average come out as reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.brokers.rithmic.symbols import from_rithmic
from routing.engine.symbols import SymbolError
from routing.engine.types import OrderType, Side

# ExchangeOrderNotification.NotifyType
STATUS, MODIFY, CANCEL, TRIGGER, FILL, REJECT, NOT_MODIFIED, NOT_CANCELLED = 1, 2, 3, 4, 5, 6, 7, 8
# RithmicOrderNotification: its template id and the NotifyType that ends an order.
RITHMIC_ORDER_NOTIFICATION = 351
COMPLETE = 15
# RequestNewOrder.TransactionType / PriceType
BUY, SELL = 1, 2
PRICE_TYPES: dict[OrderType, int] = {
    OrderType.LIMIT: 1,
    OrderType.MARKET: 2,
    OrderType.STOP_LIMIT: 3,
    OrderType.STOP: 4,
}


def price(value: float) -> Decimal:
    """A protobuf double price as Decimal points (shortest repr: 21539.5)."""
    return Decimal(repr(value))


def message_time(message: Any) -> datetime:
    """The notification's time (``ssboe`` seconds since the epoch, ``usecs``), UTC;
    now when Rithmic sent none."""
    if getattr(message, "ssboe", 0):
        return datetime.fromtimestamp(message.ssboe, tz=UTC).replace(microsecond=message.usecs)
    return datetime.now(UTC)


@dataclass
class TrackedOrder:
    """One order of one account as last reported."""

    account: str
    client_order_id: str
    basket_id: str | None
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    exchange: str = ""
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    status: OrderStatus = OrderStatus.WORKING
    fills: list[BrokerFill] = field(default_factory=list)
    reason: str = ""

    @property
    def filled(self) -> int:
        return sum(f.qty for f in self.fills)

    def result(self) -> OrderResult:
        filled = self.filled
        avg = None
        if filled:
            avg = sum((f.price * f.qty for f in self.fills), Decimal(0)) / filled
        return OrderResult(
            client_order_id=self.client_order_id,
            broker_order_id=self.basket_id,
            status=self.status,
            filled_qty=filled,
            avg_price=avg,
            fills=tuple(self.fills),
            reason=self.reason,
        )


def _side(message: Any) -> Side:
    return Side.BUY if message.transaction_type == BUY else Side.SELL


def _order_type(message: Any) -> OrderType:
    for order_type, code in PRICE_TYPES.items():
        if code == message.price_type:
            return order_type
    return OrderType.MARKET


class OrderBook:
    """One login's orders, keyed by (account, client order id) and basket id.

    :meth:`apply` folds one notification in and returns the order's new
    result (``None`` when nothing changed) and the fills it added.
    """

    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], TrackedOrder] = {}
        self.by_basket: dict[str, TrackedOrder] = {}

    def track(self, order: TrackedOrder) -> None:
        self.orders[(order.account, order.client_order_id)] = order
        if order.basket_id:
            self.by_basket[order.basket_id] = order

    def get(self, account: str, client_order_id: str) -> TrackedOrder | None:
        return self.orders.get((account, client_order_id))

    def find(self, message: Any) -> TrackedOrder | None:
        """The tracked order a notification concerns, if any."""
        order = self.by_basket.get(message.basket_id) if message.basket_id else None
        if order is None and message.user_tag:
            order = self.orders.get((message.account_id, message.user_tag))
        return order

    def _find_or_add(self, message: Any) -> TrackedOrder | None:
        order = self.find(message)
        if order is None:
            try:
                symbol = from_rithmic(message.symbol, message.exchange)
            except SymbolError:
                return None  # not a contract Copytrade trades (spread, option)
            # An order placed elsewhere (the leader's own platform) carries no
            # Copytrade tag: Rithmic's basket id names it.
            order = TrackedOrder(
                account=message.account_id,
                client_order_id=message.user_tag or f"rithmic-{message.basket_id}",
                basket_id=message.basket_id or None,
                symbol=symbol,
                side=_side(message),
                qty=message.quantity,
                order_type=_order_type(message),
                exchange=message.exchange,
            )
        if message.basket_id and order.basket_id is None:
            order.basket_id = message.basket_id
        self.track(order)
        return order

    def apply(self, message: Any) -> tuple[TrackedOrder | None, list[BrokerFill]]:
        """Fold one order notification (351 or 352) into the book."""
        known = self.find(message) is not None
        order = self._find_or_add(message)
        if order is None:
            return None, []
        # A first sight of an order is a change (it was unknown before).
        before = (order.status, order.filled, order.qty, order.reason) if known else None
        new_fills: list[BrokerFill] = []
        if message.quantity:
            order.qty = message.quantity
        if message.price and order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            order.limit_price = price(message.price)
        if message.trigger_price and order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            order.stop_price = price(message.trigger_price)
        rithmic = message.template_id == RITHMIC_ORDER_NOTIFICATION
        if not rithmic and message.notify_type == FILL and message.fill_id:
            if all(f.fill_id != message.fill_id for f in order.fills):
                fill = BrokerFill(
                    fill_id=message.fill_id,
                    client_order_id=order.client_order_id,
                    account=order.account,
                    symbol=order.symbol,
                    side=order.side,
                    qty=message.fill_size,
                    price=price(message.fill_price),
                    time=message_time(message),
                )
                order.fills.append(fill)
                new_fills.append(fill)
        elif message.is_snapshot and message.total_fill_size > order.filled:
            new_fills.append(self._catch_up(order, message))
        ending = _ending(message, rithmic)
        if ending is not None and order.status not in _ENDED:
            order.status, order.reason = ending
        elif not rithmic and message.notify_type in (NOT_MODIFIED, NOT_CANCELLED):
            order.reason = message.text or message.report_text or "refused by Rithmic"
        if order.status not in _ENDED:
            if order.filled >= order.qty > 0:
                order.status = OrderStatus.FILLED
            elif order.filled:
                order.status = OrderStatus.PARTIALLY_FILLED
            else:
                order.status = OrderStatus.WORKING
        changed = (order.status, order.filled, order.qty, order.reason) != before
        return (order if changed or new_fills else None), new_fills

    @staticmethod
    def _catch_up(order: TrackedOrder, message: Any) -> BrokerFill:
        total = message.total_fill_size
        missing = total - order.filled
        seen = sum((f.price * f.qty for f in order.fills), Decimal(0))
        at = (price(message.avg_fill_price) * total - seen) / missing
        fill = BrokerFill(
            fill_id=f"{message.basket_id}:{total}",
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            qty=missing,
            price=at,
            time=message_time(message),
        )
        order.fills.append(fill)
        return fill


_ENDED = (OrderStatus.REJECTED, OrderStatus.CANCELLED)


def _ending(message: Any, rithmic: bool) -> tuple[OrderStatus, str] | None:
    """(REJECTED or CANCELLED, reason) when ``message`` says the order ended
    without filling completely; ``None`` otherwise (a fill ends an order
    through its quantities)."""
    text = message.text or message.report_text
    if rithmic:
        reason = message.completion_reason.lower()
        if message.notify_type != COMPLETE and not message.is_snapshot:
            return None
        if "reject" in reason:
            return OrderStatus.REJECTED, text or "rejected by Rithmic"
        if "cancel" in reason:
            return OrderStatus.CANCELLED, text or "cancelled"
        return None
    if message.notify_type == REJECT:
        return OrderStatus.REJECTED, text or "rejected by Rithmic"
    if message.notify_type == CANCEL or (message.is_snapshot and message.cancelled_size):
        return OrderStatus.CANCELLED, text or "cancelled"
    return None
