"""A replay's state and what it reports (:mod:`routing.runtime.simulate`):
one :class:`DecisionRecord` per follower per leader fill, a :class:`RiskEvent`
per halt, flatten close and lock, in the order they happened, and the summary.
Plain values (no Django), JSON-ready through ``as_json``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from routing.brokers.paper import PaperBroker
from routing.engine.limits import RouteLevel, RouteLimits
from routing.engine.positions import Position
from routing.engine.symbols import root_of
from routing.engine.types import ContractSpec, GroupConfig
from routing.engine.watch import SessionState
from routing.route_file import FollowerSpec, RouteFileError, RouteSpec

CENT = Decimal("0.01")


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


@dataclass
class ReplayAccount:
    """One follower's replay state: tracked positions, quarantines and its
    layer-2 session (:class:`SessionState`, ``None`` before the first fill);
    ``realized_at_open`` the account's cumulative realized PnL (dollars) when
    the session opened."""

    spec: FollowerSpec
    expected: dict[str, int] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)
    session: SessionState | None = None
    realized_at_open: Decimal = Decimal(0)
    halts: list[dict[str, str]] = field(default_factory=list)
    flatten_orders: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def name(self) -> str:
        return self.spec.account.name

    @property
    def state(self) -> SessionState:
        assert self.session is not None  # every fill rolls the accounts first
        return self.session


@dataclass
class ReplayRoute:
    """The route's level during the replay (starts at the file's; a lock is
    for the rest of the replay) and the engine's group config at that level."""

    group: GroupConfig
    start: RouteLevel
    lock: dict[str, str] | None = None

    def locked(self, reason: str, at: datetime) -> None:
        limits: RouteLimits = replace(self.group.limits, level=RouteLevel.LOCKED)
        self.group = replace(self.group, limits=limits)
        self.lock = {"time": at.isoformat(), "reason": reason}


def check_roots(route: RouteSpec, specs: Mapping[str, ContractSpec]) -> None:
    """Refuse (``RouteFileError``) a mapping or an allow / deny list naming a
    product without a contract spec."""
    for leader_root, follower_root in route.group.mappings:
        for root in (leader_root, follower_root):
            if root not in specs:
                raise RouteFileError(
                    f"mapping {leader_root} -> {follower_root}: no contract spec for {root}"
                )
    for f in route.followers:
        for key in ("allowed_roots", "denied_roots"):
            unknown = sorted(r for r in getattr(f.limits, key) if r not in specs)
            if unknown:
                raise RouteFileError(
                    f"follower {f.account.name!r} limits.{key}: no contract spec for "
                    f"{', '.join(unknown)}"
                )


def unrealized_at_marks(
    broker: PaperBroker, positions: Mapping[str, Position], specs: Mapping[str, ContractSpec]
) -> Decimal:
    """Dollars of open PnL of ``positions`` (by symbol) at the broker's last marks."""
    total = Decimal(0)
    for symbol, position in positions.items():
        mark = broker.last_mark(symbol)
        if position.qty and mark is not None:
            total += position.unrealized_pnl(mark, specs[root_of(symbol)].point_value)
    return total


def replay_summary(
    route: RouteSpec,
    accounts: Mapping[str, ReplayAccount],
    *,
    broker: PaperBroker,
    specs: Mapping[str, ContractSpec],
    symbols: set[str],
    leader_book: Mapping[str, Position],
    route_state: ReplayRoute,
    fills: int,
) -> dict[str, Any]:
    """The replay's JSON-ready totals (see :func:`routing.runtime.simulate.simulate`)."""

    def book(positions: Mapping[str, Position]) -> dict[str, Any]:
        realized = sum((p.realized_pnl for p in positions.values()), Decimal(0))
        unrealized = unrealized_at_marks(broker, positions, specs)
        return {
            "final_position": {s: p.qty for s, p in sorted(positions.items()) if p.qty},
            "realized_pnl": str(realized.quantize(CENT)),
            "unrealized_pnl": str(unrealized.quantize(CENT)),
        }

    followers = []
    for f in route.followers:
        account = accounts[f.account.name]
        positions = {s: broker.position(account.name, s) for s in symbols}
        counts = account.counts
        followers.append(
            {
                "follower": account.name,
                "ratio": str(f.ratio),
                "sent": counts["filled"] + counts["rejected"],
                "filled": counts["filled"],
                "rejected": counts["rejected"],
                "blocked": counts["blocked"],
                "skipped": counts["skipped"],
                "scaled": counts["scaled"],
                "halts": list(account.halts),
                "flatten_orders": account.flatten_orders,
                **book(positions),
            }
        )
    return {
        "route": route.name,
        "level": route_state.start.label,
        "final_level": route_state.group.limits.level.label,
        "lock": route_state.lock,
        "leader": {"name": route.leader.name, "fills": fills, **book(leader_book)},
        "followers": followers,
    }
