"""What-if replay: a route file's group fed a stream of leader fills, in memory.

The same engine as live copying (``decide_copies``) and the paper broker as
every follower's exchange; nothing is written to the database (no Django
here: the caller passes the contract specs in). Used by ``manage.py
replay``. The clock is the leader fills' own times, so CME sessions (17:00
to 16:00 America/Chicago, :func:`routing.engine.sessions.trading_date`)
follow the export.

Risk, as live copying applies it (issue "The risk engine";
:mod:`routing.services.account_sessions` and
:mod:`routing.services.risk_watch`):

* the first leader fill of a CME session rolls every follower into it,
  before its price moves the marks: opening balance = the previous opening
  + that session's realized PnL, the unrealized PnL open positions carry in
  belongs to the opening equity, both high-water marks take the opening
  equity, halts and quarantines end;
* every leader fill then marks the paper book at its price (the leader's
  contract and every follower contract on the same underlying, e.g. NQ for
  a MNQ leader) and each follower's session is checked: session PnL =
  realized since the session opened + unrealized at those marks - the
  unrealized carried in (dollars); equity = opening balance + carried in +
  session PnL; the intraday high-water mark follows equity at every fill;
  the drawdown floor comes from :func:`routing.engine.risk.drawdown_floor`;
* a follower whose daily loss reaches its limit, whose equity reaches its
  drawdown floor, or whose session profit trips the consistency lock, is
  *halted* until the next session (a sticky halt, with the reason and
  numbers, e.g. ``"daily loss 375.00 ≥ limit 375.00"``): its entries are
  blocked, its exits still go. With ``flatten_on_breach`` a loss halt (daily
  loss, drawdown; not the consistency lock) also closes its positions at the
  paper broker (:meth:`PaperBroker.flatten`, at the marks);
* the followers' summed session PnL reaching the route's
  ``max_session_loss``, or a follower fill further than
  ``max_slippage_ticks`` from the leader's price, locks the route: level 4
  Locked for the rest of the replay (entries blocked, exits go);
* a route at level 2 Reduced is taken as reviewed: a replay is a what-if,
  and the point is to see what the reduced route would have copied.

The result lists, in order, one :class:`DecisionRecord` per follower per
leader fill and a :class:`RiskEvent` for each halt, flatten close and lock,
so a reader sees why later entries were blocked.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from routing.brokers.base import OrderRequest, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.engine.conversion import same_underlying
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.limits import AccountSession, DrawdownMode, RouteLevel, RouteLimits
from routing.engine.positions import Position
from routing.engine.risk import (
    check_consistency,
    check_daily_loss,
    check_drawdown,
    drawdown_floor,
    money,
)
from routing.engine.sessions import trading_date
from routing.engine.symbols import root_of
from routing.engine.types import (
    ContractSpec,
    CopyDecision,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    LeaderFill,
)
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
    numbers; ``details`` are extra JSON fields (flatten: symbol, side, qty,
    status, fill_price; lock: route, level; halt: trading_date).
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
class _Account:
    """One follower's replay state: tracked positions, quarantines and its
    risk session. Money in dollars: ``opening`` the balance when the
    session opened, ``carried_in`` the unrealized PnL its open positions
    carried into the session (it belongs to the opening equity, as futures
    are marked to market daily), ``realized_at_open`` the account's
    cumulative realized PnL then."""

    spec: FollowerSpec
    expected: dict[str, int] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)
    trading_date: date | None = None
    opening: Decimal = Decimal(0)
    carried_in: Decimal = Decimal(0)
    realized_at_open: Decimal = Decimal(0)
    high_water: Decimal = Decimal(0)
    eod_high_water: Decimal = Decimal(0)
    halt: str | None = None
    halts: list[dict[str, str]] = field(default_factory=list)
    flatten_orders: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def name(self) -> str:
        return self.spec.account.name

    @classmethod
    def of(cls, spec: FollowerSpec) -> _Account:
        balance = spec.account.balance
        high = max(balance, spec.account.start)
        return cls(spec=spec, opening=balance, high_water=high, eod_high_water=high)

    def roll(self, day: date, realized_total: Decimal, unrealized: Decimal) -> None:
        """Open the session of trading date ``day`` if it is not the current
        one, at the closing session's last marks (``unrealized`` dollars):
        opening balance += the closing session's realized PnL, both
        high-water marks take the opening equity, halts and quarantines end
        (as :mod:`routing.services.account_sessions` resets live sessions)."""
        if self.trading_date == day:
            return
        if self.trading_date is not None:
            self.opening += realized_total - self.realized_at_open
            self.carried_in = unrealized
            opening_equity = self.opening + self.carried_in
            self.eod_high_water = max(self.eod_high_water, opening_equity)
            self.high_water = max(self.high_water, opening_equity)
        self.realized_at_open = realized_total
        self.trading_date = day
        self.halt = None
        self.quarantined.clear()


@dataclass
class _Route:
    """The route's level during the replay (starts at the file's; a lock is
    for the rest of the replay) and the engine's group config at that level."""

    group: GroupConfig
    start: RouteLevel
    lock: dict[str, str] | None = None

    def locked(self, reason: str, at: datetime) -> None:
        limits: RouteLimits = replace(self.group.limits, level=RouteLevel.LOCKED)
        self.group = replace(self.group, limits=limits)
        self.lock = {"time": at.isoformat(), "reason": reason}


