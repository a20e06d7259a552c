"""Worked examples for the copy engine entry point ``decide_copies``.

Every number is computed by hand in the comments: leader qty x copy value x
ratio (multiplier), copy value x ratio (fixed), then the rounding rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routing.engine.copier import decide_copies, split_leader_fill
from routing.engine.orders import client_order_id
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

D = Decimal
T0 = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
ROUTE = "route-1"
LEADER = "LEAD-1"


def _fill(side: Side, qty: int, event_id: str = "fill-1", symbol: str = "MNQH5") -> LeaderFill:
    return LeaderFill(
        event_id=event_id, account=LEADER, symbol=symbol, side=side, qty=qty,
        price=D("21000.25"), time=T0,
    )


def _multiplier(
    copy_value: str = "1", rounding: RoundingMode = RoundingMode.ENTRY_DOWN_EXIT_UP
) -> GroupConfig:
    return GroupConfig(CopyMode.MULTIPLIER, D(copy_value), rounding)


def _fixed(
    copy_value: str = "1", rounding: RoundingMode = RoundingMode.ENTRY_DOWN_EXIT_UP
) -> GroupConfig:
    return GroupConfig(CopyMode.FIXED, D(copy_value), rounding)


def _follower(
    ratio: str = "1", position: int = 0, key: str = "f1", session_pnl: str = "0",
    limits: RiskLimits | None = None, enabled: bool = True,
) -> FollowerState:
    return FollowerState(
        key=key, ratio=D(ratio), position=position, session_pnl=D(session_pnl),
        limits=limits or RiskLimits(), enabled=enabled,
    )


def _one(
    fill: LeaderFill, leader_before: int, group: GroupConfig, follower: FollowerState
) -> CopyDecision:
    decisions = decide_copies(fill, leader_before, group, [follower], route_key=ROUTE)
    assert len(decisions) == 1
    return decisions[0]


# --- split_leader_fill -------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "side", "qty", "expected"),
    [
        (0, Side.BUY, 3, (0, 3)),  # flat: all entry
        (2, Side.BUY, 3, (0, 3)),  # adding to a long
        (5, Side.SELL, 2, (2, 0)),  # partial exit of a long
        (5, Side.SELL, 5, (5, 0)),  # exact close
        (2, Side.SELL, 5, (2, 3)),  # reversal: close 2, open short 3
        (-4, Side.BUY, 1, (1, 0)),  # partial cover of a short
        (-4, Side.SELL, 1, (0, 1)),  # adding to a short
        (-1, Side.BUY, 4, (1, 3)),  # reversal short -> long
    ],
)
def test_split_leader_fill_when_position_and_fill_then_exit_and_entry_parts(
    before: int, side: Side, qty: int, expected: tuple[int, int]
) -> None:
    # Act
    parts = split_leader_fill(before, side, qty)

    # Assert
    assert parts == expected


# --- multiplier entries and rounding -----------------------------------------


def test_entry_when_multiplier_then_qty_times_copy_value_times_ratio() -> None:
    # Arrange: leader buys 3 from flat; 3 x 2 x 1.5 = 9
    fill = _fill(Side.BUY, 3)

    # Act
    d = _one(fill, 0, _multiplier("2"), _follower("1.5"))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (DecisionStatus.SEND, Side.BUY, 9, Intent.ENTRY)
    assert d.reason == "entry: 3 x 2 x 1.5 = 9 \u2192 9 (entry rounds down)"
    assert d.symbol == "MNQH5"
    assert d.follower == "f1"


def test_entry_when_fraction_then_rounds_down() -> None:
    # Arrange: leader buys 3, ratio 0.5: 1.5 -> 1
    fill = _fill(Side.BUY, 3)

    # Act
    d = _one(fill, 0, _multiplier(), _follower("0.5"))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 1)
    assert "1.5 \u2192 1 (entry rounds down)" in d.reason


def test_entry_when_half_contract_then_rounds_to_zero_and_skips() -> None:
    # Arrange: leader buys 1, ratio 0.5: 0.5 -> 0 (entry rounds down)
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 0, _multiplier(), _follower("0.5"))

    # Assert
    assert d.status is DecisionStatus.SKIPPED
    assert d.qty == 0
    assert "\u2192 0" in d.reason
    assert d.reason == "entry: 1 x 1 x 0.5 = 0.5 \u2192 0 (entry rounds down)"


def test_entry_when_adding_to_long_then_sized_on_the_added_qty_only() -> None:
    # Arrange: leader long 2 buys 2 more, follower ratio 1 holds 2: 2 x 1 x 1 = 2
    fill = _fill(Side.BUY, 2)

    # Act
    d = _one(fill, 2, _multiplier(), _follower("1", position=2))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 2, Intent.ENTRY)


def test_entry_when_leader_sells_short_from_flat_then_follower_sells() -> None:
    # Arrange: leader sells 4 from flat, ratio 0.25: 4 x 1 x 0.25 = 1
    fill = _fill(Side.SELL, 4)

    # Act
    d = _one(fill, 0, _multiplier(), _follower("0.25"))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (
        DecisionStatus.SEND, Side.SELL, 1, Intent.ENTRY,
    )


@pytest.mark.parametrize(
    ("leader_qty", "ratio", "expected"),
    [
        (3, "0.5", 2),  # 1.5 -> 2 (half up)
        (5, "0.5", 3),  # 2.5 -> 3 (half up, not banker's 2)
        (1, "0.4", 0),  # 0.4 -> 0
        (7, "0.3", 2),  # 2.1 -> 2
    ],
)
def test_entry_when_nearest_then_rounds_half_up(leader_qty: int, ratio: str, expected: int) -> None:
    # Arrange
    fill = _fill(Side.BUY, leader_qty)

    # Act
    d = _one(fill, 0, _multiplier(rounding=RoundingMode.NEAREST), _follower(ratio))

    # Assert
    assert d.qty == expected
    assert d.status is (DecisionStatus.SEND if expected else DecisionStatus.SKIPPED)


def test_entry_when_nearest_rounds_to_zero_then_skipped_with_reason() -> None:
    # Arrange: 1 x 1 x 0.4 = 0.4 -> 0 (rounds to nearest)
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 0, _multiplier(rounding=RoundingMode.NEAREST), _follower("0.4"))

    # Assert
    assert d.reason == "entry: 1 x 1 x 0.4 = 0.4 \u2192 0 (rounds to nearest)"


def test_entry_when_always_down_then_rounds_down() -> None:
    # Arrange: 3 x 1 x 0.9 = 2.7 -> 2
    fill = _fill(Side.BUY, 3)

    # Act
    d = _one(fill, 0, _multiplier(rounding=RoundingMode.ALWAYS_DOWN), _follower("0.9"))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 2)


# --- exits -------------------------------------------------------------------


def test_exit_when_fraction_then_rounds_up() -> None:
    # Arrange: leader long 3 sells 1; follower ratio 0.5 holds 1 (3 x 0.5 = 1.5 -> 1 at entry)
    # exit 1 x 1 x 0.5 = 0.5 -> 1 (exit rounds up)
    fill = _fill(Side.SELL, 1)

    # Act
    d = _one(fill, 3, _multiplier(), _follower("0.5", position=1))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (DecisionStatus.SEND, Side.SELL, 1, Intent.EXIT)
    assert d.reason == "exit: 1 x 1 x 0.5 = 0.5 \u2192 1 (exit rounds up)"


def test_exit_when_rounded_qty_exceeds_holding_then_capped_at_held() -> None:
    # Arrange: leader long 5 sells 2, ratio 1: 2 -> 2, but follower holds only 1
    fill = _fill(Side.SELL, 2)

    # Act
    d = _one(fill, 5, _multiplier(), _follower("1", position=1))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 1)
    assert d.reason.endswith("capped at the 1 held")


def test_exit_when_short_leader_covers_then_follower_buys() -> None:
    # Arrange: leader short 4 buys 2, follower ratio 1 short 4: 2 x 1 x 1 = 2
    fill = _fill(Side.BUY, 2)

    # Act
    d = _one(fill, -4, _multiplier(), _follower("1", position=-4))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (DecisionStatus.SEND, Side.BUY, 2, Intent.EXIT)


@pytest.mark.parametrize(
    "rounding", [RoundingMode.ENTRY_DOWN_EXIT_UP, RoundingMode.NEAREST, RoundingMode.ALWAYS_DOWN]
)
def test_exit_when_leader_goes_flat_then_closes_everything_held(rounding: RoundingMode) -> None:
    # Arrange: leader long 3 sells 3; ratio 0.3 math says 0.9 (-> 0 down, 1 nearest/up),
    # yet the follower holding 1 must close all 1
    fill = _fill(Side.SELL, 3)

    # Act
    d = _one(fill, 3, _multiplier(rounding=rounding), _follower("0.3", position=1))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 1, Intent.EXIT)
    assert d.reason == "exit: leader flat, close all 1"


def test_exit_when_leader_goes_flat_and_follower_holds_more_than_ratio_then_closes_all() -> None:
    # Arrange: leader long 3 sells 3; ratio 1 would say 3, follower holds 7 -> sell 7
    fill = _fill(Side.SELL, 3)

    # Act
    d = _one(fill, 3, _multiplier(), _follower("1", position=7))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 7)


def test_exit_when_nearest_then_rounds_half_up() -> None:
    # Arrange: leader long 4 sells 3, ratio 0.5 follower holds 2: 1.5 -> 2
    fill = _fill(Side.SELL, 3)

    # Act
    d = _one(fill, 4, _multiplier(rounding=RoundingMode.NEAREST), _follower("0.5", position=2))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 2)
    assert "1.5 \u2192 2 (rounds to nearest)" in d.reason


def test_exit_when_always_down_rounds_to_zero_then_skipped() -> None:
    # Arrange: leader long 4 sells 1, ratio 0.5 follower holds 2: 0.5 -> 0
    fill = _fill(Side.SELL, 1)

    # Act
    d = _one(fill, 4, _multiplier(rounding=RoundingMode.ALWAYS_DOWN), _follower("0.5", position=2))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SKIPPED, 0, Intent.EXIT)
    assert d.reason == "exit: 1 x 1 x 0.5 = 0.5 \u2192 0 (rounds down)"


def test_exit_when_follower_flat_then_skipped_and_never_opens_opposite() -> None:
    # Arrange: leader long 3 sells 1, follower holds nothing
    fill = _fill(Side.SELL, 1)

    # Act
    d = _one(fill, 3, _multiplier(), _follower("1", position=0))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SKIPPED, 0, Intent.EXIT)
    assert d.reason == "exit: follower holds no long position"


def test_exit_when_follower_on_opposite_side_then_skipped_not_added_to() -> None:
    # Arrange: leader long 3 sells 3 (flat); follower is short 2 (out of sync):
    # selling would grow its short, so nothing is sent
    fill = _fill(Side.SELL, 3)

    # Act
    d = _one(fill, 3, _multiplier(), _follower("1", position=-2))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SKIPPED, 0)
    assert d.reason == "exit: follower holds no long position"


def test_exit_when_short_leader_and_follower_flat_then_reason_says_short() -> None:
    # Arrange: leader short 2 buys 1, follower flat
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, -2, _multiplier(), _follower())

    # Assert
    assert d.status is DecisionStatus.SKIPPED
    assert d.reason == "exit: follower holds no short position"


# --- fixed mode --------------------------------------------------------------


@pytest.mark.parametrize("leader_qty", [1, 3, 20])
def test_entry_when_fixed_then_copy_value_times_ratio_regardless_of_leader(
    leader_qty: int,
) -> None:
    # Arrange: fixed 2 x 1.5 = 3
    fill = _fill(Side.BUY, leader_qty)

    # Act
    d = _one(fill, 0, _fixed("2"), _follower("1.5"))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 3, Intent.ENTRY)
    assert d.reason == (
        "entry: fixed 2 x 1.5 = 3 \u2192 3 (entry rounds down), holds 0, target 3: 3 to add"
    )


def test_entry_when_fixed_partial_fill_after_target_reached_then_adds_nothing() -> None:
    # Arrange: leader order of 2 fills 1 + 1; after the first fill leader long 1 and the
    # follower already holds the fixed target 2 x 1.5 = 3
    fill = _fill(Side.BUY, 1, event_id="fill-2")

    # Act
    d = _one(fill, 1, _fixed("2"), _follower("1.5", position=3))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SKIPPED, 0)
    assert d.reason.endswith("holds 3, target 3: 0 to add")


def test_entry_when_fixed_partial_fill_below_target_then_tops_up_to_target() -> None:
    # Arrange: fixed target 3, follower holds 1 (earlier fill partly filled): adds 2
    fill = _fill(Side.BUY, 1, event_id="fill-2")

    # Act
    d = _one(fill, 1, _fixed("2"), _follower("1.5", position=1))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 2)


def test_entry_when_fixed_two_partial_fills_in_sequence_then_total_equals_target() -> None:
    # Arrange: leader buys 1 then 1; fixed 1 x 2 = 2
    group, follower = _fixed("1"), _follower("2")

    # Act
    first = _one(_fill(Side.BUY, 1, event_id="a"), 0, group, follower)
    after_first = _follower("2", position=first.qty)
    second = _one(_fill(Side.BUY, 1, event_id="b"), 1, group, after_first)

    # Assert
    assert first.qty == 2
    assert second.qty == 0
    assert first.qty + second.qty == 2


def test_exit_when_fixed_then_proportional_share_of_follower_position() -> None:
    # Arrange: leader long 4 sells 2, fixed follower holds 3: 3 x 2/4 = 1.5 -> 2 (exit up)
    fill = _fill(Side.SELL, 2)

    # Act
    d = _one(fill, 4, _fixed("3"), _follower("1", position=3))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 2, Intent.EXIT)
    assert d.reason == "exit: 3 x 2/4 = 1.5 \u2192 2 (exit rounds up)"


def test_exit_when_fixed_and_always_down_then_proportional_share_rounds_down() -> None:
    # Arrange: leader long 4 sells 1, follower holds 3: 3 x 1/4 = 0.75 -> 0
    fill = _fill(Side.SELL, 1)

    # Act
    d = _one(fill, 4, _fixed("3", RoundingMode.ALWAYS_DOWN), _follower("1", position=3))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SKIPPED, 0)


def test_exit_when_fixed_ignores_ratio_and_copy_value() -> None:
    # Arrange: leader long 10 sells 5, follower holds 4 with ratio 1000:
    # 4 x 5/10 = 2, not 5 x 1 x 1000
    fill = _fill(Side.SELL, 5)

    # Act
    d = _one(fill, 10, _fixed("1"), _follower("1000", position=4))

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 2)


# --- reversal ----------------------------------------------------------------


def test_reversal_when_leader_long_sells_more_then_follower_closes_and_opens() -> None:
    # Arrange: leader long 2 sells 5 -> short 3; follower ratio 1 holds 2:
    # exit all 2 (leader flat on the exit part) + entry 3 x 1 x 1 = 3 -> sell 5
    fill = _fill(Side.SELL, 5)

    # Act
    d = _one(fill, 2, _multiplier(), _follower("1", position=2))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (
        DecisionStatus.SEND, Side.SELL, 5, Intent.REVERSAL,
    )
    assert d.reason == (
        "exit: leader flat, close all 2; entry: 3 x 1 x 1 = 3 \u2192 3 (entry rounds down)"
    )


def test_reversal_when_entry_blocked_by_daily_loss_then_still_sends_exit_part() -> None:
    # Arrange: same reversal, follower at loss 375 = limit 375: the 3-lot entry is blocked,
    # the 2-lot exit still goes out
    follower = _follower("1", position=2, session_pnl="-375",
                         limits=RiskLimits(daily_loss=D("375")))
    fill = _fill(Side.SELL, 5)

    # Act
    d = _one(fill, 2, _multiplier(), follower)

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (
        DecisionStatus.SEND, Side.SELL, 2, Intent.REVERSAL,
    )
    assert "blocked: daily loss 375.00 \u2265 limit 375.00" in d.reason


def test_reversal_when_follower_flat_and_entry_blocked_then_blocked() -> None:
    # Arrange: follower holds nothing to exit and its entry part is over max contracts 2
    follower = _follower("1", limits=RiskLimits(max_contracts=2))
    fill = _fill(Side.SELL, 5)  # leader long 2 -> short 3: entry 3 > 2

    # Act
    d = _one(fill, 2, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.BLOCKED, 0, Intent.REVERSAL)
    assert "order 3 contracts > max contracts per order 2" in d.reason


def test_reversal_when_follower_flat_then_sends_only_entry_part() -> None:
    # Arrange: leader short 1 buys 4 -> long 3; follower flat, ratio 2: entry 3 x 1 x 2 = 6
    fill = _fill(Side.BUY, 4)

    # Act
    d = _one(fill, -1, _multiplier(), _follower("2"))

    # Assert
    assert (d.status, d.side, d.qty, d.intent) == (
        DecisionStatus.SEND, Side.BUY, 6, Intent.REVERSAL,
    )


def test_reversal_when_fixed_then_closes_all_and_opens_fixed_target() -> None:
    # Arrange: leader long 2 sells 5; fixed 1 x 2 = 2; follower long 2:
    # close 2 + open 2 (holds 0 short after the exit) = 4
    fill = _fill(Side.SELL, 5)

    # Act
    d = _one(fill, 2, _fixed("1"), _follower("2", position=2))

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 4, Intent.REVERSAL)


# --- risk --------------------------------------------------------------------


def test_entry_when_daily_loss_exactly_at_limit_then_blocked_with_reason() -> None:
    # Arrange: session PnL -375.00, limit 375.00: 375 >= 375
    follower = _follower("1", session_pnl="-375.00", limits=RiskLimits(daily_loss=D("375")))
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 0, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.BLOCKED, 0, Intent.ENTRY)
    assert d.reason == (
        "entry: 1 x 1 x 1 = 1 \u2192 1 (entry rounds down); "
        "blocked: daily loss 375.00 \u2265 limit 375.00"
    )


def test_entry_when_daily_loss_just_below_limit_then_sent() -> None:
    # Arrange: loss 374.99 < 375
    follower = _follower("1", session_pnl="-374.99", limits=RiskLimits(daily_loss=D("375")))
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 0, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 1)


def test_exit_when_daily_loss_tripped_then_still_sent() -> None:
    # Arrange: loss 900 >= 375, leader long 2 sells 1, follower ratio 1 holds 2: sell 1
    follower = _follower("1", position=2, session_pnl="-900",
                         limits=RiskLimits(daily_loss=D("375")))
    fill = _fill(Side.SELL, 1)

    # Act
    d = _one(fill, 2, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty, d.intent) == (DecisionStatus.SEND, 1, Intent.EXIT)
    assert "blocked" not in d.reason


def test_entry_when_above_max_contracts_then_blocked() -> None:
    # Arrange: 3 x 2 x 1 = 6 > max 5
    follower = _follower("1", limits=RiskLimits(max_contracts=5))
    fill = _fill(Side.BUY, 3)

    # Act
    d = _one(fill, 0, _multiplier("2"), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.BLOCKED, 0)
    assert d.reason.endswith("blocked: order 6 contracts > max contracts per order 5")


def test_entry_when_exactly_max_contracts_then_sent() -> None:
    # Arrange: 5 x 1 x 1 = 5 = max 5
    follower = _follower("1", limits=RiskLimits(max_contracts=5))
    fill = _fill(Side.BUY, 5)

    # Act
    d = _one(fill, 0, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 5)


def test_entry_when_max_contracts_checked_then_on_rounded_qty() -> None:
    # Arrange: 11 x 1 x 0.5 = 5.5 -> 5 (entry down) = max 5: passes
    follower = _follower("0.5", limits=RiskLimits(max_contracts=5))
    fill = _fill(Side.BUY, 11)

    # Act
    d = _one(fill, 0, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 5)


def test_exit_when_larger_than_max_contracts_then_still_sent() -> None:
    # Arrange: leader long 10 goes flat, follower holds 10, max 5 per order: exits always pass
    follower = _follower("1", position=10, limits=RiskLimits(max_contracts=5))
    fill = _fill(Side.SELL, 10)

    # Act
    d = _one(fill, 10, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 10)


def test_entry_when_fixed_then_max_contracts_checked_on_qty_to_add() -> None:
    # Arrange: fixed target 1 x 6 = 6, follower holds 2: adds 4 <= max 5
    follower = _follower("6", position=2, limits=RiskLimits(max_contracts=5))
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 1, _fixed("1"), follower)

    # Assert
    assert (d.status, d.qty) == (DecisionStatus.SEND, 4)


def test_entry_when_rounded_to_zero_and_daily_loss_tripped_then_skipped_not_blocked() -> None:
    # Arrange: 1 x 1 x 0.5 = 0.5 -> 0: nothing to check, so nothing is blocked
    follower = _follower("0.5", session_pnl="-1000", limits=RiskLimits(daily_loss=D("375")))
    fill = _fill(Side.BUY, 1)

    # Act
    d = _one(fill, 0, _multiplier(), follower)

    # Assert
    assert d.status is DecisionStatus.SKIPPED


@pytest.mark.parametrize(
    ("leader_before", "side", "position"), [(0, Side.BUY, 0), (3, Side.SELL, 3)]
)
def test_decision_when_follower_disabled_then_skipped(
    leader_before: int, side: Side, position: int
) -> None:
    # Arrange: an entry from flat, and an exit the follower could otherwise copy
    follower = _follower("1", position=position, enabled=False)
    fill = _fill(side, 3)

    # Act
    d = _one(fill, leader_before, _multiplier(), follower)

    # Assert
    assert (d.status, d.qty, d.reason) == (DecisionStatus.SKIPPED, 0, "follower disabled")


# --- many followers, identity -------------------------------------------------


def test_decide_copies_when_many_followers_then_one_decision_each_in_order() -> None:
    # Arrange: leader buys 4; ratios 1, 0.1, 2.5 -> 4, 0 (0.4 down), 10
    followers = [
        _follower("1", key="a"),
        _follower("0.1", key="b"),
        _follower("2.5", key="c"),
    ]
    fill = _fill(Side.BUY, 4)

    # Act
    decisions = decide_copies(fill, 0, _multiplier(), followers, route_key=ROUTE)

    # Assert
    assert [d.follower for d in decisions] == ["a", "b", "c"]
    assert [d.qty for d in decisions] == [4, 0, 10]
    assert [d.status for d in decisions] == [
        DecisionStatus.SEND, DecisionStatus.SKIPPED, DecisionStatus.SEND,
    ]


def test_decide_copies_when_no_followers_then_empty() -> None:
    # Act
    decisions = decide_copies(_fill(Side.BUY, 1), 0, _multiplier(), [], route_key=ROUTE)

    # Assert
    assert decisions == []


def test_decide_copies_when_called_then_client_order_id_keys_route_account_event_follower() -> None:
    # Arrange
    fill = _fill(Side.BUY, 1, event_id="fill-42")

    # Act
    d = _one(fill, 0, _multiplier(), _follower(key="acct-7"))

    # Assert
    assert d.client_order_id == client_order_id(ROUTE, f"{LEADER}:fill-42", "acct-7")


def test_decide_copies_when_skipped_or_blocked_then_still_carries_client_order_id() -> None:
    # Arrange: one disabled, one blocked follower
    followers = [
        _follower(key="off", enabled=False),
        _follower(key="blk", limits=RiskLimits(max_contracts=1)),
    ]

    # Act
    decisions = decide_copies(_fill(Side.BUY, 2), 0, _multiplier(), followers, route_key=ROUTE)

    # Assert
    assert [d.status for d in decisions] == [DecisionStatus.SKIPPED, DecisionStatus.BLOCKED]
    assert decisions[0].client_order_id != decisions[1].client_order_id
    assert all(d.client_order_id.startswith("ct-") for d in decisions)


def test_decide_copies_when_redelivered_then_identical_decisions() -> None:
    # Arrange: the same event delivered twice
    followers = [_follower("1.5", key="a"), _follower("0.3", key="b", position=2)]

    # Act
    first = decide_copies(_fill(Side.SELL, 3), 5, _multiplier(), followers, route_key=ROUTE)
    second = decide_copies(_fill(Side.SELL, 3), 5, _multiplier(), followers, route_key=ROUTE)

    # Assert
    assert first == second


def test_decide_copies_when_other_route_then_other_client_order_ids() -> None:
    # Arrange
    fill, follower = _fill(Side.BUY, 1), _follower()

    # Act
    a = decide_copies(fill, 0, _multiplier(), [follower], route_key="route-a")[0]
    b = decide_copies(fill, 0, _multiplier(), [follower], route_key="route-b")[0]

    # Assert
    assert a.client_order_id != b.client_order_id


# --- input validation ---------------------------------------------------------


@pytest.mark.parametrize("qty", [0, -1])
def test_leader_fill_when_qty_not_positive_then_raises(qty: int) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="qty must be > 0"):
        _fill(Side.BUY, qty)


def test_leader_fill_when_naive_time_then_raises() -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="timezone-aware"):
        LeaderFill(
            event_id="x", account=LEADER, symbol="MNQH5", side=Side.BUY, qty=1,
            price=D("1"), time=datetime(2025, 3, 3, 15, 30),
        )
