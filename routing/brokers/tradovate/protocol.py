"""Tradovate's wire format: websocket frames, entity fields, status mapping.

Source: the Tradovate API documentation (partner.tradovate.com, "WebSockets",
"Orders", "Positions"). The websocket speaks a SockJS-like framing: the
server sends ``o`` once open, ``h`` as heartbeat, ``a[...]`` with a JSON array
of messages and ``c[...]`` when it closes; the client sends requests as
``"<endpoint>\\n<request id>\\n<query>\\n<JSON body>"`` and ``[]`` as its own
heartbeat (every 2.5 s). A response message is ``{"s": status, "i": request
id, "d": data}``; a pushed event is ``{"e": "props", "d": {"entityType",
"eventType", "entity"}}``.

Order entities carry ``ordStatus`` (``PendingNew``, ``Working``,
``Filled``, ``Canceled``, ``Rejected``, ``Expired``, ...); the client order
id is not on the order but on its ``New`` command (``command`` entity:
``orderId``, ``clOrdId``, ``commandType``). Tradovate does not enforce
``clOrdId`` unique: the adapter looks it up before any resend.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import OrderType, Side

DEMO_URL = "https://demo.tradovateapi.com/v1"
LIVE_URL = "https://live.tradovateapi.com/v1"
# "Market Data": quotes come from their own websocket, authorized with the
# access token request's ``mdAccessToken``.
DEMO_MD_URL = "wss://md-demo.tradovateapi.com/v1/websocket"
LIVE_MD_URL = "wss://md.tradovateapi.com/v1/websocket"
_MD_URLS = {DEMO_URL: DEMO_MD_URL, LIVE_URL: LIVE_MD_URL}

ACTIONS: Mapping[Side, str] = {Side.BUY: "Buy", Side.SELL: "Sell"}
SIDES: Mapping[str, Side] = {"Buy": Side.BUY, "Sell": Side.SELL}
ORDER_TYPES: Mapping[OrderType, str] = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "StopLimit",
}
# ordStatus values that end an order (Tradovate's "Completed" is used for
# spread legs: treated as filled only when fills say so).
_CANCELLED = frozenset({"Canceled", "Expired"})
FINAL_ORD_STATUSES = frozenset({"Filled", "Canceled", "Expired", "Rejected", "Completed"})


def websocket_url(base_url: str) -> str:
    """The websocket address beside a REST base: ``https://h/v1`` ->
    ``wss://h/v1/websocket`` (``http`` -> ``ws`` for a local fake server)."""
    if base_url.startswith("https://"):
        return "wss://" + base_url.removeprefix("https://").rstrip("/") + "/websocket"
    if base_url.startswith("http://"):
        return "ws://" + base_url.removeprefix("http://").rstrip("/") + "/websocket"
    raise ValueError(f"Tradovate endpoint must start with http:// or https://, got {base_url!r}")


def market_data_url(base_url: str) -> str:
    """The market-data websocket for a REST base: Tradovate's own md hosts
    for its demo and live bases; for any other base (a local fake server)
    ``<base>/md/websocket`` on the same host (``http`` -> ``ws``)."""
    known = _MD_URLS.get(base_url.rstrip("/"))
    if known is not None:
        return known
    return websocket_url(base_url).removesuffix("/websocket") + "/md/websocket"


def frame_request(
    endpoint: str, request_id: int, body: object | None = None, query: str = ""
) -> str:
    """One client request frame: endpoint, request id, query, JSON body."""
    payload = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
    return f"{endpoint}\n{request_id}\n{query}\n{payload}"


@dataclass(frozen=True, slots=True)
class Frame:
    """One server frame: ``kind`` ``"o"``, ``"h"``, ``"a"`` or ``"c"``;
    ``messages`` the decoded array of an ``a`` (or ``c``) frame."""

    kind: str
    messages: tuple[Any, ...] = ()


