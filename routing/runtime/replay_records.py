"""What a replay (:mod:`routing.runtime.simulate`) reports: one
:class:`DecisionRecord` per follower per leader fill, a :class:`RiskEvent` per
halt, flatten close and lock, in the order they happened, and the summary.
Plain values (no Django), JSON-ready through ``as_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One copy decision and what the paper broker made of it.

    ``status`` is ``filled`` / ``rejected`` for orders sent, else the
    engine's ``blocked`` / ``skipped``. ``fill_price`` is set when filled.
    ``scaled_from`` is the entry size a risk cap scaled down (``None`` when
    not scaled); ``position_before`` / ``position_after`` the follower's
    tracked signed contracts in ``symbol`` around this order (after: what
    filled).
    """

    leader_event: str
    time: datetime
    follower: str
    symbol: str
    side: str
    qty: int
    status: str
    intent: str
    reason: str
    client_order_id: str
    fill_price: Decimal | None
    scaled_from: int | None = None
    position_before: int = 0
    position_after: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "event": "decision",
            "leader_event": self.leader_event,
            "time": self.time.isoformat(),
            "follower": self.follower,
            "symbol": self.symbol,
            "side": self.side,
            "qty": self.qty,
            "status": self.status,
            "intent": self.intent,
            "reason": self.reason,
            "client_order_id": self.client_order_id,
            "fill_price": None if self.fill_price is None else str(self.fill_price),
            "scaled_from": self.scaled_from,
            "position_before": self.position_before,
            "position_after": self.position_after,
        }


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A risk event of the replay: ``kind`` is ``halt`` (a follower takes no
    entries until the next session), ``flatten`` (one close order of a
    flatten on breach) or ``lock`` (the route went to level 4 Locked).

    ``follower`` is ``None`` for a lock; ``reason`` names the limit and the
    numbers, the text live copying journals; ``details`` are extra JSON fields
    (flatten: symbol, side, qty, status, fill_price; lock: route, level, code;
    halt: trading_date, code). ``code`` is the stable
    :class:`routing.engine.watch.ReasonCode`.
    """

    kind: str
    time: datetime
    reason: str
    follower: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        head: dict[str, Any] = {"event": self.kind, "time": self.time.isoformat()}
        if self.follower is not None:
            head["follower"] = self.follower
        return {**head, "reason": self.reason, **self.details}


@dataclass
class SimulationResult:
    """``records``: decisions and risk events in the order they happened;
    ``summary``: the JSON-ready totals (see
    :func:`routing.runtime.simulate.simulate`)."""

    records: list[DecisionRecord | RiskEvent]
    summary: dict[str, Any]

    @property
    def decisions(self) -> list[DecisionRecord]:
        return [r for r in self.records if isinstance(r, DecisionRecord)]

    @property
    def events(self) -> list[RiskEvent]:
        return [r for r in self.records if isinstance(r, RiskEvent)]
