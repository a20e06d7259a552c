"""Copytrade values <-> ib_async objects: orders out, results and fills in.

Field meanings follow the TWS API reference ("Order", "OrderStatus",
"Execution" classes, interactivebrokers.github.io/tws-api): ``action``
BUY/SELL, ``orderType`` MKT/LMT/STP/STP LMT with ``lmtPrice`` the limit
and ``auxPrice`` the stop trigger, ``orderRef`` a free text the gateway
keeps with the order (here: the client order id), execution ``side``
BOT/SLD, ``shares`` the filled quantity, ``execId`` unique per execution.
IB sends prices as doubles; they are read through ``str`` into ``Decimal``
(the shortest repr round-trips the gateway's decimal text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ib_async import Fill, Order, Trade
from ib_async.util import UNSET_DOUBLE

from routing.brokers.base import BrokerFill, OrderRequest, OrderResult, OrderStatus
from routing.brokers.ib.contracts import IBContractError, engine_code
from routing.engine.types import LeaderFill, OrderType, Side

IB_ORDER_TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"})
# IB error codes that report a cancel asked for (202 "Order Canceled") or a
# modify refused on a still-live order (105, 321, 329 are warnings in
# ib_async's wrapper); any other order error on a live order is a rejection.
CANCEL_CODES = frozenset({202})


def order_problem(order: OrderRequest) -> str | None:
    """Why ``order`` cannot go to IB, or ``None``. A reason code plus values."""
    if order.qty <= 0:
        return f"IB_BAD_QTY: qty must be > 0 contracts, got {order.qty}"
    if order.stop_loss is not None or order.take_profit is not None:
        return "IB_BRACKET_UNSUPPORTED: bracket entries are not sent to IB by this adapter"
    needs_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit != (order.limit_price is not None):
        return f"IB_BAD_PRICE: limit_price {order.limit_price} with a {order.order_type} order"
    if needs_stop != (order.stop_price is not None):
        return f"IB_BAD_PRICE: stop_price {order.stop_price} with a {order.order_type} order"
    for price in (order.limit_price, order.stop_price):
        if price is not None and price <= 0:
            return f"IB_BAD_PRICE: price must be > 0, got {price}"
    return None


def ib_order(order: OrderRequest) -> Order:
    """The ib_async ``Order`` for a checked request (see :func:`order_problem`).

    ``orderRef`` carries the client order id and ``account`` the IB account
    code, so the gateway books it to that account and the order is found
    again by its reference. Resting orders are GTC (they outlive the CME
    session like the leader's own stops); market orders are DAY.
    """
    ib = Order(
        action="BUY" if order.side is Side.BUY else "SELL",
        totalQuantity=order.qty,
        orderType=IB_ORDER_TYPES[order.order_type],
        account=order.account,
        orderRef=order.client_order_id,
        tif="DAY" if order.order_type is OrderType.MARKET else "GTC",
        transmit=True,
    )
    if order.limit_price is not None:
        ib.lmtPrice = float(order.limit_price)
    if order.stop_price is not None:
        ib.auxPrice = float(order.stop_price)
    return ib


def decimal_of(value: float) -> Decimal:
    """An IB double as ``Decimal`` (through its shortest text form)."""
    return Decimal(repr(value))


def _side_of_execution(side: str) -> Side:
    if side == "BOT":
        return Side.BUY
    if side == "SLD":
        return Side.SELL
    raise IBContractError(f"IB_BAD_EXECUTION: execution side {side!r} is neither BOT nor SLD")


def _aware(time: datetime) -> datetime:
    return time.astimezone(UTC) if time.tzinfo else time.replace(tzinfo=UTC)


def broker_fill(fill: Fill, client_order_id: str) -> BrokerFill:
    """One IB execution as a :class:`BrokerFill` (``fill_id`` = ``execId``).

    Raises :class:`IBContractError` for an unknown contract or side."""
    ex = fill.execution
    return BrokerFill(
        fill_id=ex.execId,
        client_order_id=client_order_id,
        account=ex.acctNumber,
        symbol=engine_code(fill.contract),
        side=_side_of_execution(ex.side),
        qty=int(ex.shares),
        price=decimal_of(ex.price),
        time=_aware(ex.time),
    )


def leader_fill(fill: Fill) -> LeaderFill:
    """One IB execution of a leader account as a :class:`LeaderFill`:
    ``event_id`` = ``execId`` (stable across re-reads), ``order_id`` the
    order's permanent id. Raises :class:`IBContractError`."""
    ex = fill.execution
    return LeaderFill(
        event_id=ex.execId,
        account=ex.acctNumber,
        symbol=engine_code(fill.contract),
        side=_side_of_execution(ex.side),
        qty=int(ex.shares),
        price=decimal_of(ex.price),
        time=_aware(ex.time),
        order_id=str(ex.permId) if ex.permId else None,
    )


def _error_entry(trade: Trade) -> tuple[int, str] | None:
    for entry in reversed(trade.log):
        if entry.errorCode:
            return entry.errorCode, entry.message
    return None


def order_result(trade: Trade, *, cancel_requested: bool = False, reason: str = "") -> OrderResult:
    """The :class:`OrderResult` of an ib_async ``Trade``.

    ``filled_qty`` and ``avg_price`` come from the executions received, so
    they always agree with ``fills``; ``FILLED`` only once executions cover
    the whole quantity (IB may report the status before the executions).
    ``Cancelled`` after an order error other than 202, or ``Inactive``, is
    ``REJECTED`` with the gateway's message unless a cancel was requested.
    ``reason`` overrides the reason (a refused modify). Raises
    :class:`IBContractError` for an execution of an unknown contract.
    """
    cid = trade.order.orderRef
    fills = tuple(broker_fill(f, cid) for f in sorted(trade.fills, key=_fill_key))
    filled = sum(f.qty for f in fills)
    avg = (
        (sum((f.price * f.qty for f in fills), Decimal(0)) / filled).normalize() if filled else None
    )
    total = int(trade.order.totalQuantity)
    ib_status = trade.orderStatus.status
    error = _error_entry(trade)
    status: OrderStatus
    if ib_status == "Filled" or (filled and filled >= total):
        status = OrderStatus.FILLED if filled >= total else OrderStatus.PARTIALLY_FILLED
    elif ib_status in ("Cancelled", "ApiCancelled", "Inactive"):
        refused = ib_status == "Inactive" or (
            error is not None and error[0] not in CANCEL_CODES and not cancel_requested
        )
        if refused and not filled:
            status = OrderStatus.REJECTED
            reason = reason or (error[1] if error else f"IB order {ib_status}")
        else:
            status = OrderStatus.CANCELLED
            reason = reason or (error[1] if error else "cancelled")
    else:
        status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.WORKING
    perm = trade.order.permId or trade.orderStatus.permId
    return OrderResult(
        client_order_id=cid,
        broker_order_id=str(perm) if perm else None,
        status=status,
        filled_qty=filled,
        avg_price=avg,
        fills=fills,
        reason=reason,
    )


def _fill_key(fill: Fill) -> tuple[datetime, str]:
    return _aware(fill.execution.time), fill.execution.execId


def is_acknowledged(trade: Trade) -> bool:
    """True once the gateway has answered for the order (any status past
    ``PendingSubmit``, or an error)."""
    return trade.orderStatus.status not in ("PendingSubmit", "") or _error_entry(trade) is not None


def is_done(trade: Trade) -> bool:
    """True when IB will not change the order any more."""
    return trade.orderStatus.status not in _WORKING and trade.orderStatus.status != (
        "ValidationError"
    )


def realized_of(fill: Fill) -> Decimal:
    """The realized PnL IB's commission report gave this execution (0 when none)."""
    pnl = fill.commissionReport.realizedPNL
    return Decimal(0) if not pnl or pnl == UNSET_DOUBLE else decimal_of(pnl)