def parse_frame(text: str) -> Frame:
    """Decode one server frame. Raises ``ValueError`` naming the frame when
    it is not one of Tradovate's kinds or its JSON is broken."""
    if not text:
        raise ValueError("empty websocket frame from Tradovate")
    kind = text[0]
    if kind in ("o", "h"):
        return Frame(kind)
    if kind in ("a", "c"):
        try:
            data = json.loads(text[1:]) if len(text) > 1 else []
        except json.JSONDecodeError as exc:
            raise ValueError(f"unreadable Tradovate frame {text[:80]!r}: {exc}") from exc
        return Frame(kind, tuple(data) if isinstance(data, list) else (data,))
    raise ValueError(f"unknown Tradovate frame kind {text[:80]!r}")


def parse_time(text: str) -> datetime:
    """Tradovate's ISO-8601 UTC timestamps (``2026-12-03T16:00:00.123Z``)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """Aware ``moment`` in Tradovate's spelling (milliseconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def price(value: object) -> Decimal:
    """A JSON number as an exact Decimal (via its text, never a binary float
    sum). Raises ``ValueError`` for a missing or non-finite value."""
    if value is None or isinstance(value, bool):
        raise ValueError(f"expected a price from Tradovate, got {value!r}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"non-finite price from Tradovate: {value!r}")
    return number


def json_price(value: Decimal | None) -> float | None:
    """A Decimal price for a Tradovate JSON body (the API takes numbers)."""
    return None if value is None else float(value)


def penalty_of(body: object) -> tuple[str, float] | None:
    """``(p-ticket, p-time seconds)`` when ``body`` is a time-penalty answer."""
    if isinstance(body, Mapping) and "p-ticket" in body:
        return str(body["p-ticket"]), float(body.get("p-time", 0) or 0)
    return None


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One ``fill`` entity, decoded: ``qty`` > 0 contracts at ``price`` points."""

    fill_id: str
    order_id: int
    contract_id: int
    side: Side
    qty: int
    price: Decimal
    time: datetime

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> FillRecord:
        """Raises ``ValueError``/``KeyError`` for a malformed entity."""
        return cls(
            fill_id=str(entity["id"]),
            order_id=int(entity["orderId"]),
            contract_id=int(entity["contractId"]),
            side=SIDES[str(entity["action"])],
            qty=int(entity["qty"]),
            price=price(entity["price"]),
            time=parse_time(str(entity["timestamp"])),
        )


def order_result(
    *,
    client_order_id: str,
    order_id: int,
    ord_status: str,
    fills: Iterable[FillRecord],
    account: str,
    symbol: str,
    order_qty: int | None = None,
    reason: str = "",
) -> OrderResult:
    """The engine's :class:`OrderResult` from an order's ``ordStatus`` and its
    fills (oldest first). ``Working``/``PendingNew``/``Pending*`` with fills is
    PARTIALLY_FILLED, or FILLED once the fills reach ``order_qty`` (the
    latest order version's quantity: Tradovate sends the last fill before
    the order's ``Filled`` update); ``Filled`` (or ``Completed`` with fills) FILLED;
    ``Canceled``/``Expired`` CANCELLED; ``Rejected`` REJECTED."""
    ordered = sorted(fills, key=lambda f: (f.time, f.fill_id))
    broker_fills = tuple(
        BrokerFill(
            fill_id=f.fill_id,
            client_order_id=client_order_id,
            account=account,
            symbol=symbol,
            side=f.side,
            qty=f.qty,
            price=f.price,
            time=f.time,
        )
        for f in ordered
    )
    filled = sum(f.qty for f in ordered)
    avg = sum((f.price * f.qty for f in ordered), Decimal(0)) / filled if filled else None
    complete = order_qty is not None and filled >= order_qty > 0
    if ord_status == "Filled" or (ord_status == "Completed" and filled):
        status = OrderStatus.FILLED
    elif ord_status in _CANCELLED:
        status = OrderStatus.CANCELLED
        reason = reason or f"CANCELLED: Tradovate ordStatus {ord_status}"
    elif ord_status in ("Rejected", "Completed"):
        status = OrderStatus.REJECTED
        reason = reason or f"REJECTED: Tradovate ordStatus {ord_status}"
    elif complete:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.WORKING
    return OrderResult(
        client_order_id=client_order_id,
        broker_order_id=str(order_id),
        status=status,
        filled_qty=filled,
        avg_price=avg,
        fills=broker_fills,
        reason=reason,
    )
