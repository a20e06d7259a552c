"""What one leader event fixes for every follower of a route, worked out once.

:func:`routing.engine.copier.decide_copies` decides for each follower in
turn; most of that work depends only on the leader's move, the group and the
contract specs (the follower contract and its rate, the rounding rule, the
words of the reasons), or on the few follower settings the size derives from
(ratio, sizing basis, balance), which followers of one route mostly share.
:class:`EventPlan` computes the former once per event and memoises the latter
by those settings, so a route of 200 followers sizes a handful of distinct
factors, not 200 (issue 9, item 3: "the engine itself ≤ 5 µs per follower").

Memoising by a ``Decimal`` key is exact: equal values give equal results, and
every size reaches a decision through :func:`~routing.engine.sizing.plain`
(which normalises) or a whole number of contracts.

Pure: no clock, no I/O; a plan, and a :class:`RouteRun`, lives for one
``decide_copies`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from routing.engine.conversion import Conversion, ConversionError, follower_contract, micro_root
from routing.engine.limits import RouteLevel
from routing.engine.sizing import SizingError, plain, round_target, rounding_rule_text, size_factor
from routing.engine.symbols import parse_contract
from routing.engine.types import (
    ContractSpec,
    CopyMode,
    FollowerState,
    GroupConfig,
    Intent,
    PartialExit,
    SizingBasis,
)

if TYPE_CHECKING:
    from routing.engine.copier import LeaderMove

SizeKey = Decimal | tuple[Decimal, Decimal | None]


class Sizing:
    """A follower's size factor (copy value x ratio [x balance share]) and
    its words, or ``error``: why it cannot be sized (then ``factor`` is 0).
    ``key`` is the follower settings it derives from."""

    __slots__ = ("error", "factor", "formula", "key")

    def __init__(self, key: SizeKey, factor: Decimal, formula: str, error: str | None) -> None:
        self.key, self.factor, self.formula, self.error = key, factor, formula, error


class EventPlan:
    """One leader move on one route: everything that does not depend on the
    follower, plus memos keyed by the follower settings sizes derive from.

    ``conversion`` is the follower contract, ``None`` when there is none
    (``blocked`` is then the whole reason), ``micro`` its micro when the group
    falls back to micros. Raises nothing.
    """

    def __init__(
        self,
        move: LeaderMove,
        group: GroupConfig,
        specs: Mapping[str, ContractSpec],
        *,
        marks: Mapping[str, Decimal],
    ) -> None:
        self.group = group
        self.symbol = move.symbol
        before, after = move.before, move.after
        self.move_text = f"leader {before:+d} \u2192 {after:+d} {move.symbol}"
        self.leader_side = move.side
        if before * after < 0:
            self.leader_intent = Intent.REVERSAL
        else:
            self.leader_intent = Intent.ENTRY if abs(after) > abs(before) else Intent.EXIT
        self.flat = after == 0
        self.direction = (after > 0) - (after < 0)
        self.reversal = before * after < 0
        self.growing = self.reversal or abs(after) > abs(before)
        self.abs_after, self.abs_before = abs(after), abs(before)
        self.rule_text = rounding_rule_text(group.rounding, growing=self.growing)
        self.test_level = group.limits.level is RouteLevel.TEST
        self.level_off = group.limits.level is RouteLevel.OFF
        self.conversion: Conversion | None
        self.micro: Conversion | None
        self.blocked: str | None = None
        try:
            self.conversion = follower_contract(
                move.symbol, group, specs, leader_price=move.price, marks=marks
            )
            self.micro = _micro_conversion(self.conversion, group, specs)
        except ConversionError as exc:
            self.conversion, self.micro = None, None
            self.blocked = f"{self.move_text}; blocked: {exc}"
        self._sizings: dict[SizeKey, Sizing] = {}
        self._targets: dict[tuple[bool, object], tuple[Decimal, int, str]] = {}
        self._micro_targets: dict[Decimal, tuple[int, str]] = {}
        self._held_targets: dict[tuple[SizeKey, bool, int], tuple[int, Decimal | None, list[str]]]
        self._held_targets = {}
        # The copier's memo of its steps (routing.engine.copier._Step), by
        # (size key, contracts held in the contract, contracts held in its micro).
        self.steps: dict[tuple[SizeKey, int, int], Any] = {}

    def sizing(self, follower: FollowerState) -> Sizing:
        """:func:`~routing.engine.sizing.size_factor` of ``follower``, memoised
        by the settings it reads (ratio; balance on percent-of-balance sizing)."""
        key: SizeKey = follower.ratio
        if follower.sizing_basis is SizingBasis.PERCENT_OF_BALANCE:
            key = (follower.ratio, follower.balance)
        found = self._sizings.get(key)
        if found is None:
            try:
                factor, formula = size_factor(self.group, follower)
                found = Sizing(key, factor, formula, None)
            except SizingError as exc:
                found = Sizing(key, Decimal(0), "", f"{self.move_text}; blocked: {exc}")
            self._sizings[key] = found
        return found

    def target(
        self, sizing: Sizing, conversion: Conversion, held: int, notes: list[str]
    ) -> tuple[int, Decimal | None]:
        """``(signed target, raw size or None)`` for a follower holding
        ``held`` in ``conversion.symbol``; appends the reasons to ``notes``.
        Memoised by what it reads (the size's settings, the contract, the
        position held): followers of one route mostly share them."""
        memo_key = (sizing.key, conversion is self.micro, held)
        found = self._held_targets.get(memo_key)
        if found is None:
            words: list[str] = []
            target, raw = self._target(sizing, conversion, held, words)
            found = self._held_targets[memo_key] = (target, raw, words)
        notes.extend(found[2])
        return found[0], found[1]

    def _target(
        self, sizing: Sizing, conversion: Conversion, held: int, notes: list[str]
    ) -> tuple[int, Decimal | None]:
        if self.flat:
            notes.append(f"leader flat: close all {held:+d}" if held else "leader flat")
            return 0, None
        direction = self.direction
        on_side = held * direction  # > 0: follower holds the leader's direction
        raw, rounded, text = self._sized(sizing, conversion, max(on_side, 0))
        notes.append(text)
        if self.growing:
            if not self.reversal and on_side > rounded:
                notes.append(f"holds {on_side} already: entries never reduce")
                return held, raw
            return direction * rounded, raw
        if on_side < 0:
            notes.append("holds the opposite side: an exit never adds to it (see reconciliation)")
            return held, raw
        if self.group.partial_exit is PartialExit.EXIT_WITH_LEADER:
            notes.append("exit with leader: partial exits ignored")
            return held, raw
        return direction * min(rounded, on_side), raw

    def _sized(self, sizing: Sizing, conversion: Conversion, kept: int) -> tuple[Decimal, int, str]:
        """``(raw, whole contracts, reason)`` of the target size. A multiplier
        or a fixed entry depends on the factor and the contract only; a fixed
        exit keeps the leader's share of the ``kept`` contracts."""
        on_micro = conversion is self.micro
        proportional = self.group.copy_mode is not CopyMode.MULTIPLIER and not self.growing
        memo_key = (on_micro, kept if proportional else sizing.key)
        found = self._targets.get(memo_key)
        if found is not None:
            return found
        rate_text = f" {conversion.text}" if conversion.text else ""
        if self.group.copy_mode is CopyMode.MULTIPLIER:
            raw = self.abs_after * sizing.factor * conversion.rate
            text = f"{self.abs_after} x {sizing.formula}{rate_text}"
        elif self.growing:
            raw = sizing.factor * conversion.rate
            text = f"fixed {sizing.formula}{rate_text}"
        else:
            raw = Decimal(kept) * self.abs_after / self.abs_before
            text = f"{kept} x {self.abs_after}/{self.abs_before}"
        rounded = round_target(raw, self.group.rounding, growing=self.growing)
        note = f"target {text} = {plain(raw)} \u2192 {rounded} ({self.rule_text})"
        if self.test_level and rounded != 1:
            # Level 1 tests the route end to end at the smallest size, unscaled.
            note += f"; route level 1 Test: size forced to 1 contract (not {rounded})"
            rounded = 1
        found = self._targets[memo_key] = (raw, rounded, note)
        return found

    def on_micro(self, raw: Decimal, conversion: Conversion, micro: Conversion) -> tuple[int, str]:
        """``(contracts, reason)`` of an entry of ``raw`` contracts of
        ``conversion`` re-sized on ``micro`` (the auto-micro fallback)."""
        found = self._micro_targets.get(raw)
        if found is None:
            micro_raw = raw * micro.rate / conversion.rate
            micro_target = round_target(micro_raw, self.group.rounding, growing=True)
            found = self._micro_targets[raw] = (
                micro_target,
                f"auto micro: {plain(raw)} {conversion.root} = {plain(micro_raw)} {micro.root} "
                f"\u2192 {micro_target}",
            )
        return found


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


@dataclass(slots=True)
class RouteRun:
    """Route-wide figures while one event's decisions are made: followers'
    summed session PnL, contracts held across followers (updated as each
    follower's order is decided) and the followers that may receive entries
    (the first ``max_accounts`` enabled ones; ``None``: every enabled one).

    Each figure is worked out only when a route limit reads it (max session
    loss, max total contracts, max accounts), 0 or ``None`` otherwise: summed
    over every follower at every event, they cost more than the rest of a
    follower's decision for routes that set none (issue 9, item 3)."""

    pnl: Decimal
    total: int
    eligible: frozenset[str] | None

    @classmethod
    def of(cls, group: GroupConfig, followers: Sequence[FollowerState]) -> RouteRun:
        limits = group.limits
        cap = limits.max_accounts
        return cls(
            pnl=(
                sum((f.session_pnl for f in followers), Decimal(0))
                if limits.max_session_loss is not None
                else Decimal(0)
            ),
            total=(
                sum([abs(q) for f in followers for q in f.positions.values()])
                if limits.max_total_contracts is not None
                else 0
            ),
            eligible=None
            if cap is None
            else frozenset([f.key for f in followers if f.enabled][:cap]),
        )
