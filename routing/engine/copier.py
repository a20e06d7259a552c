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
from routing.engine.orders import client_order_id
from routing.engine.risk import check_entry
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
    return [
        _decide_one(move, group, follower, conversion, micro, route_key) for follower in followers
    ]


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
) -> CopyDecision:
    coid = client_order_id(route_key, move.event_key, follower.key)
    notes = [_describe_move(move)]

    def decision(
        symbol: str, held: int, target: int, qty: int, status: DecisionStatus
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

    refusal, status = _entry_refusal(group, follower, symbol, entry_qty)
    if refusal is not None:
        notes.append(f"entry of {entry_qty} not sent: {refusal}")
        entry_qty = 0
    qty = exit_qty + entry_qty
    verb = "buy" if delta > 0 else "sell"
    if qty:
        notes.append(f"holds {held:+d}, target {target:+d}: {verb} {qty}")
        return decision(symbol, held, target, qty, DecisionStatus.SEND)
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


def _entry_refusal(
    group: GroupConfig, follower: FollowerState, symbol: str, entry_qty: int
) -> tuple[str | None, DecisionStatus]:
    if entry_qty == 0:
        return None, DecisionStatus.SKIPPED
    if not group.enabled:
        return "route paused: entries are not copied, exits are", DecisionStatus.SKIPPED
    if not follower.enabled:
        return "follower paused: entries are not copied, exits are", DecisionStatus.SKIPPED
    if group.quarantine and symbol in follower.quarantined:
        return f"{symbol} quarantined after a rejected entry", DecisionStatus.BLOCKED
    denial = check_entry(follower, entry_qty)
    if denial is not None:
        return f"blocked: {denial}", DecisionStatus.BLOCKED
    return None, DecisionStatus.SKIPPED
