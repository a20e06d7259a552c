"""Turn one leader position change into one decision per follower.

Each follower's *target* position is computed from the leader's cumulative
position after the event (:mod:`routing.engine.sizing`), in the follower's
own contract (:mod:`routing.engine.conversion`); the order is the difference
between that target and what the follower is tracked to hold. The order
splits into an exit part (towards flat) and an entry part (opening or
adding); only the entry part is subject to pauses, quarantines and risk
checks, so an exit is never blocked.

Invariants (tested by property in ``routing/tests/engine``):

* no rounding drift: with the follower at its previous target, its new
  position is the rounded target of the leader's cumulative position;
* an exit never takes a follower past flat and never adds: a follower is never
  short while the leader is long or flat, nor long while it is short or flat;
* when the leader goes flat, every follower's tracked position goes flat;
* the same inputs give the same decisions (client order ids included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from routing.engine.conversion import Conversion, ConversionError, follower_contract, micro_root
from routing.engine.limits import RouteLevel
from routing.engine.orders import client_order_id
from routing.engine.risk import EntryRequest, check_entry
from routing.engine.sizing import (
    SizingError,
    plain,
    round_target,
    rounding_rule_text,
    size_factor,
)
from routing.engine.symbols import parse_contract
from routing.engine.types import (
    ContractSpec,
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    LeaderFill,
    PartialExit,
    Side,
)


@dataclass(frozen=True, slots=True)
class LeaderMove:
    """The leader's signed position in ``symbol`` before and after one event.

    ``event_key`` identifies the event for client order ids (leader account
    and broker event id); ``price`` is the fill price in points (used for
    cross-product notional conversions).
    """

    event_key: str
    symbol: str
    before: int
    after: int
    price: Decimal

    @classmethod
    def of_fill(cls, fill: LeaderFill, before: int) -> LeaderMove:
        """The move a leader fill makes from signed position ``before``."""
        return cls(
            event_key=f"{fill.account}:{fill.event_id}",
            symbol=fill.symbol,
            before=before,
            after=before + fill.side.sign * fill.qty,
            price=fill.price,
        )

    @property
    def side(self) -> Side:
        """The side the leader traded (a zero move reads as a buy)."""
        return Side.BUY if self.after >= self.before else Side.SELL


def decide_copies(
    move: LeaderMove,
    group: GroupConfig,
    followers: Sequence[FollowerState],
    specs: Mapping[str, ContractSpec],
    *,
    route_key: str,
    marks: Mapping[str, Decimal] | None = None,
) -> list[CopyDecision]:
    """One :class:`CopyDecision` per follower, in the order given.

    ``specs`` maps product roots to contract specs; ``marks`` maps contract
    codes to last prices (points), needed only for notional conversions
    across underlyings. ``route_key`` identifies the copy group for client
    order ids. Pure: the same inputs give the same decisions. A missing spec,
    balance or price blocks that follower with the reason, never raises.
    """
    # The follower contract depends on the event and the group only: worked out
    # once per event, not once per follower.
    try:
        conversion: Conversion | ConversionError = follower_contract(
            move.symbol, group, specs, leader_price=move.price, marks=marks or {}
        )
        micro = _micro_conversion(conversion, group, specs)
    except ConversionError as exc:
        conversion, micro = exc, None
    route = _RouteRun.of(group, followers)
    decisions = []
    for follower in followers:
        decision = _decide_one(move, group, follower, conversion, micro, route_key, specs, route)
        route.total += abs(decision.target) - abs(decision.position_before)
        decisions.append(decision)
    return decisions


@dataclass(slots=True)
class _RouteRun:
    """Route-wide figures while one event's decisions are made: followers'
    summed session PnL, contracts held across followers (updated as each
    follower's order is decided) and the followers that may receive entries
    (the first ``max_accounts`` enabled ones)."""

    pnl: Decimal
    total: int
    eligible: frozenset[str]

    @classmethod
    def of(cls, group: GroupConfig, followers: Sequence[FollowerState]) -> _RouteRun:
        enabled = [f.key for f in followers if f.enabled]
        cap = group.limits.max_accounts
        return cls(
            pnl=sum((f.session_pnl for f in followers), Decimal(0)),
            total=sum(abs(q) for f in followers for q in f.positions.values()),
            eligible=frozenset(enabled if cap is None else enabled[:cap]),
        )


def _sign(qty: int) -> int:
    return (qty > 0) - (qty < 0)


def follower_intent(held: int, target: int) -> Intent:
    """The intent of an order taking signed position ``held`` to ``target`` (they differ)."""
    if held * target < 0:
        return Intent.REVERSAL
    return Intent.ENTRY if abs(target) > abs(held) else Intent.EXIT


def _describe_move(move: LeaderMove) -> str:
    return f"leader {move.before:+d} \u2192 {move.after:+d} {move.symbol}"


def _decide_one(
    move: LeaderMove,
    group: GroupConfig,
    follower: FollowerState,
    conversion: Conversion | ConversionError,
    micro: Conversion | None,
    route_key: str,
    specs: Mapping[str, ContractSpec],
    route: _RouteRun,
) -> CopyDecision:
    coid = client_order_id(route_key, move.event_key, follower.key)
    notes = [_describe_move(move)]

    def decision(
        symbol: str,
        held: int,
        target: int,
        qty: int,
        status: DecisionStatus,
        scaled_from: int | None = None,
    ) -> CopyDecision:
        delta = target - held
        side = Side.of_signed(delta) if delta else move.side
        return CopyDecision(
            follower=follower.key,
            symbol=symbol,
            side=side,
            qty=qty,
            status=status,
            intent=follower_intent(held, target) if delta else _leader_intent(move),
            reason="; ".join(notes),
            client_order_id=coid,
            position_before=held,
            target=held + _sign(delta) * qty,
            scaled_from=scaled_from,
        )

    if isinstance(conversion, ConversionError):
        notes.append(f"blocked: {conversion}")
        return decision(move.symbol, 0, 0, 0, DecisionStatus.BLOCKED)
    try:
        factor, formula = size_factor(group, follower)
    except SizingError as exc:
        notes.append(f"blocked: {exc}")
        return decision(move.symbol, 0, 0, 0, DecisionStatus.BLOCKED)

    if micro is not None and follower.position(micro.symbol) != 0:
        # Once on the micro, stay there until flat, so exits close what was opened.
        conversion = micro
        notes.append(f"holds the micro {micro.symbol}")
    elif (
        micro is not None
        and group.limits.level is RouteLevel.TEST
        and follower.position(conversion.symbol) == 0
    ):
        # Level 1 forces one contract: the micro's, or it would risk more than Active.
        conversion = micro
        notes.append(f"route level 1 Test: sized on the micro {micro.symbol}")

    held = follower.position(conversion.symbol)
    target, raw = _target(move, group, follower, conversion, factor, formula, held, notes)
    if (
        micro is not None
        and conversion is not micro
        and raw is not None
        and raw > 0
        and target == held == 0
    ):
        micro_raw = raw * micro.rate / conversion.rate
        micro_target = round_target(micro_raw, group.rounding, growing=True)
        notes.append(
            f"auto micro: {plain(raw)} {conversion.root} = {plain(micro_raw)} {micro.root} "
            f"\u2192 {micro_target}"
        )
        if micro_target > 0:
            conversion, held = micro, follower.position(micro.symbol)
            target = _sign(move.after) * micro_target
    symbol = conversion.symbol

    delta = target - held
    if delta == 0:
        notes.append(f"holds {held:+d}, target {target:+d}: nothing to send")
        return decision(symbol, held, target, 0, DecisionStatus.SKIPPED)
    exit_qty = min(abs(delta), abs(held)) if held and _sign(delta) != _sign(held) else 0
    entry_qty = abs(delta) - exit_qty

    requested = entry_qty
    status = DecisionStatus.SKIPPED
    if entry_qty:
        request = EntryRequest(
            symbol=symbol,
            sign=_sign(delta),
            held=held,
            exit_qty=exit_qty,
            entry_qty=entry_qty,
            route_total=route.total,
            route_pnl=route.pnl,
            eligible=follower.key in route.eligible,
        )
        entry_qty, status, risk_notes = _entry_allowed(group, follower, request, specs)
        if entry_qty == 0:
            notes.append(f"entry of {requested} not sent: {'; '.join(risk_notes)}")
        else:
            notes.extend(risk_notes)
    qty = exit_qty + entry_qty
    verb = "buy" if delta > 0 else "sell"
    scaled_from = requested if 0 < entry_qty < requested else None
    if qty:
        after = held + _sign(delta) * qty
        reached = f" (capped at {after:+d})" if after != target else ""
        notes.append(f"holds {held:+d}, target {target:+d}{reached}: {verb} {qty}")
        return decision(symbol, held, target, qty, DecisionStatus.SEND, scaled_from)
    return decision(symbol, held, target, 0, status)


def _leader_intent(move: LeaderMove) -> Intent:
    if move.before * move.after < 0:
        return Intent.REVERSAL
    return Intent.ENTRY if abs(move.after) > abs(move.before) else Intent.EXIT


def _micro_conversion(
    conversion: Conversion, group: GroupConfig, specs: Mapping[str, ContractSpec]
) -> Conversion | None:
    if not group.auto_micro:
        return None
    micro = micro_root(conversion.root, specs)
    if micro is None:
        return None
    rate = conversion.rate * specs[conversion.root].point_value / specs[micro].point_value
    symbol = parse_contract(conversion.symbol).with_root(micro).code
    return Conversion(symbol, micro, rate, f"x {plain(rate)} on the micro {micro}")


def _target(
    move: LeaderMove,
    group: GroupConfig,
    follower: FollowerState,
    conversion: Conversion,
    factor: Decimal,
    formula: str,
    held: int,
    notes: list[str],
) -> tuple[int, Decimal | None]:
    """``(signed target, raw size or None)`` for the follower in ``conversion.symbol``."""
    if move.after == 0:
        notes.append(f"leader flat: close all {held:+d}" if held else "leader flat")
        return 0, None
    direction = _sign(move.after)
    reversal = move.before * move.after < 0
    growing = reversal or abs(move.after) > abs(move.before)
    on_side = held * direction  # > 0: follower holds the leader's direction
    rate_text = f" {conversion.text}" if conversion.text else ""

    if group.copy_mode is CopyMode.MULTIPLIER:
        raw = abs(move.after) * factor * conversion.rate
        text = f"{abs(move.after)} x {formula}{rate_text}"
    elif growing:
        raw = factor * conversion.rate
        text = f"fixed {formula}{rate_text}"
    else:
        raw = Decimal(max(on_side, 0)) * abs(move.after) / abs(move.before)
        text = f"{max(on_side, 0)} x {abs(move.after)}/{abs(move.before)}"
    rounded = round_target(raw, group.rounding, growing=growing)
    notes.append(
        f"target {text} = {plain(raw)} \u2192 {rounded} "
        f"({rounding_rule_text(group.rounding, growing=growing)})"
    )
    if group.limits.level is RouteLevel.TEST and rounded != 1:
        # Level 1 tests the route end to end at the smallest size, unscaled.
        notes.append(f"route level 1 Test: size forced to 1 contract (not {rounded})")
        rounded = 1

    if growing:
        if not reversal and on_side > rounded:
            notes.append(f"holds {on_side} already: entries never reduce")
            return held, raw
        return direction * rounded, raw
    if on_side < 0:
        notes.append("holds the opposite side: an exit never adds to it (see reconciliation)")
        return held, raw
    if group.partial_exit is PartialExit.EXIT_WITH_LEADER:
        notes.append("exit with leader: partial exits ignored")
        return held, raw
    return direction * min(rounded, on_side), raw


def _entry_allowed(
    group: GroupConfig,
    follower: FollowerState,
    request: EntryRequest,
    specs: Mapping[str, ContractSpec],
) -> tuple[int, DecisionStatus, tuple[str, ...]]:
    """``(entry contracts allowed, status when none is, reasons)``.

    A paused route or follower skips the entry (the user's choice, not a
    risk event); a quarantine or a risk rule blocks it; a cap may scale it.
    """
    if not group.enabled:
        return 0, DecisionStatus.SKIPPED, ("route paused: entries are not copied, exits are",)
    if not follower.enabled:
        return 0, DecisionStatus.SKIPPED, ("follower paused: entries are not copied, exits are",)
    if group.limits.level is RouteLevel.OFF:
        return 0, DecisionStatus.SKIPPED, ("route level 0 Off: entries are not copied, exits are",)
    if group.quarantine and request.symbol in follower.quarantined:
        return (
            0,
            DecisionStatus.BLOCKED,
            (f"{request.symbol} quarantined after a rejected entry",),
        )
    verdict = check_entry(follower, group.limits, request, specs)
    if verdict.qty == 0:
        *scaled, last = verdict.notes
        return 0, DecisionStatus.BLOCKED, (*scaled, f"blocked: {last}")
    return verdict.qty, DecisionStatus.SEND, verdict.notes
