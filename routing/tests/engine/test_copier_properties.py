"""Property tests for ``decide_copies`` over random sequences of leader fills.

Each example plays a random sequence of leader fills against a leader position
and N followers (random ratio, risk limits, enabled flag) under a random copy
mode and rounding; every SEND decision is applied to its follower's position,
as the order router would once the order fills.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine.copier import decide_copies
from routing.engine.sizing import round_contracts
from routing.engine.types import (
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    LeaderFill,
    RiskLimits,
    RoundingMode,
    Side,
)

T0 = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
ROUTE = "route-p"
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

# The full 0.1-1000 range, with half the draws below 3 where rounding decides the size.
ratios = st.one_of(
    st.decimals(min_value=Decimal("0.1"), max_value=Decimal("3"), places=1),
    st.decimals(min_value=Decimal("0.1"), max_value=Decimal("1000"), places=1),
)
copy_values = st.one_of(
    st.just(Decimal("1")), st.decimals(min_value=Decimal("0.1"), max_value=Decimal("10"), places=1)
)
# Fill sizes 1-20, small ones drawn more often: rounding matters most there.
fill_qtys = st.integers(min_value=1, max_value=3) | st.integers(min_value=1, max_value=20)


@st.composite
def leader_fills(draw: st.DrawFn) -> list[tuple[Side, int]]:
    """Random buys and sells, then half the time a scale-out to flat in pieces."""
    fills = draw(st.lists(st.tuples(st.sampled_from(Side), fill_qtys), min_size=1, max_size=30))
    position = sum(side.sign * qty for side, qty in fills)
    if position and draw(st.booleans()):
        while position:
            qty = min(abs(position), draw(fill_qtys))
            side = Side.of_signed(-position)
            fills.append((side, qty))
            position += side.sign * qty
    return fills


groups = st.builds(
    GroupConfig,
    copy_mode=st.sampled_from(CopyMode),
    copy_value=copy_values,
    rounding=st.sampled_from(RoundingMode),
)
daily_losses = st.decimals(min_value=Decimal("50"), max_value=Decimal("2000"), places=2)
# No limits half the time, so enough followers trade for the exit rules to matter.
limits = st.just(RiskLimits()) | st.builds(
    RiskLimits,
    daily_loss=st.none() | daily_losses,
    max_contracts=st.none() | st.integers(min_value=1, max_value=50),
)
session_pnls = st.just(Decimal(0)) | st.decimals(
    min_value=Decimal("-2500"), max_value=Decimal("2500"), places=2
)


@st.composite
def follower_lists(draw: st.DrawFn) -> list[FollowerState]:
    count = draw(st.integers(min_value=1, max_value=5))
    return [
        FollowerState(
            key=f"f{i}",
            ratio=draw(ratios),
            position=0,
            session_pnl=draw(session_pnls),
            limits=draw(limits),
            enabled=draw(st.sampled_from([True, True, True, False])),
        )
        for i in range(count)
    ]


@dataclass
class Step:
    """One leader fill played: state before, decisions, state after."""

    fill: LeaderFill
    leader_before: int
    leader_after: int
    followers_before: list[FollowerState]
    followers_after: list[FollowerState]
    decisions: list[CopyDecision]


def _play(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> list[Step]:
    """Run the sequence, applying each SEND to the follower's position."""
    steps: list[Step] = []
    leader = 0
    for n, (side, qty) in enumerate(fills):
        fill = LeaderFill(
            event_id=f"e{n}", account="LEAD", symbol="MNQH5", side=side, qty=qty,
            price=Decimal("21000"), time=T0 + timedelta(seconds=n),
        )
        decisions = decide_copies(fill, leader, group, followers, route_key=ROUTE)
        after = [
            replace(f, position=f.position + d.side.sign * d.qty)
            if d.status is DecisionStatus.SEND else f
            for f, d in zip(followers, decisions, strict=True)
        ]
        steps.append(Step(fill, leader, leader + side.sign * qty, followers, after, decisions))
        leader += side.sign * qty
        followers = after
    return steps


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_follower_never_opposite_leader_and_flat_when_leader_flat(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Act
    steps = _play(fills, group, followers)

    # Assert
    for step in steps:
        exit_only = step.decisions[0].intent is Intent.EXIT
        for f in step.followers_after:
            context = (step.fill.side, step.fill.qty, step.leader_before, f)
            if exit_only:
                # an exit never flips a follower past flat
                assert f.position * step.leader_after >= 0, context
            if step.leader_after == 0:
                assert f.position == 0, context
            # stronger: the follower is on the leader's side or flat after every fill
            assert f.position * step.leader_after >= 0, context


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_exit_never_sends_more_than_follower_holds(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Act
    steps = _play(fills, group, followers)

    # Assert
    for step in steps:
        for before, d in zip(step.followers_before, step.decisions, strict=True):
            if d.intent is Intent.EXIT and d.status is DecisionStatus.SEND:
                held = max(before.position * d.side.opposite.sign, 0)
                assert 0 < d.qty <= held, (step.fill, before, d)


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_send_entry_qty_never_above_max_contracts(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Act
    steps = _play(fills, group, followers)

    # Assert
    for step in steps:
        for before, d in zip(step.followers_before, step.decisions, strict=True):
            cap = before.limits.max_contracts
            if d.status is not DecisionStatus.SEND or cap is None or d.intent is Intent.EXIT:
                continue
            # a reversal's exit part closes everything the follower holds in the
            # leader's old direction (the leader is flat on that part); the rest is entry
            exit_part = max(before.position * d.side.opposite.sign, 0)
            if d.intent is Intent.ENTRY:
                exit_part = 0
            entry_part = d.qty - exit_part
            assert entry_part <= cap, (step.fill, step.leader_before, before, d)


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_decisions_deterministic_and_one_per_follower_in_order(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Arrange
    steps = _play(fills, group, followers)

    for step in steps:
        # Act: replay the same event on the same state
        again = decide_copies(
            step.fill, step.leader_before, group, step.followers_before, route_key=ROUTE
        )

        # Assert
        assert again == step.decisions
        assert [d.follower for d in step.decisions] == [f.key for f in step.followers_before]
        assert len({d.client_order_id for d in step.decisions}) == len(step.decisions)
        assert all(d.side is step.fill.side for d in step.decisions)
        assert all(d.symbol == step.fill.symbol for d in step.decisions)
        assert len({d.intent for d in step.decisions}) == 1


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_status_and_qty_agree(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Act
    steps = _play(fills, group, followers)

    # Assert
    for step in steps:
        for before, d in zip(step.followers_before, step.decisions, strict=True):
            if d.status is DecisionStatus.BLOCKED:
                assert d.qty == 0, d
                assert d.reason, d
                assert "blocked: " in d.reason, d
                assert d.intent is not Intent.EXIT, d  # exits are never blocked
                assert before.enabled, d
            elif d.status is DecisionStatus.SKIPPED:
                assert d.qty == 0, d
                assert d.reason, d
            else:
                assert d.qty > 0, d
                assert before.enabled, d


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_disabled_follower_never_trades(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Act
    steps = _play(fills, group, followers)

    # Assert
    for step in steps:
        for before, d in zip(step.followers_before, step.decisions, strict=True):
            if not before.enabled:
                assert d.status is DecisionStatus.SKIPPED, d
                assert d.reason == "follower disabled", d


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_fixed_mode_never_holds_more_than_fixed_target(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Arrange
    group = replace(group, copy_mode=CopyMode.FIXED)

    # Act
    steps = _play(fills, group, followers)

    # Assert: partial fills of one leader order top up to the target, never past it
    for step in steps:
        for f in step.followers_after:
            target = round_contracts(group.copy_value * f.ratio, group.rounding, Intent.ENTRY)
            assert abs(f.position) <= target, (step.fill, step.leader_before, f)


@PROPERTY_SETTINGS
@given(fills=leader_fills(), group=groups, followers=follower_lists())
def test_property_default_rounding_never_holds_more_than_ratio_allows(
    fills: list[tuple[Side, int]], group: GroupConfig, followers: list[FollowerState]
) -> None:
    # Arrange: multiplier mode, entry down / exit up
    group = replace(
        group, copy_mode=CopyMode.MULTIPLIER, rounding=RoundingMode.ENTRY_DOWN_EXIT_UP
    )

    # Act
    steps = _play(fills, group, followers)

    # Assert: |follower| <= |leader| x copy value x ratio after every fill
    for step in steps:
        for f in step.followers_after:
            allowed = abs(step.leader_after) * group.copy_value * f.ratio
            assert abs(f.position) <= allowed, (step.fill, step.leader_before, f)
