"""The adapter interface's value types and error classes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from routing.brokers import (
    BrokerAdapter,
    BrokerError,
    BrokerFatal,
    BrokerFill,
    BrokerRejected,
    BrokerTemporaryError,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
)
from routing.engine.types import Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)


def test_order_request_defaults_to_market_without_price_or_time() -> None:
    order = OrderRequest("acct", "c1", "MNQH5", Side.BUY, 1)

    assert order.order_type is OrderType.MARKET
    assert order.reference_price is None
    assert order.time is None


def test_order_request_working_prices_default_to_none_after_the_old_fields() -> None:
    order = OrderRequest(
        "acct", "c1", "MNQH5", Side.BUY, 1, OrderType.LIMIT, None, T0, D("21538.00")
    )

    assert order.limit_price == D("21538.00")
    assert (order.stop_price, order.stop_loss, order.take_profit) == (None, None, None)


def test_order_request_when_time_naive_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^order c1: time must be timezone-aware"):
        OrderRequest("acct", "c1", "MNQH5", Side.BUY, 1, time=datetime(2025, 3, 3, 14, 30))


def test_broker_fill_when_time_naive_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^fill f1: time must be timezone-aware"):
        BrokerFill("f1", "c1", "acct", "MNQH5", Side.BUY, 1, D("1"), datetime(2025, 3, 3))


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (OrderStatus.FILLED, True),
        (OrderStatus.REJECTED, True),
        (OrderStatus.CANCELLED, True),
        (OrderStatus.WORKING, False),
        (OrderStatus.PARTIALLY_FILLED, False),
    ],
)
def test_order_result_is_final(status: OrderStatus, final: bool) -> None:
    assert OrderResult("c1", None, status, 0, None, ()).is_final is final


def test_status_values_are_stable_strings() -> None:
    assert [s.value for s in OrderStatus] == [
        "filled",
        "rejected",
        "working",
        "partially_filled",
        "cancelled",
    ]


def test_errors_share_a_base_and_rejected_carries_reason() -> None:
    error = BrokerRejected("INSUFFICIENT_MARGIN: need=1200.00", client_order_id="c1")

    assert error.reason == "INSUFFICIENT_MARGIN: need=1200.00"
    assert error.client_order_id == "c1"
    assert str(error) == error.reason
    for cls in (BrokerTemporaryError, BrokerRejected, BrokerFatal):
        assert issubclass(cls, BrokerError)


def test_adapter_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        BrokerAdapter()  # type: ignore[abstract]
    assert {"modify_order", "cancel_order", "order_updates"} <= BrokerAdapter.__abstractmethods__
