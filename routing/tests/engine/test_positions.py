"""Net position accounting: worked examples and properties.

Point values from routing/contract_specs.py: MNQ $2/pt, NQ $20/pt.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.contract_specs import CME_CONTRACT_SPECS
from routing.engine.positions import Position
from routing.engine.types import Side

MNQ_PV = D("2")
NQ_PV = D("20")


def _apply_all(
    fills: list[tuple[Side, int, D]], point_value: D, start: Position | None = None
) -> tuple[Position, D]:
    """Apply fills in order; return the final position and the summed per-fill realized."""
    position = start or Position()
    realized_sum = D(0)
    for side, qty, price in fills:
        position, realized = position.apply_fill(side, qty, price, point_value)
        realized_sum += realized
    return position, realized_sum


# -- worked examples ----------------------------------------------------------


def test_adding_keeps_qty_weighted_average_then_closing_realizes() -> None:
    # Arrange: long 2 MNQ @ 21539.50 and 1 @ 21540.25
    #   avg = (2 * 21539.50 + 1 * 21540.25) / 3 = 64619.25 / 3 = 21539.75
    position, realized_on_entry = _apply_all(
        [(Side.BUY, 2, D("21539.50")), (Side.BUY, 1, D("21540.25"))], MNQ_PV
    )
    assert position == Position(qty=3, avg_price=D("21539.75"), realized_pnl=D(0))
    assert realized_on_entry == 0

    # Act: sell 3 @ 21535.75
    #   realized = (21535.75 - 21539.75) * 3 contracts * $2/pt * (+1 long) = -4 * 6 = -24.00
    flat, realized = position.apply_fill(Side.SELL, 3, D("21535.75"), MNQ_PV)

    # Assert
    assert realized == D("-24.00")
    assert flat == Position(qty=0, avg_price=D(0), realized_pnl=D("-24.00"))
    assert flat.is_flat


def test_partial_reduce_realizes_closed_part_and_keeps_average() -> None:
    # long 3 MNQ @ 21539.75; sell 1 @ 21541.00 -> (21541.00 - 21539.75) * 1 * 2 = +2.50
    position = Position(qty=3, avg_price=D("21539.75"))

    reduced, realized = position.apply_fill(Side.SELL, 1, D("21541.00"), MNQ_PV)

    assert realized == D("2.50")
    assert reduced == Position(qty=2, avg_price=D("21539.75"), realized_pnl=D("2.50"))


def test_fill_larger_than_position_reverses_at_fill_price() -> None:
    # long 2 MNQ @ 21539.50; sell 5 @ 21545.00
    #   closes 2: (21545.00 - 21539.50) * 2 * 2 = 5.50 * 4 = +22.00
    #   opens short 3 @ 21545.00
    position = Position(qty=2, avg_price=D("21539.50"))

    reversed_, realized = position.apply_fill(Side.SELL, 5, D("21545.00"), MNQ_PV)

    assert realized == D("22.00")
    assert reversed_ == Position(qty=-3, avg_price=D("21545.00"), realized_pnl=D("22.00"))


def test_short_profits_when_price_falls_and_loses_above_entry() -> None:
    # short 2 NQ @ 21538.75; buy 1 back @ 21535.75
    #   realized = (21535.75 - 21538.75) * 1 * $20 * (-1 short) = -3 * -20 = +60.00
    position, _ = _apply_all([(Side.SELL, 2, D("21538.75"))], NQ_PV)
    assert position == Position(qty=-2, avg_price=D("21538.75"))

    reduced, realized = position.apply_fill(Side.BUY, 1, D("21535.75"), NQ_PV)

    assert realized == D("60.00")
    assert reduced == Position(qty=-1, avg_price=D("21538.75"), realized_pnl=D("60.00"))
    # unrealized at 21540.00: (21540.00 - 21538.75) * -1 * 20 = -25.00
    assert reduced.unrealized_pnl(D("21540.00"), NQ_PV) == D("-25.00")
    # at 21530.00: (21530.00 - 21538.75) * -1 * 20 = +175.00
    assert reduced.unrealized_pnl(D("21530.00"), NQ_PV) == D("175.00")


def test_long_nq_one_lot_loss_in_dollars() -> None:
    # buy 1 NQ @ 21538.75, sell @ 21535.75: -3 pt * $20 = -60.00
    position, realized = _apply_all(
        [(Side.BUY, 1, D("21538.75")), (Side.SELL, 1, D("21535.75"))], NQ_PV
    )
    assert realized == D("-60.00")
    assert position.realized_pnl == D("-60.00")
    assert position.is_flat


def test_average_is_not_quantized() -> None:
    # buy 1 @ 100.00 and 2 @ 100.25: avg = 300.50 / 3 = 100.1666... (not a tick)
    position, _ = _apply_all([(Side.BUY, 1, D("100.00")), (Side.BUY, 2, D("100.25"))], MNQ_PV)
    assert position.avg_price == D("300.50") / 3
    assert position.avg_price != D("100.17")


def test_unrealized_when_flat_is_zero() -> None:
    assert Position().unrealized_pnl(D("21540.00"), MNQ_PV) == 0


def test_realized_accumulates_across_round_trips() -> None:
    # +2.00 (1 MNQ 100.00 -> 101.00), then -1.00 (1 MNQ short 101.00 -> 101.50)
    position, realized_sum = _apply_all(
        [
            (Side.BUY, 1, D("100.00")),
            (Side.SELL, 1, D("101.00")),
            (Side.SELL, 1, D("101.00")),
            (Side.BUY, 1, D("101.50")),
        ],
        MNQ_PV,
    )
    assert position == Position(qty=0, avg_price=D(0), realized_pnl=D("1.00"))
    assert realized_sum == D("1.00")


@pytest.mark.parametrize("qty", [0, -1])
def test_apply_fill_when_qty_not_positive_then_value_error(qty: int) -> None:
    with pytest.raises(ValueError, match="qty must be > 0"):
        Position().apply_fill(Side.BUY, qty, D("100"), MNQ_PV)


def test_apply_fill_when_price_is_float_then_type_error() -> None:
    with pytest.raises(TypeError, match="price must be a Decimal"):
        Position().apply_fill(Side.BUY, 1, 100.25, MNQ_PV)  # type: ignore[arg-type]


def test_apply_fill_when_price_not_finite_then_value_error() -> None:
    with pytest.raises(ValueError, match="finite"):
        Position().apply_fill(Side.BUY, 1, D("NaN"), MNQ_PV)


def test_apply_fill_when_point_value_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match="point_value"):
        Position().apply_fill(Side.BUY, 1, D("100"), D(0))


def test_position_is_immutable_value() -> None:
    position = Position(qty=1, avg_price=D("100"))
    position.apply_fill(Side.BUY, 1, D("101"), MNQ_PV)
    assert position == Position(qty=1, avg_price=D("100"))


# -- properties ---------------------------------------------------------------

_SPECS = st.sampled_from(CME_CONTRACT_SPECS)
_TICKS = st.integers(min_value=-4_000, max_value=4_000_000)  # negative: CL in April 2020
_SIDES = st.sampled_from(list(Side))
_QTYS = st.integers(min_value=1, max_value=60)
# The average carries the Decimal context's 28 significant digits; a non-terminating
# average (a third of a tick) makes the money identities exact to far below this.
_TOLERANCE = D("1e-12")


@st.composite
def _fill_sequences(draw: st.DrawFn) -> tuple[D, D, list[tuple[Side, int, D]], D]:
    spec = draw(_SPECS)
    fills = [
        (draw(_SIDES), draw(_QTYS), draw(_TICKS) * spec.tick_size)
        for _ in range(draw(st.integers(min_value=0, max_value=25)))
    ]
    mark = draw(_TICKS) * spec.tick_size
    return spec.tick_size, spec.point_value, fills, mark


@given(_fill_sequences())
def test_total_pnl_equals_signed_cash_flows_valued_at_mark(
    case: tuple[D, D, list[tuple[Side, int, D]], D],
) -> None:
    _tick, point_value, fills, mark = case

    position, realized_sum = _apply_all(fills, point_value)

    cash = sum((-side.sign * qty * price for side, qty, price in fills), D(0))
    expected_total = (cash + position.qty * mark) * point_value
    total = position.realized_pnl + position.unrealized_pnl(mark, point_value)
    assert abs(total - expected_total) <= _TOLERANCE
    # the per-fill realized amounts add up to the cumulative figure exactly
    assert realized_sum == position.realized_pnl


@given(_fill_sequences())
def test_qty_is_signed_sum_of_fills_and_avg_zero_only_when_flat(
    case: tuple[D, D, list[tuple[Side, int, D]], D],
) -> None:
    _tick, point_value, fills, _mark = case

    position, _ = _apply_all(fills, point_value)

    assert position.qty == sum(side.sign * qty for side, qty, _ in fills)
    if position.is_flat:
        assert position.avg_price == 0
    else:
        prices = [price for _, _, price in fills]
        assert min(prices) <= position.avg_price <= max(prices)


@given(_fill_sequences())
def test_opposite_fill_of_same_qty_leaves_flat(
    case: tuple[D, D, list[tuple[Side, int, D]], D],
) -> None:
    _tick, point_value, fills, mark = case
    position, _ = _apply_all(fills, point_value)
    if position.is_flat:
        return

    closing_side = Side.of_signed(-position.qty)
    flat, realized = position.apply_fill(closing_side, abs(position.qty), mark, point_value)

    assert flat.qty == 0
    assert flat.avg_price == 0
    # closing at the mark realizes exactly what was unrealized at that mark
    assert realized == position.unrealized_pnl(mark, point_value)
    assert flat.realized_pnl == position.realized_pnl + realized
