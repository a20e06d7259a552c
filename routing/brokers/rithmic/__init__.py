"""Rithmic (R|Protocol) broker adapter over the async-rithmic SDK."""

from routing.brokers.rithmic.adapter import RithmicAdapter

__all__ = ["RithmicAdapter"]