@dataclass
class SimulationResult:
    """``records``: decisions and risk events in the order they happened;
    ``summary``: the JSON-ready totals (see :func:`simulate`)."""

    records: list[DecisionRecord | RiskEvent]
    summary: dict[str, Any]

    @property
    def decisions(self) -> list[DecisionRecord]:
        return [r for r in self.records if isinstance(r, DecisionRecord)]

    @property
    def events(self) -> list[RiskEvent]:
        return [r for r in self.records if isinstance(r, RiskEvent)]


def simulate(
    route: RouteSpec,
    fills: Iterable[LeaderFill],
    specs: Mapping[str, ContractSpec],
    *,
    slippage_ticks: int = 0,
) -> SimulationResult:
    """Run ``fills`` (in order) through ``route``; ``specs`` keyed by root.

    ``slippage_ticks`` moves every paper fill against the follower (the
    route's own ``slippage_ticks`` is only its risk allowance). The summary
    holds the leader's book and per follower: orders sent / filled /
    rejected / blocked / skipped / scaled, halts (time, trading date,
    reason), flatten orders, final position, realized and unrealized PnL
    (dollars as strings); and the route's start and final level and its
    lock (time, reason) or ``None``.

    Raises ``KeyError`` naming the root when a fill's contract has no spec
    (importers check this first, so it signals a programming error) and
    :class:`RouteFileError` when a mapping or an allow / deny list names a
    product without a spec.
    """
    return asyncio.run(_simulate(route, list(fills), specs, slippage_ticks))


def _check_roots(route: RouteSpec, specs: Mapping[str, ContractSpec]) -> None:
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


