"""Interactive Brokers (TWS / IB Gateway API through ib_async)."""

from routing.brokers.ib.adapter import IBAdapter

__all__ = ["IBAdapter"]
