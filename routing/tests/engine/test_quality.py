"""Copy quality figures (routing.engine.quality): slippage worked by hand
from CME contract specs, percentiles against PostgreSQL's percentile_cont.

Specs (CME): MNQ tick 0.25 = $0.50; ES tick 0.25 = $12.50; CL tick 0.01 = $10.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.engine.quality import percentile, slippage_cost
from routing.engine.types import Side

MNQ = {"tick_size": Decimal("0.25"), "tick_value": Decimal("0.50")}
ES = {"tick_size": Decimal("0.25"), "tick_value": Decimal("12.50")}
CL = {"tick_size": Decimal("0.01"), "tick_value": Decimal("10")}


def test_buy_filled_above_the_leader_then_a_cost_of_two_ticks_one_dollar_per_contract() -> None:
    # Leader buys MNQ at 21,500.25, the follower fills at 21,500.75:
    # 0.50 points / 0.25 = 2 ticks x $0.50 = $1.00 per contract.
    cost = slippage_cost(
        side=Side.BUY,
        fill_price=Decimal("21500.75"),
        leader_price=Decimal("21500.25"),
        **MNQ,
    )
    assert (cost.points, cost.ticks, cost.per_contract) == (
        Decimal("0.50"),
        Decimal(2),
        Decimal("1.00"),
    )
    assert cost.dollars(3) == Decimal("3.00")


def test_sell_filled_below_the_leader_then_a_cost() -> None:
    # Selling ES 2 ticks under the leader's 5,400.50: 0.50 pt = 2 ticks x $12.50 = $25.
    cost = slippage_cost(
        side=Side.SELL, fill_price=Decimal("5400.00"), leader_price=Decimal("5400.50"), **ES
    )
    assert (cost.ticks, cost.per_contract) == (Decimal(2), Decimal("25.00"))


def test_price_improvement_then_a_negative_cost() -> None:
    # Buying MNQ one tick under the leader: -1 tick, -$0.50 per contract.
    buy = slippage_cost(
        side=Side.BUY, fill_price=Decimal("21500.00"), leader_price=Decimal("21500.25"), **MNQ
    )
    # Selling CL 3 ticks above the leader's 71.20: -3 ticks x $10 = -$30 per contract.
    sell = slippage_cost(
        side=Side.SELL, fill_price=Decimal("71.23"), leader_price=Decimal("71.20"), **CL
    )
    assert (buy.ticks, buy.per_contract) == (Decimal(-1), Decimal("-0.50"))
    assert (sell.ticks, sell.per_contract) == (Decimal(-3), Decimal("-30"))


def test_an_average_between_ticks_keeps_the_fraction() -> None:
    # 3 contracts at 21,500.25, 21,500.50, 21,500.50: average 21,500.4166…
    # against 21,500.25: 2/3 tick, $0.3333… per contract, $1.00 over the three.
    avg = (Decimal("21500.25") + Decimal("21500.50") * 2) / 3
    cost = slippage_cost(side=Side.BUY, fill_price=avg, leader_price=Decimal("21500.25"), **MNQ)
    assert cost.ticks.quantize(Decimal("0.0001")) == Decimal("0.6667")
    assert cost.dollars(3).quantize(Decimal("0.01")) == Decimal("1.00")


@pytest.mark.parametrize("field", ["tick_size", "tick_value"])
def test_a_tick_that_is_not_positive_then_an_error_naming_it(field: str) -> None:
    spec = {**MNQ, field: Decimal(0)}
    with pytest.raises(ValueError, match=field):
        slippage_cost(side=Side.BUY, fill_price=Decimal(1), leader_price=Decimal(1), **spec)


def test_percentiles_of_one_to_ten_as_percentile_cont() -> None:
    # percentile_cont: rank = fraction x (n - 1), interpolated. Of 1..10:
    # p50 = 5 + 0.5 x (6 - 5) = 5.5; p99 rank 8.91 -> 9 + 0.91 x 1 = 9.91.
    values = [Decimal(v) for v in (7, 3, 10, 1, 9, 2, 8, 5, 4, 6)]
    assert percentile(values, Decimal("0.5")) == Decimal("5.5")
    assert percentile(values, Decimal("0.99")) == Decimal("9.91")
    assert percentile(values, Decimal(0)) == Decimal(1)
    assert percentile(values, Decimal(1)) == Decimal(10)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([Decimal("1.25")], Decimal("0.99")) == Decimal("1.25")


def test_percentile_of_nothing_or_outside_zero_to_one_then_error() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        percentile([], Decimal("0.5"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([Decimal(1)], Decimal("1.01"))


@given(
    st.lists(st.decimals(min_value=-1000, max_value=1000, places=3), min_size=1, max_size=50),
    st.decimals(min_value=0, max_value=1, places=3),
)
def test_a_percentile_lies_between_the_smallest_and_largest_value(
    values: list[Decimal], fraction: Decimal
) -> None:
    assert min(values) <= percentile(values, fraction) <= max(values)
