"""What-if replay: a route file's group fed a stream of leader fills, in memory.

The same engine as live copying (``decide_copies``) and the paper broker as
every follower's exchange; nothing is written to the database (no Django
here: the caller passes the contract specs in). Used by ``manage.py
replay``. The clock is the leader fills' own times, so CME sessions (17:00
to 16:00 America/Chicago, :func:`routing.engine.sessions.trading_date`)
follow the export.

Layer-2 risk is live copying's own: the rules are the engine's state
transitions (:mod:`routing.engine.watch`), which
:mod:`routing.services.account_sessions` and :mod:`routing.services.risk_watch`
call live; this module only measures the figures they need and keeps their
state in memory. Per leader fill, in order:

* the first fill of a CME session rolls every follower into it
  (:func:`~routing.engine.watch.session_roll`), before its price moves the
  marks, as the beat's reset does live at 17:00; quarantines end too;
* the fill marks the paper book at its price (the leader's contract and
  every follower contract on the same underlying, e.g. NQ for a MNQ leader)
  and each follower is checked (:func:`~routing.engine.watch.account_check`):
  session PnL = realized since the open + unrealized at the marks - the
  unrealized carried in (dollars); a halt is sticky until the next session,
  with its code and text (``"daily loss 375.00 ≥ limit 375.00"``); a loss
  halt with ``flatten_on_breach`` closes the follower's positions at the
  paper broker (:meth:`PaperBroker.flatten`, at the marks);
* the route locks (level 4, for the rest of the replay: entries blocked,
  exits go) when the followers' summed session loss reaches its
  ``max_session_loss`` (:func:`~routing.engine.watch.route_check`), or, after
  the copies are sent, on an incident as live records it: a rejected copy
  order, or a fill further than ``max_slippage_ticks`` from the leader's
  price (:func:`~routing.engine.watch.rejected_order_finding`,
  :func:`~routing.engine.watch.slippage_finding`);
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
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus
from routing.brokers.paper import PaperBroker
from routing.engine.conversion import same_underlying
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.limits import AccountSession, RouteLevel
from routing.engine.positions import Position
from routing.engine.sessions import trading_date
from routing.engine.symbols import root_of
from routing.engine.types import (
    ContractSpec,
    CopyDecision,
    DecisionStatus,
    FollowerState,
    Intent,
    LeaderFill,
)
from routing.engine.watch import (
    Reason,
    account_check,
    engine_view,
    incident_lock_text,
    rejected_order_finding,
    route_check,
    session_open,
    session_roll,
    slippage_finding,
)
from routing.route_file import RouteSpec
from routing.runtime.replay_records import (
    DecisionRecord,
    ReplayAccount,
    ReplayRoute,
    RiskEvent,
    SimulationResult,
    check_roots,
    replay_summary,
    unrealized_at_marks,
)

__all__ = ["DecisionRecord", "RiskEvent", "SimulationResult", "simulate"]


def simulate(
    route: RouteSpec,
    fills: Iterable[LeaderFill],
    specs: Mapping[str, ContractSpec],
    *,
    slippage_ticks: int = 0,
    broker: PaperBroker | None = None,
) -> SimulationResult:
    """Run ``fills`` (in order) through ``route``; ``specs`` keyed by root.

    ``slippage_ticks`` moves every paper fill against the follower (the
    route's own ``slippage_ticks`` is only its risk allowance). ``broker``: a
    fresh paper broker of the caller's (not connected yet; e.g. one set to
    reject an account's orders), instead of one built here with
    ``slippage_ticks``; its accounts are the followers' names. The summary
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
    broker = broker or PaperBroker(specs, slippage_ticks=slippage_ticks)
    return asyncio.run(_simulate(route, list(fills), specs, broker))


class _Replay:
    """The replay's mutable state around the pure engine."""

    def __init__(
        self, route: RouteSpec, specs: Mapping[str, ContractSpec], broker: PaperBroker
    ) -> None:
        self.spec = route
        self.specs = specs
        self.broker = broker
        group_limits = replace(route.group.limits, reviewed=True)
        self.route = ReplayRoute(replace(route.group, limits=group_limits), group_limits.level)
        self.accounts = {f.account.name: ReplayAccount(f) for f in route.followers}
        self.leader_book: dict[str, Position] = defaultdict(Position)
        self.symbols: set[str] = set()
        self.linked: dict[str, set[str]] = defaultdict(set)  # leader symbol -> same-index ones
        self.records: list[DecisionRecord | RiskEvent] = []

    # -- figures -------------------------------------------------------------

    def realized_total(self, account: ReplayAccount) -> Decimal:
        return sum(
            (self.broker.position(account.name, s).realized_pnl for s in self.symbols),
            Decimal(0),
        )

    def unrealized(self, account: ReplayAccount) -> Decimal:
        positions = {s: self.broker.position(account.name, s) for s in self.symbols}
        return unrealized_at_marks(self.broker, positions, self.specs)

    def session_figures(self, account: ReplayAccount) -> tuple[Decimal, Decimal]:
        """``(session realized, session PnL)``, dollars: session PnL =
        realized since the session opened + unrealized at the marks - the
        unrealized carried into the session."""
        realized = self.realized_total(account) - account.realized_at_open
        return realized, realized + self.unrealized(account) - account.state.carried_in

    def view(self, account: ReplayAccount) -> tuple[Decimal, AccountSession]:
        """``(session PnL, the layer-1 checks' session view)`` now."""
        realized, pnl = self.session_figures(account)
        return pnl, engine_view(
            account.state,
            account.spec.limits,
            starting_balance=account.spec.account.start,
            session_pnl=pnl,
            realized=realized,
        )

    # -- risk watch ----------------------------------------------------------

    def roll(self, at: datetime) -> None:
        """Every account into the session holding ``at`` (before its price
        moves the marks: what open positions carry in is valued at the
        closing session's last prices)."""
        day = trading_date(at)
        for account in self.accounts.values():
            if account.session is not None and account.session.trading_date == day:
                continue
            realized, carried_in = self.realized_total(account), self.unrealized(account)
            if account.session is None:
                account.session = session_open(
                    trading_date=day,
                    balance=account.spec.account.balance,
                    starting_balance=account.spec.account.start,
                    carried_in=carried_in,
                )
            else:
                account.session = session_roll(
                    account.session,
                    trading_date=day,
                    realized_since=realized - account.realized_at_open,
                    carried_in=carried_in,
                )
            account.realized_at_open = realized
            account.quarantined.clear()

    async def watch(self, at: datetime) -> None:
        """Layer 2 at ``at``, with the marks already moved: every account's
        :func:`account_check` (halts, flattens on breach), then the route's
        :func:`route_check` (session-loss lock)."""
        for account in self.accounts.values():
            realized, pnl = self.session_figures(account)
            check = account_check(
                account.state,
                account.spec.limits,
                starting_balance=account.spec.account.start,
                session_pnl=pnl,
                realized=realized,
            )
            account.session = check.state
            if check.halt is None:
                continue
            day = check.state.trading_date.isoformat()
            account.halts.append(
                {"time": at.isoformat(), "trading_date": day, "reason": check.halt.text}
            )
            self.records.append(
                RiskEvent(
                    "halt",
                    at,
                    check.halt.text,
                    account.name,
                    {"trading_date": day, "code": check.halt.code.value},
                )
            )
            if check.flatten:
                await self.flatten(account, check.halt.text, at)
        total = sum((self.session_figures(a)[1] for a in self.accounts.values()), Decimal(0))
        reason = route_check(total, self.route.group.limits)
        if reason is not None:
            self.lock(reason, reason.text, at)

    async def flatten(self, account: ReplayAccount, reason: str, at: datetime) -> None:
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

    def lock(self, reason: Reason, text: str, at: datetime) -> None:
        """Lock the route for the rest of the replay (the first lock stands);
        ``text`` is the level's reason as live shows it."""
        if self.route.lock is not None:
            return
        self.route.locked(text, at)
        self.records.append(
            RiskEvent(
                "lock",
                at,
                text,
                details={
                    "route": self.spec.name,
                    "level": RouteLevel.LOCKED.label,
                    "code": reason.code.value,
                },
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
            pnl, session = self.view(account)
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
                    balance=account.state.opening_balance,
                    quarantined=frozenset(account.quarantined),
                    session=session,
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
        status, price, result = decision.status.value, None, None
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
        if result is not None:  # an incident's lock follows the order that caused it
            self._incidents(fill, spec, decision, result)

    def _incidents(
        self, fill: LeaderFill, spec: ContractSpec, decision: CopyDecision, result: OrderResult
    ) -> None:
        """Lock the route on what live copying records as an incident
        (:func:`routing.services.orders.copy_order_record_result`): the order
        rejected, or filled further than ``max_slippage_ticks`` from the
        leader's price on the leader's underlying (a fill on another
        underlying has no comparable price)."""
        found: list[Reason] = []
        if result.status is OrderStatus.REJECTED:
            found.append(
                rejected_order_finding(
                    account=decision.follower,
                    side=decision.side.value,
                    qty=decision.qty,
                    symbol=decision.symbol,
                    broker_reason=result.reason,
                    client_order_id=decision.client_order_id,
                )
            )
        follower_spec = self.specs[root_of(decision.symbol)]
        if result.avg_price is not None and same_underlying(spec, follower_spec):
            slipped = slippage_finding(
                account=decision.follower,
                side=decision.side.value,
                qty=result.filled_qty,
                symbol=decision.symbol,
                avg_price=result.avg_price,
                leader_price=fill.price,
                tick_size=follower_spec.tick_size,
                max_ticks=self.route.group.limits.max_slippage_ticks,
                client_order_id=decision.client_order_id,
            )
            if slipped is not None:
                found.append(slipped.reason)
        for reason in found:
            self.lock(reason, incident_lock_text(reason), fill.time)


async def _simulate(
    route: RouteSpec,
    fills: list[LeaderFill],
    specs: Mapping[str, ContractSpec],
    broker: PaperBroker,
) -> SimulationResult:
    check_roots(route, specs)
    await broker.connect()
    replay = _Replay(route, specs, broker)
    for fill in fills:
        await replay.on_fill(fill)
    await broker.disconnect()
    return SimulationResult(
        replay.records,
        replay_summary(
            route,
            replay.accounts,
            broker=broker,
            specs=specs,
            symbols=replay.symbols,
            leader_book=replay.leader_book,
            route_state=replay.route,
            fills=len(fills),
        ),
    )
