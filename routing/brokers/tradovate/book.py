"""One login's Tradovate entities as the sync stream and lookups report them.

Orders, their ``New`` commands (which carry the ``clOrdId``), order
versions (quantity, type, prices), fills and positions, keyed by Tradovate
id. Entities come from the ``user/syncrequest`` snapshot, ``props`` events
and REST lookups; :meth:`EntityBook.apply` takes any of them and says which
order changed and which fill is new, so the adapter can publish updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.brokers.tradovate.protocol import FINAL_ORD_STATUSES, FillRecord

# Entity types the user sync stream sends, singular as in ``props`` events;
# the snapshot names them in the plural (``orders``, ``fills``...).
ENTITY_TYPES = ("order", "command", "orderVersion", "fill", "position", "contract")


@dataclass(slots=True)
class Change:
    """What one entity changed: the order it touched, a fill new to the book."""

    order_id: int | None = None
    new_fill: FillRecord | None = None


@dataclass
class EntityBook:
    """In-memory entities of one login; ``changed`` wakes waiters on any change."""

    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    commands: dict[int, str] = field(default_factory=dict)  # order id -> clOrdId
    by_client_id: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # order id -> latest
    fills: dict[int, dict[str, FillRecord]] = field(default_factory=dict)
    positions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    contracts: dict[int, str] = field(default_factory=dict)  # contract id -> name
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    # False until the first sync snapshot is in: fills it holds happened
    # before this adapter started and are history, not new leader events.
    primed: bool = False

    def apply(self, entity_type: str, entity: Mapping[str, Any]) -> Change:
        """Store one entity (created or updated). Raises ``KeyError`` /
        ``ValueError`` for one missing its fields."""
        if entity_type == "order":
            order_id = int(entity["id"])
            self.orders[order_id] = dict(entity)
            self._index(order_id)
            return Change(order_id=order_id)
        if entity_type == "command":
            if entity.get("commandType") == "New" and entity.get("clOrdId"):
                order_id = int(entity["orderId"])
                self.commands[order_id] = str(entity["clOrdId"])
                self._index(order_id)
                return Change(order_id=order_id)
            return Change()
        if entity_type == "orderVersion":
            order_id = int(entity["orderId"])
            current = self.versions.get(order_id)
            if current is None or int(entity["id"]) >= int(current["id"]):
                self.versions[order_id] = dict(entity)
            return Change(order_id=order_id)
        if entity_type == "fill":
            fill = FillRecord.from_entity(entity)
            known = self.fills.setdefault(fill.order_id, {})
            is_new = fill.fill_id not in known
            known[fill.fill_id] = fill
            return Change(order_id=fill.order_id, new_fill=fill if is_new else None)
        if entity_type == "position":
            key = (int(entity["accountId"]), int(entity["contractId"]))
            self.positions[key] = dict(entity)
            return Change()
        if entity_type == "contract":
            self.contracts[int(entity["id"])] = str(entity["name"])
        return Change()

    def forget_fill(self, fill: FillRecord) -> None:
        """Drop ``fill`` so the next snapshot brings it as new again (its
        publication failed: a leader fill must not be lost)."""
        self.fills.get(fill.order_id, {}).pop(fill.fill_id, None)

    def _index(self, order_id: int) -> None:
        order = self.orders.get(order_id)
        client_id = self.commands.get(order_id)
        if order is None or client_id is None:
            return
        ids = self.by_client_id.setdefault((int(order["accountId"]), client_id), [])
        if order_id not in ids:
            ids.append(order_id)
            ids.sort()

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def order_ids(self, account_id: int, client_order_id: str) -> list[int]:
        """Orders of ``account_id`` whose ``New`` command carried the id, oldest first."""
        return list(self.by_client_id.get((account_id, client_order_id), ()))

    def status(self, order_id: int) -> str | None:
        order = self.orders.get(order_id)
        return None if order is None else str(order.get("ordStatus", ""))

    def is_final(self, order_id: int) -> bool:
        return self.status(order_id) in FINAL_ORD_STATUSES

    def order_fills(self, order_id: int) -> list[FillRecord]:
        return list(self.fills.get(order_id, {}).values())

    def net_position(self, account_id: int, contract_id: int) -> int:
        position = self.positions.get((account_id, contract_id))
        return 0 if position is None else int(position.get("netPos", 0))

    async def wait_for(self, predicate: Any, seconds: float) -> bool:
        """Wait up to ``seconds`` for ``predicate()``; its last value."""
        try:
            async with asyncio.timeout(seconds), self.changed:
                await self.changed.wait_for(predicate)
        except TimeoutError:
            return bool(predicate())
        return True
