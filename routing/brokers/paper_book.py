"""The paper broker's order book: working orders and the rules that fill them.

Pure and synchronous (no asyncio, no clock, no positions). :class:`BookOrder`
is one order's state at the simulated exchange, :class:`OrderBook` keeps the
working ones in time priority, and the ``*_problem`` helpers check an order's
prices, returning a greppable reject reason (``CODE: values``) or ``None``.
:class:`routing.brokers.paper.PaperBroker` drives them: it applies fills to
positions, numbers them, runs brackets and publishes events.

Matching rules, all prices in points (``BookOrder.match``):

- An *aggressor* (an order just placed, just repriced by a modify, or a
  stop-limit whose stop has just traded) meets the market at the mark: a limit
  at or through the mark fills at the mark, so never worse than its limit.
- A *resting* limit that a later mark reaches (buy: mark <= limit; sell:
  mark >= limit) fills at its limit price, however far the mark went through.
- A stop triggers when the mark trades at or through it (buy: mark >= stop;
  sell: mark <= stop) and then fills as a market order at the mark moved by
  the slippage against it (buy higher, sell lower), at this mark and any
  later one until complete.
- A stop-limit triggers like a stop and then works as a limit at
  ``limit_price``, as an aggressor on the mark that triggered it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from routing.brokers.base import BrokerFill, OrderResult, OrderStatus, OrderType
from routing.engine.types import LeaderFill, LeaderOrder, LeaderOrderAction, Side

LIVE_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.WORKING, OrderStatus.PARTIALLY_FILLED}
)


@dataclass(eq=False, slots=True)
class BookOrder:
    """One order at the simulated exchange, mutated as it works.

    ``qty`` is the order's current total quantity in contracts (a modify or a
    bracket resize changes it), ``tick_size`` its contract's tick in points.
    A bracket entry has ``stop_loss`` and/or ``take_profit`` and, once armed
    by its first fill, ``children`` keyed ``"sl"`` / ``"tp"``; an exit child
    points back at its entry with ``parent``. ``priority`` is the time
    priority the book gave it (0 before it rests); ``modifications`` counts
    the changes made to it by modify calls and bracket resizes.
    """

    account: str
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    time: datetime
    tick_size: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    parent: BookOrder | None = None
    children: dict[str, BookOrder] = field(default_factory=dict)
    bracket_armed: bool = False
    status: OrderStatus = OrderStatus.WORKING
    reason: str = ""
    triggered: bool = False
    modifications: int = 0
    priority: int = 0
    fills: list[BrokerFill] = field(default_factory=list)

    @property
    def filled_qty(self) -> int:
        return sum(fill.qty for fill in self.fills)

    @property
    def remaining(self) -> int:
        """Contracts still to fill (0 once final)."""
        return self.qty - self.filled_qty if self.is_live else 0

    @property
    def avg_price(self) -> Decimal | None:
        """Quantity-weighted average fill price in points, ``None`` before any fill."""
        filled = self.filled_qty
        if filled == 0:
            return None
        if len(self.fills) == 1:
            return self.fills[0].price
        return sum((fill.price * fill.qty for fill in self.fills), Decimal(0)) / filled

    @property
    def is_live(self) -> bool:
        """True while the order works (WORKING or PARTIALLY_FILLED)."""
        return self.status in LIVE_STATUSES

    @property
    def has_bracket(self) -> bool:
        return self.stop_loss is not None or self.take_profit is not None

    def result(self) -> OrderResult:
        return OrderResult(
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            status=self.status,
            filled_qty=self.filled_qty,
            avg_price=self.avg_price,
            fills=tuple(self.fills),
            reason=self.reason,
        )

    def leader_order(self, action: LeaderOrderAction, time: datetime, seq: int) -> LeaderOrder:
        """This order's ``action`` as a leader stream event (ids per :class:`LeaderOrder`)."""
        suffix = f"modify:{self.modifications}" if action is LeaderOrderAction.MODIFY else action
        return LeaderOrder(
            event_id=f"{self.client_order_id}:{suffix}",
            order_id=self.client_order_id,
            account=self.account,
            action=action,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            order_type=self.order_type,
            time=time,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            seq=seq,
            parent_order_id=None if self.parent is None else self.parent.client_order_id,
        )

    def leader_fill(self, fill: BrokerFill, seq: int) -> LeaderFill:
        """``fill`` of this order as a leader stream event keyed by the fill id."""
        return LeaderFill(
            event_id=fill.fill_id,
            account=fill.account,
            symbol=fill.symbol,
            side=fill.side,
            qty=fill.qty,
            price=fill.price,
            time=fill.time,
            order_id=self.client_order_id,
            seq=seq,
        )

    def record_fill(self, fill: BrokerFill) -> None:
        """Add ``fill`` (at most ``remaining`` contracts) and update the status."""
        if not self.is_live or not 0 < fill.qty <= self.remaining:
            raise ValueError(
                f"order {self.client_order_id}: cannot fill {fill.qty} "
                f"(status={self.status}, remaining={self.remaining})"
            )
        self.fills.append(fill)
        filled = self.filled_qty
        self.status = OrderStatus.FILLED if filled == self.qty else OrderStatus.PARTIALLY_FILLED

    def end(self, status: OrderStatus, reason: str) -> None:
        """Make the order final as CANCELLED or REJECTED with ``reason``."""
        self.status = status
        self.reason = reason

    def match(self, mark: Decimal, *, aggressor: bool, slippage: Decimal) -> Decimal | None:
        """The price this order executes at against ``mark``, or ``None``.

        Applies the module's rules; triggers a stop or stop-limit
        (``triggered`` becomes True) when ``mark`` trades through its stop,
        whether or not anything then fills. ``slippage`` is in points (>= 0).
        A market order (never resting) returns ``None``.
        """
        sign = self.side.sign  # +1 buy, -1 sell: a buy wants lower prices
        if self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and not self.triggered:
            assert self.stop_price is not None
            if (mark - self.stop_price) * sign < 0:
                return None  # buy: mark below the stop; sell: mark above it
            self.triggered = True
            aggressor = True  # the limit of a stop-limit enters the book now
        if self.order_type is OrderType.STOP:
            return mark + slippage * sign
        if self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            assert self.limit_price is not None
            if (mark - self.limit_price) * sign > 0:
                return None  # buy: mark above the limit; sell: mark below it
            return mark if aggressor else self.limit_price
        return None


