"""Follower sizing: from the leader's cumulative position to a follower target.

A follower's target position is derived from the leader's *cumulative*
position, never by rounding each fill, so rounding cannot drift: ten leader
fills of 1 lot at ratio 0.3 end at ``floor(10 x 0.3) = 3`` follower lots,
not ten times ``floor(0.3) = 0`` (issue "Copy semantics", Sizing).

Rules (DESIGN.md, "Copy mode", "Sizing mode", "Rounding mode"):

* factor = copy value x ratio, and x follower balance / leader balance when
  the follower is sized on percent of balance;
* multiplier: target = |leader position| x factor x conversion rate;
* fixed: target = factor x conversion rate while the leader holds a position
  (the leader's size is ignored); a leader scale-out reduces the follower by
  the same share;
* rounding of the target's size: *entry down, exit up* (default) rounds the
  target down whichever way it moves, so entries round down and exits round
  up; *nearest* rounds half up; *always down* rounds entries down and exits
  down (the exit is the smaller one, so the target rounds up on an exit).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache

from routing.engine.types import (
    FollowerState,
    GroupConfig,
    RoundingMode,
    SizingBasis,
)


class SizingError(ValueError):
    """A size cannot be computed (e.g. a missing balance); the message says why."""


def round_target(raw: Decimal, mode: RoundingMode, *, growing: bool) -> int:
    """Whole contracts for a non-negative fractional target size ``raw``.

    ``growing`` is True when the target grows from the follower's current
    size (an entry), False when it shrinks (an exit). Raises ``ValueError``
    for a negative ``raw``.
    """
    if raw < 0:
        raise ValueError(f"cannot round a negative quantity {raw}")
    if mode is RoundingMode.NEAREST:
        rounding = ROUND_HALF_UP
    elif mode is RoundingMode.ALWAYS_DOWN and not growing:
        rounding = ROUND_CEILING  # the exit rounds down, so what stays rounds up
    else:
        rounding = ROUND_FLOOR
    return int(raw.to_integral_value(rounding=rounding))


def rounding_rule_text(mode: RoundingMode, *, growing: bool) -> str:
    """Human words for the rule applied, for decision reasons."""
    if mode is RoundingMode.NEAREST:
        return "rounds to nearest"
    if mode is RoundingMode.ALWAYS_DOWN:
        return "entry rounds down" if growing else "exit rounds down"
    return "entry rounds down" if growing else "exit rounds up"


def size_factor(group: GroupConfig, follower: FollowerState) -> tuple[Decimal, str]:
    """``(factor, formula)``: copy value x ratio [x balance share].

    Raises :class:`SizingError` when percent-of-balance sizing lacks a
    follower or leader balance, or the leader balance is not > 0.
    """
    if follower.sizing_basis is SizingBasis.PERCENT_OF_BALANCE:
        return _size_factor(
            group.copy_value, follower.ratio, True, follower.balance, group.leader_balance
        )
    return _size_factor(group.copy_value, follower.ratio, False, None, None)


# A route's followers share a few ratios (and balances), event after event:
# their factors and words are worked out once, not once per event (equal
# Decimals give equal results, and the words print normalised values).
# An error is raised again at every call (lru_cache keeps no exceptions).
@lru_cache(maxsize=4096)
def _size_factor(
    copy_value: Decimal,
    ratio: Decimal,
    percent: bool,
    balance: Decimal | None,
    leader_balance: Decimal | None,
) -> tuple[Decimal, str]:
    factor = copy_value * ratio
    formula = f"{plain(copy_value)} x {plain(ratio)}"
    if percent:
        if balance is None or leader_balance is None:
            raise SizingError("percent of balance sizing needs the follower and leader balances")
        if leader_balance <= 0:
            raise SizingError(f"leader balance {plain(leader_balance)} must be > 0")
        factor = factor * balance / leader_balance
        formula += f" x {plain(balance)}/{plain(leader_balance)}"
    return factor, formula


def plain(value: Decimal) -> str:
    """``Decimal`` without trailing zeros or exponent, for reasons: 1.50 -> "1.5"."""
    return format(value.normalize(), "f")
