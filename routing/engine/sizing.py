"""Follower sizing: from a leader quantity to whole follower contracts.

Rules (DESIGN.md, "Copy mode" and "Rounding mode"):

* multiplier: ``leader qty x copy value x ratio``;
* fixed: ``copy value x ratio``, leader size ignored;
* rounding: entry down / exit up (default), nearest (half up), always down.

Rounding entries down and exits up means a follower never carries more risk
than its ratio allows and never keeps a stray contract after the leader
reduces.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from routing.engine.types import CopyMode, GroupConfig, Intent, RoundingMode

_RULE_TEXT = {
    (RoundingMode.ENTRY_DOWN_EXIT_UP, Intent.ENTRY): "entry rounds down",
    (RoundingMode.ENTRY_DOWN_EXIT_UP, Intent.EXIT): "exit rounds up",
    (RoundingMode.NEAREST, Intent.ENTRY): "rounds to nearest",
    (RoundingMode.NEAREST, Intent.EXIT): "rounds to nearest",
    (RoundingMode.ALWAYS_DOWN, Intent.ENTRY): "rounds down",
    (RoundingMode.ALWAYS_DOWN, Intent.EXIT): "rounds down",
}


def round_contracts(raw: Decimal, mode: RoundingMode, intent: Intent) -> int:
    """Whole contracts from a non-negative fractional quantity ``raw``."""
    if raw < 0:
        raise ValueError(f"cannot round a negative quantity {raw}")
    if mode is RoundingMode.NEAREST:
        rounding = ROUND_HALF_UP
    elif mode is RoundingMode.ENTRY_DOWN_EXIT_UP and intent is Intent.EXIT:
        rounding = ROUND_CEILING
    else:
        rounding = ROUND_FLOOR
    return int(raw.to_integral_value(rounding=rounding))


def rounding_rule_text(mode: RoundingMode, intent: Intent) -> str:
    """Human words for the rule applied, for decision reasons."""
    return _RULE_TEXT[(mode, intent)]


def entry_size(leader_qty: int, group: GroupConfig, ratio: Decimal) -> tuple[Decimal, str]:
    """Fractional follower entry size and the formula that produced it.

    Returns ``(raw, formula)`` such as ``(Decimal("1.5"), "3 x 1 x 0.5")``.
    """
    if group.copy_mode is CopyMode.FIXED:
        return group.copy_value * ratio, f"fixed {plain(group.copy_value)} x {plain(ratio)}"
    raw = leader_qty * group.copy_value * ratio
    return raw, f"{leader_qty} x {plain(group.copy_value)} x {plain(ratio)}"


def exit_size(
    leader_exit_qty: int,
    leader_position: int,
    follower_position: int,
    group: GroupConfig,
    ratio: Decimal,
) -> tuple[Decimal, str]:
    """Fractional follower exit size for a leader reducing ``leader_exit_qty``.

    Multiplier mode sizes the exit like an entry; fixed mode, where the
    leader's size carries no meaning for the follower, exits the same share
    of the follower's position as the leader exits of its own.
    ``leader_position`` and ``follower_position`` are absolute contracts.
    """
    if group.copy_mode is CopyMode.FIXED:
        raw = Decimal(follower_position) * leader_exit_qty / leader_position
        return raw, f"{follower_position} x {leader_exit_qty}/{leader_position}"
    return entry_size(leader_exit_qty, group, ratio)


def plain(value: Decimal) -> str:
    """``Decimal`` without trailing zeros or exponent, for reasons: 1.50 -> "1.5"."""
    return format(value.normalize(), "f")
