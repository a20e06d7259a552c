"""Pre-trade risk checks (routing.engine.risk)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.engine.risk import check_daily_loss, check_entry, check_max_contracts
from routing.engine.types import FollowerState, RiskLimits

D = Decimal


# --- daily loss --------------------------------------------------------------


def test_daily_loss_when_loss_equals_limit_then_denies_with_numbers() -> None:
    # Arrange: session PnL -375 = loss 375, limit 375: 375 >= 375 trips
    limits = RiskLimits(daily_loss=D("375"))

    # Act
    reason = check_daily_loss(D("-375"), limits)

    # Assert
    assert reason == "daily loss 375.00 \u2265 limit 375.00"


def test_daily_loss_when_loss_just_below_limit_then_passes() -> None:
    # Arrange: loss 374.99 < limit 375
    limits = RiskLimits(daily_loss=D("375"))

    # Act
    reason = check_daily_loss(D("-374.99"), limits)

    # Assert
    assert reason is None


def test_daily_loss_when_loss_above_limit_then_denies_with_two_decimals() -> None:
    # Arrange: loss 400.5 vs limit 375
    limits = RiskLimits(daily_loss=D("375"))

    # Act
    reason = check_daily_loss(D("-400.5"), limits)

    # Assert
    assert reason == "daily loss 400.50 \u2265 limit 375.00"


def test_daily_loss_when_session_in_profit_then_passes() -> None:
    # Arrange: +1000 profit is a loss of -1000
    limits = RiskLimits(daily_loss=D("375"))

    # Act
    reason = check_daily_loss(D("1000"), limits)

    # Assert
    assert reason is None


def test_daily_loss_when_no_limit_set_then_passes_any_loss() -> None:
    # Arrange
    limits = RiskLimits()

    # Act
    reason = check_daily_loss(D("-1000000"), limits)

    # Assert
    assert reason is None


# --- max contracts per order -------------------------------------------------


def test_max_contracts_when_order_equals_max_then_passes() -> None:
    # Arrange
    limits = RiskLimits(max_contracts=5)

    # Act
    reason = check_max_contracts(5, limits)

    # Assert
    assert reason is None


def test_max_contracts_when_order_above_max_then_denies_with_numbers() -> None:
    # Arrange
    limits = RiskLimits(max_contracts=5)

    # Act
    reason = check_max_contracts(6, limits)

    # Assert
    assert reason == "order 6 contracts > max contracts per order 5"


def test_max_contracts_when_no_limit_set_then_passes_any_size() -> None:
    # Arrange
    limits = RiskLimits()

    # Act
    reason = check_max_contracts(10_000, limits)

    # Assert
    assert reason is None


# --- check_entry -------------------------------------------------------------


def test_check_entry_when_both_limits_tripped_then_daily_loss_wins() -> None:
    # Arrange: loss 500 >= 375 and 10 > 5; the daily-loss check runs first
    follower = FollowerState(
        key="f1",
        ratio=D("1"),
        session_pnl=D("-500"),
        limits=RiskLimits(daily_loss=D("375"), max_contracts=5),
    )

    # Act
    reason = check_entry(follower, 10)

    # Assert
    assert reason == "daily loss 500.00 \u2265 limit 375.00"


def test_check_entry_when_only_max_contracts_tripped_then_names_it() -> None:
    # Arrange: loss 100 < 375, order 10 > 5
    follower = FollowerState(
        key="f1",
        ratio=D("1"),
        session_pnl=D("-100"),
        limits=RiskLimits(daily_loss=D("375"), max_contracts=5),
    )

    # Act
    reason = check_entry(follower, 10)

    # Assert
    assert reason == "order 10 contracts > max contracts per order 5"


@pytest.mark.parametrize("qty", [1, 5])
def test_check_entry_when_within_all_limits_then_passes(qty: int) -> None:
    # Arrange
    follower = FollowerState(
        key="f1",
        ratio=D("1"),
        session_pnl=D("-374.99"),
        limits=RiskLimits(daily_loss=D("375"), max_contracts=5),
    )

    # Act
    reason = check_entry(follower, qty)

    # Assert
    assert reason is None
