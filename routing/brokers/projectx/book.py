"""What the ProjectX adapter knows of its orders, and how it reads them back.

Orders are known by ``(account, client order id)``; ProjectX holds the
client order id in ``customTag``, so an order whose placement went
unanswered is found with ``/Order/search`` (and its executions with
``/Trade/search``), never sent again blind. The user hub keeps the known
orders current; :meth:`OrderBook.settle` waits for it before reading REST.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.projectx import wire
from routing.brokers.projectx.session import LoginSession


class OrderBook:
    """Known orders: ``known`` by (account, client order id), ``by_id`` by
    ProjectX order id, ``uncertain`` the ids whose placement may have reached
    ProjectX unanswered, ``held`` signed sizes by (account, contract id) as
    the hub last reported them; ``changed`` is notified on every hub event.
    ``settle_seconds`` bounds a wait for the hub, ``lookback`` how far back
    searches reach."""

    def __init__(self, *, settle_seconds: float, lookback: timedelta) -> None:
        self.settle_seconds = settle_seconds
        self.lookback = lookback
        self.known: dict[tuple[str, str], wire.KnownOrder] = {}
        self.by_id: dict[int, wire.KnownOrder] = {}
        self.uncertain: set[tuple[str, str]] = set()
        self.held: dict[tuple[str, str], int] = {}
        self.changed = asyncio.Condition()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        """One lock per order: a repeat waits for the first send's outcome."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def remember(self, account: str, coid: str, order: dict[str, Any]) -> wire.KnownOrder:
        """Record ``order`` (a ProjectX order object, at least its ``id``)."""
        known = self.known.get((account, coid))
        if known is None:
            known = self.known[(account, coid)] = wire.KnownOrder(account, coid)
        if known.order is None or known.order_id != int(order["id"]) or "status" in order:
            known.order = {**(known.order or {}), **order}
        self.by_id[int(order["id"])] = known
        return known

    async def current(
        self, session: LoginSession, account: str, coid: str
    ) -> wire.KnownOrder | None:
        """The order with its status, read from ProjectX when not known yet."""
        known = self.known.get((account, coid))
        if known is None or known.order is None or "status" not in known.order:
            known = await self.find(session, account, coid)
        return known

    async def find(self, session: LoginSession, account: str, coid: str) -> wire.KnownOrder | None:
        """Look ``coid`` up at ProjectX by ``customTag`` (orders, then its trades)."""
        start = datetime.now(UTC) - self.lookback
        answer = await session.call(
            "/Order/search",
            {"accountId": int(account), "startTimestamp": start.isoformat()},
            Priority.QUERY,
        )
        match = [o for o in (answer or {}).get("orders") or [] if o.get("customTag") == coid]
        self.uncertain.discard((account, coid))
        if not match:
            return None
        known = self.remember(account, coid, match[0])
        await self._trades_of(session, known)
        return known

    async def refresh(self, session: LoginSession, known: wire.KnownOrder) -> None:
        """Read ``known`` again from ProjectX (``BrokerTemporaryError`` if gone)."""
        found = await self.find(session, known.account, known.client_order_id)
        if found is None:
            raise BrokerTemporaryError(f"order {known.client_order_id} vanished at ProjectX")

    async def _trades_of(self, session: LoginSession, known: wire.KnownOrder) -> None:
        assert known.order is not None
        if not int(known.order.get("fillVolume") or 0):
            return
        start = datetime.now(UTC) - self.lookback
        answer = await session.call(
            "/Trade/search",
            {"accountId": int(known.account), "startTimestamp": start.isoformat()},
            Priority.QUERY,
        )
        for trade in (answer or {}).get("trades") or []:
            if trade.get("orderId") == known.order_id:
                known.trades[int(trade["id"])] = trade

    async def settle(self, session: LoginSession, known: wire.KnownOrder, wait: bool) -> None:
        """Wait up to ``settle_seconds`` for the hub to report ``known`` final
        (when ``wait``), else read it over REST."""
        if wait:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settle_seconds), self.changed:
                    await self.changed.wait_for(lambda: known.settled)
        if not known.settled and (known.order is None or "status" not in known.order or wait):
            await self.refresh(session, known)
