"""Property tests for ``decide_copies`` over random leader fill sequences.

Each example plays a random sequence of leader fills (random sides and sizes,
crossing zero and going flat) against followers with random ratios, copy
value, rounding, partial-exit behaviour, pauses, quarantines and risk limits.
Every SEND decision is applied to its follower, as the order router does once
the order fills, and the checks from the issue hold after every event:

* multiplier mode: the follower's position equals the rounded target of the
  leader's cumulative position (no rounding drift);
* a follower is never opposite the leader, and flat whenever the leader is;
* delivering an event again changes nothing (the engine converges).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import islice
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.copier import LeaderMove, decide_copies, decide_copies_each
from routing.engine.limits import RouteLimits
from routing.engine.types import (
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    PartialExit,
    RiskLimits,
    RoundingMode,
    Side,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)
SYMBOL = "MNQZ6"

ratios = st.one_of(
    st.decimals(min_value=Decimal("0.1"), max_value=Decimal("3"), places=1),
    st.decimals(min_value=Decimal("0.1"), max_value=Decimal("1000"), places=1),
)
copy_values = st.one_of(
    st.just(Decimal(1)), st.decimals(min_value=Decimal("0.1"), max_value=Decimal("5"), places=1)
)
# Signed leader fills; small sizes drawn more often, where rounding decides.
fills = st.lists(
    st.tuples(
        st.sampled_from(list(Side)),
        st.integers(min_value=1, max_value=3) | st.integers(min_value=1, max_value=25),
    ),
    min_size=1,
    max_size=40,
)


def _expected_target(leader: int, factor: Decimal, rounding: RoundingMode) -> int:
    raw = abs(leader) * factor
    mode = ROUND_HALF_UP if rounding is RoundingMode.NEAREST else ROUND_FLOOR
    size = int(raw.to_integral_value(rounding=mode))
    return size if leader > 0 else -size


def _play(group: GroupConfig, followers: list[FollowerState], sequence: list[tuple[Side, int]]):
    """Yield (leader position, follower positions) after each event, with
    each event delivered twice (the second must send nothing)."""
    leader = 0
    held = {f.key: 0 for f in followers}
    for n, (side, qty) in enumerate(sequence):
        move = LeaderMove(
            event_key=f"L:{n}",
            symbol=SYMBOL,
            before=leader,
            after=leader + side.sign * qty,
            price=Decimal(21000),
        )
        states = [_with_position(f, held[f.key]) for f in followers]
        for d in decide_copies(move, group, states, SPECS_BY_ROOT, route_key="r"):
            assert d.symbol == SYMBOL
            if d.status is DecisionStatus.SEND:
                assert d.qty > 0
                assert d.target == held[d.follower] + d.side.sign * d.qty
                held[d.follower] = d.target
            else:
                assert d.qty == 0
                assert d.target == held[d.follower]
        leader = move.after
        yield move, leader, dict(held)


def _with_position(f: FollowerState, qty: int) -> FollowerState:
    return FollowerState(
        key=f.key,
        ratio=f.ratio,
        positions={SYMBOL: qty},
        session_pnl=f.session_pnl,
        limits=f.limits,
        enabled=f.enabled,
        quarantined=f.quarantined,
    )


@PROPERTY_SETTINGS
@given(
    sequence=fills,
    follower_ratios=st.lists(ratios, min_size=1, max_size=5),
    copy_value=copy_values,
    rounding=st.sampled_from([RoundingMode.ENTRY_DOWN_EXIT_UP, RoundingMode.NEAREST]),
)
def test_multiplier_position_is_the_rounded_target_after_every_event(
    sequence: list[tuple[Side, int]],
    follower_ratios: list[Decimal],
    copy_value: Decimal,
    rounding: RoundingMode,
) -> None:
    group = GroupConfig(CopyMode.MULTIPLIER, copy_value, rounding)
    followers = [FollowerState(key=f"f{i}", ratio=r) for i, r in enumerate(follower_ratios)]
    for move, leader, held in _play(group, followers, sequence):
        for f in followers:
            assert held[f.key] == _expected_target(leader, copy_value * f.ratio, rounding)
        # Duplicate delivery: the same event again, against the new positions, sends nothing.
        states = [_with_position(f, held[f.key]) for f in followers]
        again = decide_copies(move, group, states, SPECS_BY_ROOT, route_key="r")
        assert all(d.status is not DecisionStatus.SEND for d in again)


@PROPERTY_SETTINGS
@given(
    sequence=fills,
    follower_ratios=st.lists(ratios, min_size=1, max_size=4),
    copy_mode=st.sampled_from(list(CopyMode)),
    copy_value=copy_values,
    rounding=st.sampled_from(list(RoundingMode)),
    partial_exit=st.sampled_from(list(PartialExit)),
    enabled=st.lists(st.booleans(), min_size=4, max_size=4),
    quarantined=st.lists(st.booleans(), min_size=4, max_size=4),
    max_contracts=st.lists(st.none() | st.integers(1, 10), min_size=4, max_size=4),
    route_enabled=st.booleans(),
)
def test_followers_are_never_opposite_the_leader_and_flat_when_it_is(
    sequence: list[tuple[Side, int]],
    follower_ratios: list[Decimal],
    copy_mode: CopyMode,
    copy_value: Decimal,
    rounding: RoundingMode,
    partial_exit: PartialExit,
    enabled: list[bool],
    quarantined: list[bool],
    max_contracts: list[int | None],
    route_enabled: bool,
) -> None:
    group = GroupConfig(
        copy_mode, copy_value, rounding, partial_exit=partial_exit, enabled=route_enabled
    )
    followers = [
        FollowerState(
            key=f"f{i}",
            ratio=r,
            enabled=enabled[i],
            quarantined=frozenset({SYMBOL}) if quarantined[i] else frozenset(),
            limits=RiskLimits(max_contracts=max_contracts[i]),
        )
        for i, r in enumerate(follower_ratios)
    ]
    for _move, leader, held in _play(group, followers, sequence):
        for qty in held.values():
            assert qty * leader >= 0, f"follower {qty:+d} opposite leader {leader:+d}"
            if leader == 0:
                assert qty == 0


def _counted_route(
    leader: tuple[int, int],
    held: list[int],
    ratios: list[Decimal],
    max_total: int | None,
    max_accounts: int | None,
) -> tuple[LeaderMove, GroupConfig, list[FollowerState]]:
    """A leader move from ``leader[0]`` to ``leader[1]``, a route whose
    limits count every follower, and followers holding ``held``."""
    group = GroupConfig(
        CopyMode.MULTIPLIER,
        Decimal(1),
        RoundingMode.ENTRY_DOWN_EXIT_UP,
        limits=RouteLimits(max_total_contracts=max_total, max_accounts=max_accounts),
    )
    followers = [
        FollowerState(key=f"f{i}", ratio=ratios[i], positions={SYMBOL: qty})
        for i, qty in enumerate(held)
    ]
    return LeaderMove("L:1", SYMBOL, leader[0], leader[1], Decimal(21000)), group, followers


# A leader move and a route whose limits count every follower (_counted_route).
_COUNTED = {
    "leader": st.tuples(st.integers(-6, 6), st.integers(-6, 6)),
    "follower_ratios": st.lists(ratios, min_size=12, max_size=12),
    "max_total": st.none() | st.integers(1, 30),
    "max_accounts": st.none() | st.integers(1, 12),
}


@PROPERTY_SETTINGS
@given(
    held=st.lists(st.integers(-8, 8), min_size=0, max_size=12), batch=st.integers(1, 5), **_COUNTED
)
def test_decisions_made_one_at_a_time_are_decide_copies_decisions(
    leader: tuple[int, int],
    held: list[int],
    follower_ratios: list[Decimal],
    max_total: int | None,
    max_accounts: int | None,
    batch: int,
) -> None:
    # The route's running figures (contracts across followers, the first
    # max_accounts followers) move as each decision is made: read a few at
    # a time, decide_copies_each gives decide_copies' decisions, in order.
    move, group, followers = _counted_route(leader, held, follower_ratios, max_total, max_accounts)
    whole = decide_copies(move, group, followers, SPECS_BY_ROOT, route_key="r")
    each = decide_copies_each(move, group, followers, SPECS_BY_ROOT, route_key="r")
    read: list[CopyDecision] = []
    while chunk := list(islice(each, batch)):
        read.extend(chunk)
    assert read == whole


def test_decisions_one_at_a_time_refuse_an_empty_route_key_before_any_is_read() -> None:
    followers = [FollowerState(key="f0", ratio=Decimal(1))]
    move = LeaderMove("L:1", SYMBOL, 0, 1, Decimal(21000))
    group = GroupConfig(CopyMode.MULTIPLIER, Decimal(1), RoundingMode.ENTRY_DOWN_EXIT_UP)
    with pytest.raises(ValueError, match="route"):
        decide_copies_each(move, group, followers, SPECS_BY_ROOT, route_key="")


class _Made(Sequence[FollowerState]):
    """States made only when read, each read counted (as the copy path's
    lazy states)."""

    def __init__(self, states: list[FollowerState]) -> None:
        self._states, self.read = states, 0

    def __len__(self) -> int:
        return len(self._states)

    def __getitem__(self, index: Any) -> Any:
        return self._states[index]

    def __iter__(self) -> Iterator[FollowerState]:
        for state in self._states:
            self.read += 1
            yield state


@PROPERTY_SETTINGS
@given(held=st.lists(st.integers(-8, 8), min_size=1, max_size=12), **_COUNTED)
def test_decisions_from_keys_and_states_read_as_decided_are_decide_copies_decisions(
    leader: tuple[int, int],
    held: list[int],
    follower_ratios: list[Decimal],
    max_total: int | None,
    max_accounts: int | None,
) -> None:
    # With the keys given, the client order ids come from them and no state
    # is read before the first decision unless a route limit counts them all.
    move, group, states = _counted_route(leader, held, follower_ratios, max_total, max_accounts)
    whole = decide_copies(move, group, states, SPECS_BY_ROOT, route_key="r")
    made = _Made(states)
    keys = [state.key for state in states]
    each = decide_copies_each(move, group, made, SPECS_BY_ROOT, route_key="r", keys=keys)
    # Each route limit that counts every follower reads them all once.
    upfront = len(states) * ((max_total is not None) + (max_accounts is not None))
    assert made.read == upfront
    first = next(each)
    assert made.read == upfront + 1
    assert [first, *each] == whole


def test_a_state_read_under_another_followers_key_is_refused() -> None:
    states = [FollowerState(key="f0", ratio=Decimal(1)), FollowerState(key="f1", ratio=Decimal(1))]
    move = LeaderMove("L:1", SYMBOL, 0, 1, Decimal(21000))
    group = GroupConfig(CopyMode.MULTIPLIER, Decimal(1), RoundingMode.ENTRY_DOWN_EXIT_UP)
    each = decide_copies_each(move, group, states, SPECS_BY_ROOT, route_key="r", keys=["f0", "f2"])
    assert next(each).follower == "f0"
    with pytest.raises(ValueError, match="'f1' read where 'f2' was named"):
        next(each)
