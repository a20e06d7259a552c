"""Tradovate's wire format: frames, addresses, penalties, status mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.brokers.base import OrderStatus
from routing.brokers.tradovate.protocol import (
    FillRecord,
    frame_request,
    market_data_url,
    order_result,
    parse_frame,
    parse_time,
    penalty_of,
    websocket_url,
)
from routing.engine.types import Side

T = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _fill(fill_id: str, qty: int, price: str) -> FillRecord:
    return FillRecord(fill_id, 7, 9, Side.BUY, qty, Decimal(price), T)


def test_websocket_url_when_rest_base_then_beside_it() -> None:
    assert websocket_url("https://demo.tradovateapi.com/v1") == (
        "wss://demo.tradovateapi.com/v1/websocket"
    )
    assert websocket_url("http://127.0.0.1:8000/v1/") == "ws://127.0.0.1:8000/v1/websocket"
    with pytest.raises(ValueError, match="http"):
        websocket_url("demo.tradovateapi.com")


def test_frames_when_encoded_and_decoded_then_tradovate_shapes() -> None:
    assert frame_request("user/syncrequest", 3, {"users": [5]}) == (
        'user/syncrequest\n3\n\n{"users": [5]}'
    )
    assert frame_request("authorize", 0, "tok") == "authorize\n0\n\ntok"
    assert parse_frame("o").kind == "o" and parse_frame("h").kind == "h"
    frame = parse_frame('a[{"s":200,"i":1},{"e":"props","d":{}}]')
    assert frame.kind == "a" and frame.messages[0] == {"s": 200, "i": 1}
    with pytest.raises(ValueError, match="unknown Tradovate frame"):
        parse_frame("x[]")
    with pytest.raises(ValueError, match="unreadable"):
        parse_frame("a[{")


def test_penalty_and_time_when_read_then_ticket_and_aware_utc() -> None:
    assert penalty_of({"p-ticket": "abc", "p-time": 15, "p-captcha": False}) == ("abc", 15.0)
    assert penalty_of({"orderId": 5}) is None
    assert parse_time("2026-12-03T15:00:00.000Z") == T


def test_order_result_when_fills_then_status_quantity_and_exact_average() -> None:
    fills = [_fill("f2", 2, "21489.75"), _fill("f1", 1, "21490.00")]
    partial = order_result(client_order_id="c", order_id=7, ord_status="Working",
                           fills=fills[1:], account="A", symbol="MNQH7", order_qty=3)  # fmt: skip
    done = order_result(client_order_id="c", order_id=7, ord_status="Working",
                        fills=fills, account="A", symbol="MNQH7", order_qty=3)  # fmt: skip
    cancelled = order_result(client_order_id="c", order_id=7, ord_status="Canceled",
                             fills=fills[1:], account="A", symbol="MNQH7")  # fmt: skip
    rejected = order_result(client_order_id="c", order_id=7, ord_status="Rejected",
                            fills=[], account="A", symbol="MNQH7")  # fmt: skip
    assert (partial.status, partial.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 1)
    assert done.status == OrderStatus.FILLED
    assert done.avg_price == (Decimal("21490.00") + 2 * Decimal("21489.75")) / 3
    assert [f.fill_id for f in done.fills] == ["f1", "f2"]  # oldest first, then by id
    assert cancelled.status == OrderStatus.CANCELLED and cancelled.filled_qty == 1
    assert rejected.status == OrderStatus.REJECTED and "Rejected" in rejected.reason


def test_market_data_url_is_tradovates_md_host_or_beside_a_local_endpoint() -> None:
    assert market_data_url("https://demo.tradovateapi.com/v1") == (
        "wss://md-demo.tradovateapi.com/v1/websocket"
    )
    assert market_data_url("https://live.tradovateapi.com/v1/") == (
        "wss://md.tradovateapi.com/v1/websocket"
    )
    assert market_data_url("http://127.0.0.1:81/v1") == "ws://127.0.0.1:81/v1/md/websocket"
