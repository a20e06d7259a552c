"""The price collar (issue 10, defect 8): hand-computed bands."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from routing.engine.collar import check_price_collar, collar_band, collared_decision
from routing.engine.types import CopyDecision, DecisionStatus, Intent, Side


def test_band_of_five_percent_around_21000() -> None:
    # 21000 x 5 % = 1050: 19950 .. 22050.
    assert collar_band(D(21000), D(5)) == (D(19950), D(22050))


@pytest.mark.parametrize("price", ["22050", "19950", "21000", "21000.25"])
def test_prices_inside_the_band_pass(price: str) -> None:
    assert check_price_collar(D(price), D(21000), D(5)) is None


def test_one_tick_above_the_band_is_refused_with_price_mark_and_band() -> None:
    assert check_price_collar(D("22050.25"), D(21000), D(5)) == (
        "PRICE_COLLAR: leader price 22050.25 is outside 19950..22050 (5% of last mark 21000)"
    )


def test_one_tick_below_the_band_is_refused() -> None:
    assert check_price_collar(D("19949.75"), D(21000), D(5)) is not None


def test_without_a_mark_the_first_price_passes() -> None:
    assert check_price_collar(D("123456789012345"), None, D(5)) is None


def test_a_band_of_zero_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        check_price_collar(D(21000), D(21000), D(0))


COLLAR = "PRICE_COLLAR: leader price 22050.25 is outside 19950..22050 (5% of last mark 21000)"


def _decision(intent: Intent, side: Side, qty: int, before: int, target: int) -> CopyDecision:
    return CopyDecision(
        follower="7",
        symbol="MNQH5",
        side=side,
        qty=qty,
        status=DecisionStatus.SEND,
        intent=intent,
        reason="",
        client_order_id="c-1",
        position_before=before,
        target=target,
    )


def test_collared_entry_is_blocked_and_the_position_unchanged() -> None:
    collared = collared_decision(_decision(Intent.ENTRY, Side.BUY, 2, 1, 3), COLLAR)
    assert (collared.status, collared.qty, collared.target) == (DecisionStatus.BLOCKED, 0, 1)
    assert collared.reason == f"{COLLAR}; not copied"


def test_collared_exit_is_still_sent_at_market() -> None:
    collared = collared_decision(_decision(Intent.EXIT, Side.SELL, 6, 6, 0), COLLAR)
    assert (collared.status, collared.side, collared.qty, collared.target) == (
        DecisionStatus.SEND,
        Side.SELL,
        6,
        0,
    )
    assert collared.reason == f"{COLLAR}; exit sent at market"


def test_collared_reversal_closes_to_flat_only() -> None:
    # Follower +3 reversing to -3 (sell 6): only the close of 3 goes.
    collared = collared_decision(_decision(Intent.REVERSAL, Side.SELL, 6, 3, -3), COLLAR)
    assert (collared.status, collared.side, collared.qty, collared.target, collared.intent) == (
        DecisionStatus.SEND,
        Side.SELL,
        3,
        0,
        Intent.EXIT,
    )
    assert collared.reason == (
        f"{COLLAR}; reversal closed to flat at market, the new position not copied"
    )


def test_collared_reversal_with_nothing_to_close_is_blocked() -> None:
    collared = collared_decision(_decision(Intent.REVERSAL, Side.SELL, 3, 0, -3), COLLAR)
    assert (collared.status, collared.qty, collared.target) == (DecisionStatus.BLOCKED, 0, 0)
