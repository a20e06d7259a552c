"""Broker adapters: one async interface (:mod:`routing.brokers.base`) per platform.

Adapters do the I/O around the pure engine: they send, modify and cancel
follower orders, stream leader fills and working orders, and report
positions. Errors are translated into :mod:`routing.brokers.errors`.
``paper`` is the in-memory simulated exchange used by the embedded default,
demos, replays and tests.
"""

from __future__ import annotations

from routing.brokers.base import (
    BrokerAdapter,
    BrokerFill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    PositionSnapshot,
)
from routing.brokers.errors import BrokerError, BrokerFatal, BrokerRejected, BrokerTemporaryError

__all__ = [
    "BrokerAdapter",
    "BrokerError",
    "BrokerFatal",
    "BrokerFill",
    "BrokerRejected",
    "BrokerTemporaryError",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "OrderType",
    "PositionSnapshot",
]