class OrderBook:
    """The live orders of every account and symbol, in time priority.

    Each :meth:`add` or :meth:`requeue` gives the order the next ``priority``
    (1, 2, ...), so iteration order is time priority. ``horizon`` is the last
    priority given: orders added after reading it have a higher one.
    """

    def __init__(self) -> None:
        self._orders: dict[int, BookOrder] = {}
        self._last_priority = 0

    @property
    def horizon(self) -> int:
        return self._last_priority

    def add(self, order: BookOrder) -> None:
        """Rest ``order`` behind every order already in the book."""
        self._last_priority += 1
        order.priority = self._last_priority
        self._orders[order.priority] = order

    def requeue(self, order: BookOrder) -> None:
        """Move ``order`` to the back of the queue (it loses time priority)."""
        self.discard(order)
        self.add(order)

    def discard(self, order: BookOrder) -> None:
        """Take ``order`` out of the book; no-op when it is not in it."""
        if self._orders.get(order.priority) is order:
            del self._orders[order.priority]

    def next_after(self, symbol: str, priority: int) -> BookOrder | None:
        """The first order in ``symbol`` with a priority above ``priority``."""
        for order in self._orders.values():
            if order.symbol == symbol and order.priority > priority:
                return order
        return None

    def working(self, account: str | None = None, symbol: str | None = None) -> list[BookOrder]:
        """A snapshot of the book in time priority, filtered by account and symbol."""
        return [
            order
            for order in self._orders.values()
            if account in (None, order.account) and symbol in (None, order.symbol)
        ]


# -- request checks -----------------------------------------------------------------


