"""Properties of round trips rebuilt from generated fills (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pilots.tests.factories import ct, fill
from pilots.trades import RowFill, round_trips_from_fills
from routing.engine.positions import Position
from routing.engine.types import Side

MNQ = {"MNQ": Decimal(2)}
legs = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 5),
              st.integers(80_000, 80_100)),  # price in ticks of 0.25
    min_size=1, max_size=40,
)


def fills_of(steps: list[tuple[Side, int, int]]) -> list[RowFill]:
    start = ct(2025, 12, 1, 9)
    return [
        RowFill(fill(str(i), side, qty, str(Decimal(ticks) / 4), start + timedelta(seconds=i)),
                (i + 2,))
        for i, (side, qty, ticks) in enumerate(steps)
    ]


@given(legs)
def test_trip_pnl_adds_up_to_the_engines_realized_pnl(steps: list[tuple[Side, int, int]]) -> None:
    fills = fills_of(steps)
    result = round_trips_from_fills(fills, MNQ)
    position = Position()
    for item in fills:
        position, _ = position.apply_fill(item.fill.side, item.fill.qty, item.fill.price,
                                          Decimal(2))
    if position.qty == 0:
        # Flat at the end: every contract is in a closed round trip.
        total = sum((t.pnl for t in result.trips), Decimal(0))
        assert abs(total - position.realized_pnl) < Decimal("1e-12")
        assert result.open_positions == {}
    else:
        assert result.open_positions == {"MNQZ5": position.qty}


@given(legs)
def test_trips_are_well_formed(steps: list[tuple[Side, int, int]]) -> None:
    result = round_trips_from_fills(fills_of(steps), MNQ)
    for trip in result.trips:
        assert trip.qty > 0
        assert trip.opened_at is not None and trip.opened_at <= trip.closed_at
        assert trip.rows == tuple(sorted(set(trip.rows)))
        # A trip's PnL is a whole number of ticks: ticks of 0.25 x $2 = $0.50.
        assert trip.pnl % Decimal("0.5") == 0


@given(legs)
def test_trip_prices_average_its_fills_and_explain_its_pnl(
    steps: list[tuple[Side, int, int]],
) -> None:
    fills = fills_of(steps)
    low, high = min(f.fill.price for f in fills), max(f.fill.price for f in fills)
    for trip in round_trips_from_fills(fills, MNQ).trips:
        assert trip.entry_price is not None and trip.exit_price is not None
        assert low <= trip.entry_price <= high and low <= trip.exit_price <= high
        # Flat to flat: as many contracts closed as opened, so the PnL is
        # (exit - entry) x those contracts x $2, long or short.
        move = (trip.exit_price - trip.entry_price) * trip.side.sign * 2
        if move == 0:
            assert abs(trip.pnl) < Decimal("1e-12")
        else:
            contracts = trip.pnl / move
            assert abs(contracts - contracts.to_integral_value()) < Decimal("1e-12")
            assert contracts.to_integral_value() >= trip.qty
