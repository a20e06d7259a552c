"""Sizing and rounding rules of the copy engine (routing.engine.sizing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.engine.sizing import entry_size, exit_size, round_contracts, rounding_rule_text
from routing.engine.types import CopyMode, GroupConfig, Intent, RoundingMode

D = Decimal


# --- round_contracts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("0.5", 0),  # default entry rounds down
        ("1.5", 1),
        ("1.99", 1),
        ("2", 2),
        ("9.0", 9),
    ],
)
def test_entry_when_fraction_then_rounds_down(raw: str, expected: int) -> None:
    # Arrange
    mode = RoundingMode.ENTRY_DOWN_EXIT_UP

    # Act
    qty = round_contracts(D(raw), mode, Intent.ENTRY)

    # Assert
    assert qty == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("0.5", 1),  # default exit rounds up
        ("0.1", 1),
        ("1.01", 2),
        ("2", 2),  # an integer stays put
    ],
)
def test_exit_when_fraction_then_rounds_up(raw: str, expected: int) -> None:
    # Arrange
    mode = RoundingMode.ENTRY_DOWN_EXIT_UP

    # Act
    qty = round_contracts(D(raw), mode, Intent.EXIT)

    # Assert
    assert qty == expected


@pytest.mark.parametrize("intent", [Intent.ENTRY, Intent.EXIT])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.5", 2),  # half up, not banker's rounding (which gives 2 too)
        ("2.5", 3),  # half up: banker's rounding would give 2
        ("0.4", 0),
        ("0.5", 1),
        ("0.49", 0),
        ("3.51", 4),
    ],
)
def test_nearest_when_half_then_rounds_half_up(raw: str, expected: int, intent: Intent) -> None:
    # Arrange
    mode = RoundingMode.NEAREST

    # Act
    qty = round_contracts(D(raw), mode, intent)

    # Assert
    assert qty == expected


@pytest.mark.parametrize("intent", [Intent.ENTRY, Intent.EXIT])
@pytest.mark.parametrize(("raw", "expected"), [("0.9", 0), ("1.5", 1), ("2.99", 2), ("3", 3)])
def test_always_down_when_fraction_then_rounds_down_for_entry_and_exit(
    raw: str, expected: int, intent: Intent
) -> None:
    # Arrange
    mode = RoundingMode.ALWAYS_DOWN

    # Act
    qty = round_contracts(D(raw), mode, intent)

    # Assert
    assert qty == expected


def test_round_contracts_when_negative_then_raises() -> None:
    # Arrange
    raw = D("-0.5")

    # Act / Assert
    with pytest.raises(ValueError, match="negative"):
        round_contracts(raw, RoundingMode.NEAREST, Intent.ENTRY)


def test_round_contracts_when_result_then_returns_plain_int() -> None:
    # Arrange
    raw = D("2.5")

    # Act
    qty = round_contracts(raw, RoundingMode.NEAREST, Intent.ENTRY)

    # Assert
    assert type(qty) is int


@pytest.mark.parametrize(
    ("mode", "intent", "text"),
    [
        (RoundingMode.ENTRY_DOWN_EXIT_UP, Intent.ENTRY, "entry rounds down"),
        (RoundingMode.ENTRY_DOWN_EXIT_UP, Intent.EXIT, "exit rounds up"),
        (RoundingMode.NEAREST, Intent.ENTRY, "rounds to nearest"),
        (RoundingMode.ALWAYS_DOWN, Intent.EXIT, "rounds down"),
    ],
)
def test_rounding_rule_text_when_mode_and_intent_then_names_rule(
    mode: RoundingMode, intent: Intent, text: str
) -> None:
    # Act
    words = rounding_rule_text(mode, intent)

    # Assert
    assert words == text


# --- entry_size --------------------------------------------------------------


def test_entry_size_when_multiplier_then_leader_qty_times_copy_value_times_ratio() -> None:
    # Arrange: 3 x 2 x 1.5 = 9
    group = GroupConfig(CopyMode.MULTIPLIER, D("2"))

    # Act
    raw, formula = entry_size(3, group, D("1.5"))

    # Assert
    assert raw == D("9")
    assert formula == "3 x 2 x 1.5"


def test_entry_size_when_multiplier_fractional_ratio_then_keeps_fraction() -> None:
    # Arrange: 3 x 1 x 0.5 = 1.5
    group = GroupConfig(CopyMode.MULTIPLIER, D("1"))

    # Act
    raw, formula = entry_size(3, group, D("0.5"))

    # Assert
    assert raw == D("1.5")
    assert formula == "3 x 1 x 0.5"


@pytest.mark.parametrize("leader_qty", [1, 7, 20])
def test_entry_size_when_fixed_then_ignores_leader_qty(leader_qty: int) -> None:
    # Arrange: fixed 2 x 1.5 = 3 whatever the leader trades
    group = GroupConfig(CopyMode.FIXED, D("2"))

    # Act
    raw, formula = entry_size(leader_qty, group, D("1.5"))

    # Assert
    assert raw == D("3")
    assert formula == "fixed 2 x 1.5"


def test_entry_size_when_formula_then_shows_normalised_numbers() -> None:
    # Arrange: ratio 1000.0 prints as 1000, copy value 1.50 as 1.5; 2 x 1.5 x 1000 = 3000
    group = GroupConfig(CopyMode.MULTIPLIER, D("1.50"))

    # Act
    raw, formula = entry_size(2, group, D("1000.0"))

    # Assert
    assert raw == D("3000")
    assert formula == "2 x 1.5 x 1000"


# --- exit_size ---------------------------------------------------------------


def test_exit_size_when_multiplier_then_sized_like_an_entry() -> None:
    # Arrange: leader exits 1 of 3, ratio 0.5: 1 x 1 x 0.5 = 0.5 (follower holding ignored)
    group = GroupConfig(CopyMode.MULTIPLIER, D("1"))

    # Act
    raw, formula = exit_size(1, 3, 1, group, D("0.5"))

    # Assert
    assert raw == D("0.5")
    assert formula == "1 x 1 x 0.5"


def test_exit_size_when_fixed_then_proportional_to_follower_position() -> None:
    # Arrange: leader exits 1 of 4, follower holds 6: 6 x 1/4 = 1.5
    group = GroupConfig(CopyMode.FIXED, D("3"))

    # Act
    raw, formula = exit_size(1, 4, 6, group, D("2"))

    # Assert
    assert raw == D("1.5")
    assert formula == "6 x 1/4"


def test_exit_size_when_fixed_one_third_then_rounds_up_to_one() -> None:
    # Arrange: follower holds 2, leader exits 1 of 3: 2 x 1/3 = 0.666... -> exit up 1
    group = GroupConfig(CopyMode.FIXED, D("2"))

    # Act
    raw, _ = exit_size(1, 3, 2, group, D("1"))
    qty = round_contracts(raw, group.rounding, Intent.EXIT)

    # Assert
    assert D("0.66") < raw < D("0.67")
    assert qty == 1


# --- GroupConfig validation --------------------------------------------------


@pytest.mark.parametrize("copy_value", ["0", "-1"])
def test_group_config_when_copy_value_not_positive_then_raises(copy_value: str) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="copy value must be > 0"):
        GroupConfig(CopyMode.MULTIPLIER, D(copy_value))


def test_group_config_when_rounding_omitted_then_entry_down_exit_up() -> None:
    # Act
    group = GroupConfig(CopyMode.MULTIPLIER, D("1"))

    # Assert
    assert group.rounding is RoundingMode.ENTRY_DOWN_EXIT_UP