class _Replay:
    """The replay's mutable state around the pure engine."""

    def __init__(
        self, route: RouteSpec, specs: Mapping[str, ContractSpec], broker: PaperBroker
    ) -> None:
        self.spec = route
        self.specs = specs
        self.broker = broker
        group_limits = replace(route.group.limits, reviewed=True)
        self.route = _Route(replace(route.group, limits=group_limits), group_limits.level)
        self.accounts = {f.account.name: _Account.of(f) for f in route.followers}
        self.leader_book: dict[str, Position] = defaultdict(Position)
        self.symbols: set[str] = set()
        self.linked: dict[str, set[str]] = defaultdict(set)  # leader symbol -> same-index ones
        self.records: list[DecisionRecord | RiskEvent] = []

    # -- figures -------------------------------------------------------------

    def realized_total(self, account: _Account) -> Decimal:
        return sum(
            (self.broker.position(account.name, s).realized_pnl for s in self.symbols),
            Decimal(0),
        )

    def unrealized(self, account: _Account) -> Decimal:
        positions = {s: self.broker.position(account.name, s) for s in self.symbols}
        return _unrealized(self.broker, positions, self.specs)

    def session_figures(self, account: _Account) -> tuple[Decimal, Decimal]:
        """``(session realized, session PnL)``, dollars: session PnL =
        realized since the session opened + unrealized at the marks - the
        unrealized carried into the session."""
        realized = self.realized_total(account) - account.realized_at_open
        return realized, realized + self.unrealized(account) - account.carried_in

    def engine_session(self, account: _Account, realized: Decimal, pnl: Decimal) -> AccountSession:
        limits = account.spec.limits
        equity = account.opening + account.carried_in + pnl
        floor = None
        if limits.max_drawdown is not None:
            high = (
                account.eod_high_water
                if limits.drawdown_mode is DrawdownMode.TRAILING_EOD
                else max(account.high_water, equity)
            )
            floor = drawdown_floor(
                limits.drawdown_mode, limits.max_drawdown, account.spec.account.start, high
            )
        return AccountSession(
            trading_date=account.trading_date,
            halt=account.halt,
            equity=equity,
            realized=realized,
            drawdown_floor=floor,
        )

    # -- risk watch ----------------------------------------------------------

    def roll(self, at: datetime) -> None:
        """Every account into the session holding ``at`` (before its price
        moves the marks: what open positions carry in is valued at the
        closing session's last prices)."""
        day = trading_date(at)
        for account in self.accounts.values():
            if account.trading_date != day:
                account.roll(day, self.realized_total(account), self.unrealized(account))

    async def watch(self, at: datetime) -> None:
        """Sticky halts (and flattens on breach), the route's session-loss
        lock: at ``at``, with the marks already moved.

        As :mod:`routing.services.risk_watch` does live: the daily loss or
        the drawdown floor reached halts (and may flatten), the consistency
        lock halts (a profit rule: never flattens).
        """
        day = trading_date(at)
        for account in self.accounts.values():
            realized, pnl = self.session_figures(account)
            state = self.engine_session(account, realized, pnl)
            if state.equity is not None:
                account.high_water = max(account.high_water, state.equity)
            if account.halt is not None:
                continue
            limits = account.spec.limits
            loss = check_daily_loss(pnl, limits) or (
                check_drawdown(state, limits) if limits.max_drawdown is not None else None
            )
            reason = loss or check_consistency(state, limits)
            if reason is None:
                continue
            account.halt = reason
            account.halts.append(
                {"time": at.isoformat(), "trading_date": day.isoformat(), "reason": reason}
            )
            self.records.append(
                RiskEvent("halt", at, reason, account.name, {"trading_date": day.isoformat()})
            )
            if loss is not None and limits.flatten_on_breach:
                await self.flatten(account, reason, at)
        limits = self.route.group.limits
        if self.route.lock is None and limits.max_session_loss is not None:
            total = sum((self.session_figures(a)[1] for a in self.accounts.values()), Decimal(0))
            if -total >= limits.max_session_loss:
                self.lock(
                    f"route session loss {money(-total)} \u2265 limit "
                    f"{money(limits.max_session_loss)}",
                    at,
                )

    async def flatten(self, account: _Account, reason: str, at: datetime) -> None:
        """Close every open position of ``account`` at the marks (flatten on breach)."""
        for symbol in sorted(self.symbols):
            held = self.broker.position(account.name, symbol).qty
            if held == 0:
                continue
            for result in await self.broker.flatten(account.name, symbol, time=at):
                after = self.broker.position(account.name, symbol).qty
                account.expected[symbol] = after
                account.flatten_orders += 1
                self.records.append(
                    RiskEvent(
                        "flatten",
                        at,
                        f"flatten on breach: {reason}",
                        account.name,
                        {
                            "symbol": symbol,
                            "side": "sell" if held > 0 else "buy",
                            "qty": abs(held),
                            "status": result.status.value,
                            "fill_price": None
                            if result.avg_price is None
                            else str(result.avg_price),
                            "client_order_id": result.client_order_id,
                            "position_before": held,
                            "position_after": after,
                        },
                    )
                )

    def lock(self, reason: str, at: datetime) -> None:
        if self.route.lock is not None:
            return
        self.route.locked(reason, at)
        self.records.append(
            RiskEvent(
                "lock",
                at,
                reason,
                details={"route": self.spec.name, "level": RouteLevel.LOCKED.label},
            )
        )

    # -- one leader fill -------------------------------------------------------

    async def on_fill(self, fill: LeaderFill) -> None:
        spec = self.specs[root_of(fill.symbol)]
        self.roll(fill.time)
        self.symbols.add(fill.symbol)
        for symbol in {fill.symbol, *self.linked[fill.symbol]}:
            self.broker.mark(symbol, fill.price, fill.time)
        leader_before = self.leader_book[fill.symbol]
        self.leader_book[fill.symbol], _ = leader_before.apply_fill(
            fill.side, fill.qty, fill.price, spec.point_value
        )
        await self.watch(fill.time)
        states = []
        for f in self.spec.followers:
            account = self.accounts[f.account.name]
            realized, pnl = self.session_figures(account)
            states.append(
                FollowerState(
                    key=account.name,
                    ratio=f.ratio,
                    # Every tracked position of the account: the risk checks count
                    # open positions, contracts and exposure across contracts.
                    positions={s: q for s, q in account.expected.items() if q},
                    session_pnl=pnl,
                    limits=f.limits,
                    sizing_basis=f.sizing_basis,
                    balance=account.opening,
                    quarantined=frozenset(account.quarantined),
                    session=self.engine_session(account, realized, pnl),
                )
            )
        marks = {s: m for s in self.symbols if (m := self.broker.last_mark(s)) is not None}
        move = LeaderMove.of_fill(fill, leader_before.qty)
        decisions = decide_copies(
            move, self.route.group, states, self.specs, route_key=self.spec.name, marks=marks
        )
        for decision in decisions:
            await self.apply(fill, spec, decision)

    async def apply(self, fill: LeaderFill, spec: ContractSpec, decision: CopyDecision) -> None:
        account = self.accounts[decision.follower]
        status, price = decision.status.value, None
        if decision.status is DecisionStatus.SEND:
            follower_spec = self.specs[root_of(decision.symbol)]
            same = same_underlying(spec, follower_spec)
            self.symbols.add(decision.symbol)
            if same and decision.symbol != fill.symbol:
                self.linked[fill.symbol].add(decision.symbol)
                self.broker.mark(decision.symbol, fill.price, fill.time)
            account.expected[decision.symbol] = decision.target
            result = await self.broker.place_order(
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
                    and self.route.group.quarantine
                    and decision.intent is not Intent.EXIT
                ):
                    account.quarantined.add(decision.symbol)
        account.counts[status] += 1
        if decision.scaled_from is not None:
            account.counts["scaled"] += 1
        self.records.append(
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
                scaled_from=decision.scaled_from,
                position_before=decision.position_before,
                position_after=account.expected.get(decision.symbol, 0),
            )
        )
        if price is not None:  # the lock follows the fill that caused it
            self._check_slippage(fill, decision, self.specs[root_of(decision.symbol)], price)

    def _check_slippage(
        self,
        fill: LeaderFill,
        decision: CopyDecision,
        follower_spec: ContractSpec,
        price: Decimal,
    ) -> None:
        """Lock the route when a follower fill on the leader's underlying is
        more than ``max_slippage_ticks`` from the leader's price (a fill on
        another underlying has no comparable price)."""
        cap = self.route.group.limits.max_slippage_ticks
        if cap is None or not same_underlying(self.specs[root_of(fill.symbol)], follower_spec):
            return
        ticks = abs(price - fill.price) / follower_spec.tick_size
        if ticks > cap:
            self.lock(
                f"slippage {ticks.normalize():f} ticks > max slippage {cap} ticks "
                f"({decision.follower} {decision.symbol} filled {price} vs leader {fill.price})",
                fill.time,
            )


async def _simulate(
    route: RouteSpec,
    fills: list[LeaderFill],
    specs: Mapping[str, ContractSpec],
    slippage_ticks: int,
) -> SimulationResult:
    _check_roots(route, specs)
    broker = PaperBroker(specs, slippage_ticks=slippage_ticks)
    await broker.connect()
    replay = _Replay(route, specs, broker)
    for fill in fills:
        await replay.on_fill(fill)
    await broker.disconnect()
    return SimulationResult(replay.records, _summary(replay, fills))


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


def _summary(replay: _Replay, fills: list[LeaderFill]) -> dict[str, Any]:
    broker, specs, route = replay.broker, replay.specs, replay.spec

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
        account = replay.accounts[f.account.name]
        positions = {s: broker.position(account.name, s) for s in replay.symbols}
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
        "level": replay.route.start.label,
        "final_level": replay.route.group.limits.level.label,
        "lock": replay.route.lock,
        "leader": {"name": route.leader.name, "fills": len(fills), **book(replay.leader_book)},
        "followers": followers,
    }
