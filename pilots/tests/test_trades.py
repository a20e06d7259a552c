"""Round trips rebuilt from fills: flat to flat, with the engine's position arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pilots.tests.factories import ct, fill
from pilots.trades import RowFill, round_trips_from_fills
from routing.engine.types import Side

POINT_VALUES = {"MNQ": Decimal(2), "NQ": Decimal(20)}


def test_scale_in_then_out_when_flat_then_one_round_trip_with_average_entry() -> None:
    # Arrange: buy 2 @ 100 and 1 @ 103 -> long 3 at (2*100 + 103) / 3 = 101;
    # sell 3 @ 105 -> (105 - 101) * 3 contracts * $2 = $24.
    fills = [
        RowFill(fill("1", Side.BUY, 2, "100", ct(2025, 12, 1, 9)), (2,)),
        RowFill(fill("2", Side.BUY, 1, "103", ct(2025, 12, 1, 9, 5)), (3,)),
        RowFill(fill("3", Side.SELL, 3, "105", ct(2025, 12, 1, 9, 10)), (4,)),
    ]
    # Act
    result = round_trips_from_fills(fills, POINT_VALUES)
    # Assert
    (only,) = result.trips
    assert only.side is Side.BUY
    assert only.qty == 3
    assert only.pnl == Decimal(24)
    assert only.opened_at == ct(2025, 12, 1, 9)
    assert only.closed_at == ct(2025, 12, 1, 9, 10)
    assert only.rows == (2, 3, 4)
    assert (only.entry_price, only.exit_price) == (Decimal(101), Decimal(105))
    assert result.open_positions == {}


def test_reversal_when_filled_then_closes_one_round_trip_and_opens_the_next() -> None:
    # sell 1 @ 105 opens short 1; buy 2 @ 100 closes it: (100 - 105) * 1 * $2 * -1 = +$10,
    # and opens long 1 @ 100; sell 1 @ 99 closes that: (99 - 100) * 1 * $2 = -$2.
    fills = [
        RowFill(fill("1", Side.SELL, 1, "105", ct(2025, 12, 1, 9)), (2,)),
        RowFill(fill("2", Side.BUY, 2, "100", ct(2025, 12, 1, 9, 1)), (3,)),
        RowFill(fill("3", Side.SELL, 1, "99", ct(2025, 12, 1, 9, 2)), (4,)),
    ]
    result = round_trips_from_fills(fills, POINT_VALUES)
    short, long_ = result.trips
    assert (short.side, short.qty, short.pnl, short.rows) == (Side.SELL, 1, Decimal(10), (2, 3))
    assert (long_.side, long_.qty, long_.pnl, long_.rows) == (Side.BUY, 1, Decimal(-2), (3, 4))
    assert long_.opened_at == ct(2025, 12, 1, 9, 1)
    # The reversal's 2 @ 100: 1 closes the short (its exit), 1 opens the long.
    assert (short.entry_price, short.exit_price) == (Decimal(105), Decimal(100))
    assert (long_.entry_price, long_.exit_price) == (Decimal(100), Decimal(99))


def test_position_open_at_the_end_when_paired_then_left_out_and_reported() -> None:
    fills = [
        RowFill(fill("1", Side.BUY, 1, "100", ct(2025, 12, 1, 9))),
        RowFill(fill("2", Side.SELL, 1, "101", ct(2025, 12, 1, 9, 1))),
        RowFill(fill("3", Side.BUY, 2, "100", ct(2025, 12, 1, 9, 2))),
    ]
    result = round_trips_from_fills(fills, POINT_VALUES)
    assert [t.pnl for t in result.trips] == [Decimal(2)]
    assert result.open_positions == {"MNQZ5": 2}


def test_two_contracts_when_interleaved_then_paired_separately_by_close_time() -> None:
    # NQ: (110 - 100) * $20 = $200 closes second; MNQ: (101 - 100) * $2 = $2 closes first.
    fills = [
        RowFill(fill("1", Side.BUY, 1, "100", ct(2025, 12, 1, 9), symbol="NQZ5")),
        RowFill(fill("2", Side.BUY, 1, "100", ct(2025, 12, 1, 9, 1))),
        RowFill(fill("3", Side.SELL, 1, "101", ct(2025, 12, 1, 9, 2))),
        RowFill(fill("4", Side.SELL, 1, "110", ct(2025, 12, 1, 9, 3), symbol="NQZ5")),
    ]
    result = round_trips_from_fills(fills, POINT_VALUES)
    assert [(t.symbol, t.pnl) for t in result.trips] == [
        ("MNQZ5", Decimal(2)), ("NQZ5", Decimal(200)),
    ]


def test_unknown_root_when_paired_then_value_error_names_the_contract() -> None:
    fills = [RowFill(fill("1", Side.BUY, 1, "100", ct(2025, 12, 1, 9), symbol="ZBZ5"))]
    with pytest.raises(ValueError, match="ZBZ5"):
        round_trips_from_fills(fills, POINT_VALUES)


def test_average_entry_that_does_not_terminate_then_pnl_is_still_exact() -> None:
    # MES ($5/point): buy 100, 100.25, 100.25 (average 100.1666...), sell 3 @ 101:
    # cash flow (3 * 101 - 300.50) * $5 = 2.50 * 5 = $12.50 exactly.
    fills = [
        RowFill(fill("1", Side.BUY, 1, "100", ct(2025, 12, 1, 9), symbol="MESZ5")),
        RowFill(fill("2", Side.BUY, 1, "100.25", ct(2025, 12, 1, 9, 1), symbol="MESZ5")),
        RowFill(fill("3", Side.BUY, 1, "100.25", ct(2025, 12, 1, 9, 2), symbol="MESZ5")),
        RowFill(fill("4", Side.SELL, 3, "101", ct(2025, 12, 1, 9, 3), symbol="MESZ5")),
    ]
    (only,) = round_trips_from_fills(fills, {"MES": Decimal(5)}).trips
    assert only.pnl == Decimal("12.50")
