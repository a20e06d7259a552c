"""Contract conversion: mappings, notional rates, micro lookup (routing.engine.conversion)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.conversion import (
    ConversionError,
    follower_contract,
    micro_root,
    same_underlying,
)
from routing.engine.types import CopyMode, GroupConfig, SizingMode

D = Decimal


def _group(mode: SizingMode, *pairs: tuple[str, str]) -> GroupConfig:
    return GroupConfig(CopyMode.MULTIPLIER, D(1), sizing_mode=mode, mappings=pairs)


@pytest.mark.parametrize(
    ("mini", "micro"),
    [("ES", "MES"), ("NQ", "MNQ"), ("YM", "MYM"), ("RTY", "M2K"), ("CL", "MCL"), ("GC", "MGC")],
)
def test_every_issue_pair_has_its_micro(mini: str, micro: str) -> None:
    assert micro_root(mini, SPECS_BY_ROOT) == micro
    assert same_underlying(SPECS_BY_ROOT[mini], SPECS_BY_ROOT[micro])


@pytest.mark.parametrize(
    ("leader", "follower", "rate"),
    [
        ("ESZ6", "MES", D(10)),  # $50 / $5
        ("MNQZ6", "NQ", D("0.1")),  # $2 / $20
        ("YMZ6", "MYM", D(10)),  # $5 / $0.50
        ("RTYZ6", "M2K", D(10)),  # $50 / $5
        ("CLF7", "MCL", D(10)),  # $1000 / $100
        ("GCG7", "MGC", D(10)),  # $100 / $10
    ],
)
def test_notional_rate_is_the_point_value_ratio(leader: str, follower: str, rate: Decimal) -> None:
    conv = follower_contract(
        leader, _group(SizingMode.NOTIONAL, (leader[:-2], follower)), SPECS_BY_ROOT
    )
    assert conv.rate == rate
    assert conv.symbol == follower + leader[-2:]


def test_contracts_mode_keeps_rate_one_but_changes_the_contract() -> None:
    conv = follower_contract("ESZ6", _group(SizingMode.CONTRACTS, ("ES", "MES")), SPECS_BY_ROOT)
    assert (conv.symbol, conv.rate) == ("MESZ6", D(1))


def test_no_mapping_keeps_the_leader_contract() -> None:
    conv = follower_contract("MNQ MAR27", _group(SizingMode.NOTIONAL), SPECS_BY_ROOT)
    assert (conv.symbol, conv.rate) == ("MNQH7", D(1))


def test_cross_underlying_notional_uses_prices() -> None:
    # 1 NQ @ 20000 x $20 = 400 000; 1 ES @ 5000 x $50 = 250 000: rate 1.6.
    conv = follower_contract(
        "NQZ6",
        _group(SizingMode.NOTIONAL, ("NQ", "ES")),
        SPECS_BY_ROOT,
        leader_price=D(20000),
        marks={"ESZ6": D(5000)},
    )
    assert conv.rate == D("1.6")


@pytest.mark.parametrize(
    ("symbol", "group", "message"),
    [
        ("Z", _group(SizingMode.CONTRACTS), "cannot read contract"),
        ("QQZ6", _group(SizingMode.CONTRACTS), "no contract spec for QQ"),
        ("ESZ6", _group(SizingMode.CONTRACTS, ("ES", "QQ")), "no contract spec for QQ"),
        ("NQZ6", _group(SizingMode.NOTIONAL, ("NQ", "ES")), "no price for ESZ6"),
    ],
)
def test_conversion_fails_closed(symbol: str, group: GroupConfig, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        follower_contract(symbol, group, SPECS_BY_ROOT, leader_price=D(1))
