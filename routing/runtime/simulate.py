"""What-if replay: a route file's group fed a stream of leader fills, in memory.

The same engine as live copying (``decide_copies``) and the paper broker as
every follower's exchange; nothing is written to the database. Used by
``manage.py replay``. The clock is the leader fills' own times, so sessions
(and daily-loss resets) follow the export.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.engine.conversion import same_underlying
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.positions import Position
from routing.engine.sessions import session_start
from routing.engine.symbols import root_of
from routing.engine.types import ContractSpec, DecisionStatus, FollowerState, Intent, LeaderFill
from routing.route_file import RouteFileError, RouteSpec

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One copy decision and what the paper broker made of it.

    ``status`` is ``filled`` / ``rejected`` for orders sent, else the
    engine's ``blocked`` / ``skipped``. ``fill_price`` is set when filled.
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

    def as_json(self) -> dict[str, Any]:
        return {
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
        }


@dataclass
class _Account:
    name: str
    expected: dict[str, int] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)
    quarantine_session: datetime | None = None
    realized_by_session: dict[datetime, Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class SimulationResult:
    decisions: list[DecisionRecord]
    summary: dict[str, Any]


def simulate(
    route: RouteSpec,
    fills: Iterable[LeaderFill],
    specs: Mapping[str, ContractSpec],
    *,
    slippage_ticks: int = 0,
) -> SimulationResult:
    """Run ``fills`` (in order) through ``route``; ``specs`` keyed by root.

    Raises ``KeyError`` naming the root when a fill's contract has no spec
    (importers check this first, so it signals a programming error) and
    :class:`RouteFileError` when a mapping names a product without a spec.
    """
    return asyncio.run(_simulate(route, list(fills), specs, slippage_ticks))


async def _simulate(
    route: RouteSpec,
    fills: list[LeaderFill],
    specs: Mapping[str, ContractSpec],
    slippage_ticks: int,
) -> SimulationResult:
    engine_specs = dict(specs)
    for leader_root, follower_root in route.group.mappings:
        for root in (leader_root, follower_root):
            if root not in engine_specs:
                raise RouteFileError(
                    f"mapping {leader_root} -> {follower_root}: no contract spec for {root}"
                )
    broker = PaperBroker(specs, slippage_ticks=slippage_ticks)
    await broker.connect()
    leader_book: dict[str, Position] = defaultdict(Position)
    accounts = {f.account.name: _Account(f.account.name) for f in route.followers}
    symbols: set[str] = set()
    decisions: list[DecisionRecord] = []

    for fill in fills:
        spec = specs[root_of(fill.symbol)]
        symbols.add(fill.symbol)
        broker.mark(fill.symbol, fill.price, fill.time)
        session = session_start(fill.time)
        leader_before = leader_book[fill.symbol]
        leader_book[fill.symbol], _ = leader_before.apply_fill(
            fill.side, fill.qty, fill.price, spec.point_value
        )
        states = []
        for f in route.followers:
            account = accounts[f.account.name]
            if account.quarantine_session != session:
                account.quarantined.clear()  # quarantines end with the session
                account.quarantine_session = session
            states.append(
                FollowerState(
                    key=f.account.name,
                    ratio=f.ratio,
                    positions=dict(account.expected),
                    session_pnl=_session_pnl(broker, account, session, symbols, specs),
                    limits=f.limits,
                    sizing_basis=f.sizing_basis,
                    balance=f.account.balance,
                    quarantined=frozenset(account.quarantined),
                )
            )
        marks = {s: m for s in symbols if (m := broker.last_mark(s)) is not None}
        move = LeaderMove.of_fill(fill, leader_before.qty)
        for decision in decide_copies(
            move, route.group, states, engine_specs, route_key=route.name, marks=marks
        ):
            account = accounts[decision.follower]
            status, price = decision.status.value, None
            if decision.status is DecisionStatus.SEND:
                symbols.add(decision.symbol)
                account.expected[decision.symbol] = decision.target
                before = broker.position(decision.follower, decision.symbol).realized_pnl
                same = same_underlying(spec, specs[root_of(decision.symbol)])
                result = await broker.place_order(
                    OrderRequest(
                        account=decision.follower,
                        client_order_id=decision.client_order_id,
                        symbol=decision.symbol,
                        side=decision.side,
                        qty=decision.qty,
                        reference_price=fill.price if same else None,
                        time=fill.time,
                    )
                )
                status, price = result.status.value, result.avg_price
                unfilled = decision.qty - result.filled_qty
                if result.is_final and unfilled:
                    account.expected[decision.symbol] -= decision.side.sign * unfilled
                    if (
                        result.status is OrderStatus.REJECTED
                        and route.group.quarantine
                        and (decision.intent is not Intent.EXIT)
                    ):
                        account.quarantined.add(decision.symbol)
                if result.filled_qty:
                    after = broker.position(decision.follower, decision.symbol).realized_pnl
                    account.realized_by_session[session] += after - before
            account.counts[status] += 1
            decisions.append(
                DecisionRecord(
                    leader_event=fill.event_id,
                    time=fill.time,
                    follower=decision.follower,
                    symbol=decision.symbol,
                    side=decision.side.value,
                    qty=decision.qty,
                    status=status,
                    intent=decision.intent.value,
                    reason=decision.reason,
                    client_order_id=decision.client_order_id,
                    fill_price=price,
                )
            )
    await broker.disconnect()
    return SimulationResult(
        decisions, _summary(route, fills, broker, leader_book, symbols, specs, accounts)
    )


def _session_pnl(
    broker: PaperBroker,
    account: _Account,
    session: datetime,
    symbols: set[str],
    specs: Mapping[str, ContractSpec],
) -> Decimal:
    positions = {s: broker.position(account.name, s) for s in symbols}
    return account.realized_by_session[session] + _unrealized(broker, positions, specs)


def _unrealized(
    broker: PaperBroker, positions: Mapping[str, Position], specs: Mapping[str, ContractSpec]
) -> Decimal:
    """Dollars of open PnL of ``positions`` (by symbol) at the broker's last marks."""
    total = Decimal(0)
    for symbol, position in positions.items():
        mark = broker.last_mark(symbol)
        if position.qty and mark is not None:
            total += position.unrealized_pnl(mark, specs[root_of(symbol)].point_value)
    return total


def _summary(
    route: RouteSpec,
    fills: list[LeaderFill],
    broker: PaperBroker,
    leader_book: Mapping[str, Position],
    symbols: set[str],
    specs: Mapping[str, ContractSpec],
    accounts: Mapping[str, _Account],
) -> dict[str, Any]:
    def book(positions: Mapping[str, Position]) -> dict[str, Any]:
        realized = sum((p.realized_pnl for p in positions.values()), Decimal(0))
        unrealized = _unrealized(broker, positions, specs)
        return {
            "final_position": {s: p.qty for s, p in sorted(positions.items()) if p.qty},
            "realized_pnl": str(realized.quantize(CENT)),
            "unrealized_pnl": str(unrealized.quantize(CENT)),
        }

    followers = []
    for f in route.followers:
        positions = {s: broker.position(f.account.name, s) for s in symbols}
        counts = accounts[f.account.name].counts
        followers.append(
            {
                "follower": f.account.name,
                "ratio": str(f.ratio),
                "sent": counts["filled"] + counts["rejected"],
                "filled": counts["filled"],
                "rejected": counts["rejected"],
                "blocked": counts["blocked"],
                "skipped": counts["skipped"],
                **book(positions),
            }
        )
    return {
        "route": route.name,
        "leader": {"name": route.leader.name, "fills": len(fills), **book(leader_book)},
        "followers": followers,
    }
