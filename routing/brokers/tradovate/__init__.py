"""Tradovate (REST + websocket user sync) behind the broker adapter interface."""

from routing.brokers.tradovate.adapter import TradovateAdapter

__all__ = ["TradovateAdapter"]
