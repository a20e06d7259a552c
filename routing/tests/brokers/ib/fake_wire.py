"""IB API wire messages for the fake gateway, field by field.

Each function returns the fields of one server message in the order
ib_async 2.1.0's ``Decoder`` reads them at :data:`SERVER_VERSION`
(``ib_async/decoder.py``: ``openOrder``, ``completedOrder``,
``execDetails``, ``commissionReport``, ``position``, ``errorMsg`` and the
``wrap`` table for the rest); empty strings are IB's "unset". A message
on the wire is its fields, each ending in NUL, prefixed with the length as
a 4-byte big-endian integer; the handshake is ``API\\0`` + a prefixed
``v<min>..<max>`` version range, answered with ``<version>\\0<time>\\0``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

SERVER_VERSION = 178  # ib_async's MaxClientVersion: the fields of a current gateway


def frame(fields: list[object]) -> bytes:
    """One length-prefixed message."""
    text = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(text)) + text


def unframe(buffer: bytes) -> tuple[list[list[str]], bytes]:
    """Complete messages in ``buffer`` (as field lists) and the rest."""
    messages = []
    while len(buffer) >= 4:
        size = struct.unpack(">I", buffer[:4])[0]
        if len(buffer) < 4 + size:
            break
        body, buffer = buffer[4 : 4 + size].decode(), buffer[4 + size :]
        messages.append(body.split("\0")[:-1])
    return messages, buffer


@dataclass
class FakeContract:
    """The contract fields the gateway echoes (as the client sent them)."""

    symbol: str
    month: str  # lastTradeDateOrContractMonth
    multiplier: str
    exchange: str
    local_symbol: str
    trading_class: str
    con_id: int
    currency: str = "USD"

    def fields(self) -> list[object]:
        """conId .. tradingClass as openOrder / execDetails / position send them."""
        return [
            self.con_id,
            self.symbol,
            "FUT",
            self.month,
            "",
            "",
            self.multiplier,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]


@dataclass
class FakeOrder:
    """One order as the gateway holds it."""

    client_id: int
    order_id: int
    perm_id: int
    contract: FakeContract
    account: str
    action: str  # BUY / SELL
    qty: int
    order_type: str  # MKT / LMT / STP / STP LMT
    lmt: str
    aux: str
    tif: str
    order_ref: str
    status: str = "Submitted"
    filled: int = 0
    cost: Decimal = Decimal(0)  # sum of price x qty of the executions
    exec_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in ("Filled", "Cancelled", "Inactive")

    @property
    def avg(self) -> Decimal:
        return self.cost / self.filled if self.filled else Decimal(0)


@dataclass(frozen=True)
class FakeExecution:
    exec_id: str
    perm_id: int
    qty: int
    price: Decimal
    time: datetime
    cum_qty: int
    avg: Decimal
    realized: Decimal


def _order_head(o: FakeOrder) -> list[object]:
    return [o.action, o.qty, o.order_type, o.lmt, o.aux, o.tif, "", o.account, "", 0, o.order_ref]


def open_order(o: FakeOrder) -> list[object]:
    """``openOrder`` (message 5)."""
    return [
        5,
        o.order_id,
        *o.contract.fields(),
        *_order_head(o),
        o.client_id,
        o.perm_id,
        0,  # outsideRth
        0,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # (skipped field)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage  (no faProfile from version 177)
        *[""] * 14,  # modelCode .. stockRangeUpper
        "",  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        "",  # ocaType
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        "",  # nbboPriceCap
        0,  # parentId
        0,  # triggerMethod
        "",  # volatility
        "",  # volatilityType
        "",  # deltaNeutralOrderType (empty: no delta-neutral block)
        "",  # deltaNeutralAuxPrice
        *[""] * 7,  # continuousUpdate .. comboLegsDescrip
        0,  # combo legs
        0,  # order combo legs
        0,  # smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (unset: no scale block)
        "",  # hedgeType
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy
        0,  # solicited
        0,  # whatIf
        o.status,
        *[""] * 9,  # margins before / change / after
        "",  # commission
        "",  # minCommission
        "",  # maxCommission
        "",  # commissionCurrency
        "",  # warningText
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions
        *[""] * 8,  # adjustedOrderType .. adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier display name
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        0,  # usePriceMgmtAlgo
        "",  # duration (159)
        "",  # postToAts (160)
        0,  # autoCancelParent (162)
        *[""] * 5,  # minTradeQty .. midOffsetAtHalf (170)
    ]


def completed_order(o: FakeOrder) -> list[object]:
    """``completedOrder`` (message 101): no order id or client id on the wire."""
    return [
        101,
        *o.contract.fields(),
        *_order_head(o),
        o.perm_id,
        0,  # outsideRth
        0,  # hidden
        "",  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        *[""] * 8,  # modelCode .. exemptCode
        *[""] * 5,  # startingPrice .. stockRangeUpper
        "",  # displaySize
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        "",  # ocaType
        0,  # triggerMethod
        "",  # volatility
        "",  # volatilityType
        "",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        *[""] * 5,  # continuousUpdate .. comboLegsDescrip
        0,  # combo legs
        0,  # order combo legs
        0,  # smart combo routing params
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy
        0,  # solicited
        o.status,
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions
        *[""] * 5,  # trailStopPrice .. isOmsContainer
        "",  # autoCancelDate
        o.filled,  # filledQuantity
        "",  # refFuturesConId
        0,  # autoCancelParent
        "",  # shareholder
        0,  # imbalanceOnly
        0,  # routeMarketableToBbo
        "",  # parentPermId
        "",  # completedTime
        o.status,  # completedStatus
        *[""] * 5,  # minTradeQty .. midOffsetAtHalf (170)
    ]


def order_status(o: FakeOrder) -> list[object]:
    """``orderStatus`` (message 3)."""
    return [
        3,
        o.order_id,
        o.status,
        o.filled,
        o.qty - o.filled,
        o.avg,
        o.perm_id,
        0,
        o.avg,
        o.client_id,
        "",
        "",
    ]


def exec_details(req_id: int, o: FakeOrder, ex: FakeExecution) -> list[object]:
    """``execDetails`` (message 11); ``req_id`` -1 for a live execution."""
    return [
        11,
        req_id,
        o.order_id,
        *o.contract.fields(),
        ex.exec_id,
        ex.time.strftime("%Y%m%d %H:%M:%S UTC"),
        o.account,
        o.contract.exchange,
        "BOT" if o.action == "BUY" else "SLD",
        ex.qty,
        ex.price,
        o.perm_id,
        o.client_id,
        0,  # liquidation
        ex.cum_qty,
        ex.avg,
        o.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        1,  # lastLiquidity
        0,  # pendingPriceRevision (178)
    ]


def commission_report(ex: FakeExecution) -> list[object]:
    """``commissionReport`` (message 59)."""
    return [59, 1, ex.exec_id, "0.62", "USD", ex.realized, "", ""]


def position(account: str, c: FakeContract, qty: int, avg_cost: Decimal) -> list[object]:
    """``position`` (message 61): ``avg_cost`` is dollars per contract."""
    return [61, 3, account, *c.fields(), qty, avg_cost]


def error(req_id: int, code: int, text: str) -> list[object]:
    """``errorMsg`` (message 4)."""
    return [4, 2, req_id, code, text, ""]