def price_problem(name: str, price: object, tick_size: Decimal) -> str | None:
    """Why ``price`` cannot be used: not a finite ``Decimal`` or off the tick grid."""
    if not isinstance(price, Decimal) or not price.is_finite():
        return f"PRICE_INVALID: {name}={price!r} is not a finite Decimal"
    if price % tick_size != 0:
        return f"PRICE_OFF_TICK: {name}={price} is not a multiple of tick_size={tick_size}"
    return None


def order_prices_problem(
    order_type: OrderType,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    tick_size: Decimal,
) -> str | None:
    """Why an order's limit / stop prices do not fit its type, or ``None``.

    LIMIT needs ``limit_price``, STOP ``stop_price``, STOP_LIMIT both; a price
    the type does not use is refused too (``PRICE_UNEXPECTED``), so a caller
    that believes it sent a limit never gets a market fill.
    """
    needs = {
        "limit_price": order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT),
        "stop_price": order_type in (OrderType.STOP, OrderType.STOP_LIMIT),
    }
    for name, value in (("limit_price", limit_price), ("stop_price", stop_price)):
        if needs[name] and value is None:
            return f"{name.upper()}_MISSING: order_type={order_type} needs {name}"
        if not needs[name] and value is not None:
            return f"PRICE_UNEXPECTED: order_type={order_type} takes no {name}, got {value}"
        if value is not None and (problem := price_problem(name, value, tick_size)):
            return problem
    return None


def entry_price(
    order_type: OrderType,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    market_price: Decimal | None,
) -> Decimal | None:
    """The price a bracket's exits are checked against: the limit, else the
    stop, else (market orders) the reference price or last mark.
    """
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return limit_price
    if order_type is OrderType.STOP:
        return stop_price
    return market_price


def bracket_problem(
    side: Side,
    entry: Decimal,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    tick_size: Decimal,
) -> str | None:
    """Why a bracket's exit prices are unusable, or ``None``.

    The stop loss must be on the losing side of ``entry`` and the take profit
    on the winning side: for a buy ``stop_loss < entry < take_profit``, for a
    sell ``take_profit < entry < stop_loss``.
    """
    for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit)):
        if value is not None and (problem := price_problem(name, value, tick_size)):
            return problem
    losing, winning = ("below", "above") if side is Side.BUY else ("above", "below")
    if stop_loss is not None and (stop_loss - entry) * side.sign >= 0:
        return (
            f"BRACKET_STOP_LOSS_WRONG_SIDE: a {side} needs stop_loss {losing} the entry, "
            f"got stop_loss={stop_loss} entry={entry}"
        )
    if take_profit is not None and (take_profit - entry) * side.sign <= 0:
        return (
            f"BRACKET_TAKE_PROFIT_WRONG_SIDE: a {side} needs take_profit {winning} the entry, "
            f"got take_profit={take_profit} entry={entry}"
        )
    return None


def modify_problem(
    order: BookOrder,
    qty: int | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
) -> str | None:
    """Why a modify of the live ``order`` is refused, or ``None``.

    ``None`` arguments are not being changed. Refused: ``qty`` not above
    the filled quantity, a price the order type does not have, a bad price,
    a new stop on a triggered stop, or exit prices no longer on the right
    side of a bracket entry.
    """
    if qty is not None and qty <= order.filled_qty:
        return (
            f"MODIFY_QTY_NOT_ABOVE_FILLED: qty={qty} filled_qty={order.filled_qty} "
            "(cancel_order stops the rest)"
        )
    has_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    has_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    for name, value, applies in (
        ("limit_price", limit_price, has_limit),
        ("stop_price", stop_price, has_stop),
    ):
        if value is None:
            continue
        if not applies:
            return f"MODIFY_PRICE_NOT_APPLICABLE: order_type={order.order_type} has no {name}"
        if problem := price_problem(name, value, order.tick_size):
            return problem
    if stop_price is not None and order.triggered:
        return f"MODIFY_ALREADY_TRIGGERED: stop_price={order.stop_price} has already traded"
    if order.has_bracket:
        entry = entry_price(
            order.order_type,
            order.limit_price if limit_price is None else limit_price,
            order.stop_price if stop_price is None else stop_price,
            None,
        )
        if entry is not None:
            return bracket_problem(
                order.side, entry, order.stop_loss, order.take_profit, order.tick_size
            )
    return None
