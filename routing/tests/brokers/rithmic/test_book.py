"""Rithmic notifications folded into order results (no server needed)."""

from __future__ import annotations

from decimal import Decimal

from async_rithmic.protocol_buffers import (
    exchange_order_notification_pb2 as exchange,
)
from async_rithmic.protocol_buffers import (
    rithmic_order_notification_pb2 as rithmic,
)

from routing.brokers.base import OrderStatus
from routing.brokers.rithmic.book import OrderBook

X = exchange.ExchangeOrderNotification
R = rithmic.RithmicOrderNotification
ORDER = {
    "user_tag": "ct-1",
    "basket_id": "B1",
    "account_id": "ACC-1",
    "symbol": "MNQH6",
    "exchange": "CME",
    "quantity": 5,
    "transaction_type": 2,
    "price_type": 2,
    "ssboe": 1_770_000_000,
}


def test_partial_fills_when_folded_then_partially_filled_then_filled_once_each() -> None:
    # Arrange
    book = OrderBook()
    fill_1 = X(
        template_id=352, notify_type=X.FILL, fill_id="F1", fill_size=2, fill_price=21500.25, **ORDER
    )
    fill_2 = X(
        template_id=352, notify_type=X.FILL, fill_id="F2", fill_size=3, fill_price=21500.5, **ORDER
    )
    # Act
    first, new_1 = book.apply(fill_1)
    repeat, new_repeat = book.apply(fill_1)
    second, new_2 = book.apply(fill_2)
    assert [f.fill_id for f in new_2] == ["F2"]
    # Assert
    assert first is not None and [f.fill_id for f in new_1] == ["F1"]
    assert repeat is None and new_repeat == []
    assert second is not None
    result = second.result()
    assert result.status is OrderStatus.FILLED
    assert result.filled_qty == 5
    assert result.avg_price == (Decimal("21500.25") * 2 + Decimal("21500.5") * 3) / 5
    assert [f.side.value for f in result.fills] == ["sell", "sell"]


def test_rithmic_complete_before_exchange_fill_then_not_filled_without_fills() -> None:
    # Arrange: Rithmic's own "complete, Fill" comes before the exchange's fill.
    book = OrderBook()
    complete = R(
        template_id=351,
        notify_type=R.COMPLETE,
        completion_reason="Fill",
        total_fill_size=5,
        avg_fill_price=21500.0,
        **ORDER,
    )
    # Act
    order, fills = book.apply(complete)
    # Assert: no fill invented from a live 351; working until the fill comes.
    assert order is not None and fills == []
    assert order.result().status is OrderStatus.WORKING


def test_rithmic_complete_cancel_then_cancelled_with_fills_so_far() -> None:
    # Arrange
    book = OrderBook()
    book.apply(
        X(
            template_id=352,
            notify_type=X.FILL,
            fill_id="F1",
            fill_size=2,
            fill_price=21500.0,
            **ORDER,
        )
    )
    # Act
    order, _ = book.apply(
        R(
            template_id=351,
            notify_type=R.COMPLETE,
            completion_reason="Cancel",
            total_fill_size=2,
            **ORDER,
        )
    )
    # Assert
    assert order is not None
    result = order.result()
    assert (result.status, result.filled_qty, result.reason) == (
        OrderStatus.CANCELLED,
        2,
        "cancelled",
    )


def test_snapshot_when_more_filled_than_seen_then_one_catch_up_fill_at_implied_price() -> None:
    # Arrange: 2 seen at 100.0; the snapshot says 5 filled at 101.2 average.
    book = OrderBook()
    fields = dict(ORDER, symbol="MNQH6")
    book.apply(
        X(
            template_id=352,
            notify_type=X.FILL,
            fill_id="F1",
            fill_size=2,
            fill_price=100.0,
            **fields,
        )
    )
    snapshot = X(
        template_id=352,
        notify_type=X.STATUS,
        is_snapshot=True,
        total_fill_size=5,
        avg_fill_price=101.2,
        **fields,
    )
    # Act
    order, fills = book.apply(snapshot)
    # Assert: 3 more at (101.2 x 5 - 200) / 3 = 102.0
    [fill] = fills
    assert (fill.fill_id, fill.qty, fill.price) == ("B1:5", 3, Decimal("102"))
    assert order is not None and order.result().status is OrderStatus.FILLED
    assert book.apply(snapshot) == (None, [])
