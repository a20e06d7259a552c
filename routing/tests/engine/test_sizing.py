"""Sizing and rounding rules of the copy engine (routing.engine.sizing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.engine.sizing import SizingError, plain, round_target, rounding_rule_text, size_factor
from routing.engine.types import (
    CopyMode,
    FollowerState,
    GroupConfig,
    RoundingMode,
    SizingBasis,
)

D = Decimal
EDEU = RoundingMode.ENTRY_DOWN_EXIT_UP


@pytest.mark.parametrize(
    ("raw", "mode", "growing", "expected"),
    [
        ("0", EDEU, True, 0),
        ("0.9", EDEU, True, 0),  # entry rounds down
        ("1.5", EDEU, False, 1),  # exit rounds up: what stays rounds down
        ("2", EDEU, False, 2),
        ("1.5", RoundingMode.NEAREST, True, 2),  # half up
        ("1.49", RoundingMode.NEAREST, False, 1),
        ("2.5", RoundingMode.NEAREST, False, 3),
        ("1.5", RoundingMode.ALWAYS_DOWN, True, 1),
        ("1.5", RoundingMode.ALWAYS_DOWN, False, 2),  # the exit rounds down: 2 stay
        ("1.0", RoundingMode.ALWAYS_DOWN, False, 1),
    ],
)
def test_round_target(raw: str, mode: RoundingMode, growing: bool, expected: int) -> None:
    result = round_target(D(raw), mode, growing=growing)
    assert result == expected
    assert type(result) is int


def test_round_target_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError, match="negative"):
        round_target(D("-1"), EDEU, growing=True)


@pytest.mark.parametrize(
    ("mode", "growing", "text"),
    [
        (EDEU, True, "entry rounds down"),
        (EDEU, False, "exit rounds up"),
        (RoundingMode.NEAREST, False, "rounds to nearest"),
        (RoundingMode.ALWAYS_DOWN, False, "exit rounds down"),
    ],
)
def test_rounding_rule_text(mode: RoundingMode, growing: bool, text: str) -> None:
    assert rounding_rule_text(mode, growing=growing) == text


def test_size_factor_ratio_basis() -> None:
    factor, formula = size_factor(
        GroupConfig(CopyMode.MULTIPLIER, D("2")), FollowerState("f", D("0.50"))
    )
    assert (factor, formula) == (D("1.00"), "2 x 0.5")


def test_size_factor_percent_of_balance() -> None:
    # 1 x 2 x 25 000 / 100 000 = 0.5
    group = GroupConfig(CopyMode.MULTIPLIER, D(1), leader_balance=D(100000))
    follower = FollowerState(
        "f", D(2), sizing_basis=SizingBasis.PERCENT_OF_BALANCE, balance=D(25000)
    )
    factor, formula = size_factor(group, follower)
    assert factor == D("0.5")
    assert formula == "1 x 2 x 25000/100000"


@pytest.mark.parametrize("leader_balance", [None, D(0)])
def test_size_factor_percent_of_balance_fails_closed(leader_balance: Decimal | None) -> None:
    group = GroupConfig(CopyMode.MULTIPLIER, D(1), leader_balance=leader_balance)
    follower = FollowerState("f", D(1), sizing_basis=SizingBasis.PERCENT_OF_BALANCE, balance=D(1))
    with pytest.raises(SizingError):
        size_factor(group, follower)


def test_size_factor_fails_closed_at_every_call_and_keeps_the_bases_apart() -> None:
    # Factors are cached across events: an error must never be, and one
    # ratio on two bases must never share a factor.
    group = GroupConfig(CopyMode.MULTIPLIER, D(1))
    unbalanced = FollowerState("f", D(3), sizing_basis=SizingBasis.PERCENT_OF_BALANCE)
    for _ in range(2):
        with pytest.raises(SizingError):
            size_factor(group, unbalanced)
    assert size_factor(group, FollowerState("f", D(3))) == (D(3), "1 x 3")
    funded = GroupConfig(CopyMode.MULTIPLIER, D(1), leader_balance=D(50000))
    half = FollowerState("f", D(3), sizing_basis=SizingBasis.PERCENT_OF_BALANCE, balance=D(25000))
    assert size_factor(funded, half) == (D("1.5"), "1 x 3 x 25000/50000")


@pytest.mark.parametrize("copy_value", ["0", "-1"])
def test_group_config_refuses_a_non_positive_copy_value(copy_value: str) -> None:
    with pytest.raises(ValueError, match="copy value"):
        GroupConfig(CopyMode.FIXED, D(copy_value))


def test_group_config_refuses_a_root_mapped_twice() -> None:
    with pytest.raises(ValueError, match="mapped twice"):
        GroupConfig(CopyMode.MULTIPLIER, D(1), mappings=(("ES", "MES"), ("ES", "NQ")))


def test_plain_drops_trailing_zeros() -> None:
    assert plain(D("1.50")) == "1.5"
    assert plain(D("50.0000")) == "50"
