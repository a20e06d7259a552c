"""Turn one leader fill into one decision per follower.

The leader fill is split into the part that reduces the leader's position
(*exit*) and the part that opens or adds (*entry*); a fill that crosses zero
has both. Each follower then gets one order on the leader's side for its exit
part plus its entry part, or a reason why not.

Invariants (tested by property in ``routing/tests/engine``):

* an exit never takes a follower past flat: exit qty <= what it holds in the
  leader's direction, so a follower is never flipped by an exit;
* when the leader goes flat, every follower holding that direction goes flat;
* entries pass the risk checks in :mod:`routing.engine.risk`; exits always pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.engine.orders import client_order_id
from routing.engine.risk import check_entry
from routing.engine.sizing import (
    entry_size,
    exit_size,
    plain,
    round_contracts,
    rounding_rule_text,
)
from routing.engine.types import (
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    LeaderFill,
    Side,
)


def split_leader_fill(position_before: int, side: Side, qty: int) -> tuple[int, int]:
    """``(exit_qty, entry_qty)`` of a leader fill given its signed position before it."""
    if position_before * side.sign < 0:
        exit_qty = min(qty, abs(position_before))
        return exit_qty, qty - exit_qty
    return 0, qty


def decide_copies(
    fill: LeaderFill,
    leader_position_before: int,
    group: GroupConfig,
    followers: Sequence[FollowerState],
    *,
    route_key: str,
) -> list[CopyDecision]:
    """One :class:`CopyDecision` per follower, in the order given.

    ``leader_position_before`` is the leader's signed net contracts in
    ``fill.symbol`` before this fill; ``route_key`` identifies the copy group
    for the client order id. Pure: the same inputs give the same decisions.
    """
    exit_leader, entry_leader = split_leader_fill(leader_position_before, fill.side, fill.qty)
    if exit_leader and entry_leader:
        intent = Intent.REVERSAL
    elif exit_leader:
        intent = Intent.EXIT
    else:
        intent = Intent.ENTRY
    event_key = f"{fill.account}:{fill.event_id}"
    return [
        _decide_one(
            fill,
            leader_position_before,
            exit_leader,
            entry_leader,
            intent,
            group,
            follower,
            client_order_id(route_key, event_key, follower.key),
        )
        for follower in followers
    ]


def _decide_one(
    fill: LeaderFill,
    leader_before: int,
    exit_leader: int,
    entry_leader: int,
    intent: Intent,
    group: GroupConfig,
    follower: FollowerState,
    coid: str,
) -> CopyDecision:
    def decision(qty: int, status: DecisionStatus, reason: str) -> CopyDecision:
        return CopyDecision(
            follower=follower.key,
            symbol=fill.symbol,
            side=fill.side,
            qty=qty,
            status=status,
            intent=intent,
            reason=reason,
            client_order_id=coid,
        )

    if not follower.enabled:
        return decision(0, DecisionStatus.SKIPPED, "follower disabled")

    notes: list[str] = []
    exit_qty = 0
    if exit_leader:
        exit_qty = _exit_qty(leader_before, exit_leader, group, follower, notes)
    follower_after_exit = follower.position + fill.side.sign * exit_qty

    entry_qty = 0
    denial: str | None = None
    if entry_leader:
        entry_qty, denial = _entry_qty(
            fill.side, entry_leader, follower_after_exit, group, follower, notes
        )

    total = exit_qty + entry_qty
    reason = "; ".join(notes)
    if total > 0:
        return decision(total, DecisionStatus.SEND, reason)
    if denial is not None:
        return decision(0, DecisionStatus.BLOCKED, reason)
    return decision(0, DecisionStatus.SKIPPED, reason)


def _exit_qty(
    leader_before: int,
    exit_leader: int,
    group: GroupConfig,
    follower: FollowerState,
    notes: list[str],
) -> int:
    direction = 1 if leader_before > 0 else -1
    held = max(follower.position * direction, 0)
    word = "long" if direction > 0 else "short"
    if held == 0:
        notes.append(f"exit: follower holds no {word} position")
        return 0
    if exit_leader == abs(leader_before):
        notes.append(f"exit: leader flat, close all {held}")
        return held
    raw, formula = exit_size(exit_leader, abs(leader_before), held, group, follower.ratio)
    qty = round_contracts(raw, group.rounding, Intent.EXIT)
    rule = rounding_rule_text(group.rounding, Intent.EXIT)
    note = f"exit: {formula} = {plain(raw)} \u2192 {qty} ({rule})"
    if qty > held:
        note += f", capped at the {held} held"
        qty = held
    notes.append(note)
    return qty


def _entry_qty(
    side: Side,
    entry_leader: int,
    follower_position: int,
    group: GroupConfig,
    follower: FollowerState,
    notes: list[str],
) -> tuple[int, str | None]:
    raw, formula = entry_size(entry_leader, group, follower.ratio)
    qty = round_contracts(raw, group.rounding, Intent.ENTRY)
    rule = rounding_rule_text(group.rounding, Intent.ENTRY)
    note = f"entry: {formula} = {plain(raw)} \u2192 {qty} ({rule})"
    if group.copy_mode is CopyMode.FIXED:
        # Fixed mode holds a fixed size while the leader is in the trade, so a
        # leader order split into partial fills is not copied once per fill.
        held = max(follower_position * side.sign, 0)
        target = qty
        qty = max(target - held, 0)
        note += f", holds {held}, target {target}: {qty} to add"
    if qty == 0:
        notes.append(note)
        return 0, None
    denial = check_entry(follower, qty)
    if denial is not None:
        notes.append(f"{note}; blocked: {denial}")
        return 0, denial
    notes.append(note)
    return qty, None
