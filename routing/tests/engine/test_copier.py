"""Worked examples for ``decide_copies``: every number computed by hand.

Target = |leader position after| x copy value x ratio [x balance share]
[x conversion rate], rounded by the group's rule; order = target - tracked
position. Specs are the project's CME table (MES $5/pt, ES $50/pt, MNQ $2/pt,
NQ $20/pt).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.orders import client_order_id
from routing.engine.types import (
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    PartialExit,
    RiskLimits,
    RoundingMode,
    Side,
    SizingBasis,
    SizingMode,
)

D = Decimal
ROUTE = "route-1"


def _move(before: int, after: int, symbol: str = "MNQZ6", price: str = "21000") -> LeaderMove:
    return LeaderMove(
        event_key="LEAD:fill-1", symbol=symbol, before=before, after=after, price=D(price)
    )


def _group(**kw: object) -> GroupConfig:
    kw.setdefault("copy_mode", CopyMode.MULTIPLIER)
    kw.setdefault("copy_value", D(1))
    return GroupConfig(**kw)  # type: ignore[arg-type]


def _follower(ratio: str = "1", held: dict[str, int] | None = None, **kw: object) -> FollowerState:
    return FollowerState(key="f1", ratio=D(ratio), positions=held or {}, **kw)  # type: ignore[arg-type]


def _one(
    move: LeaderMove, group: GroupConfig, follower: FollowerState, **kw: object
) -> CopyDecision:
    [decision] = decide_copies(move, group, [follower], SPECS_BY_ROOT, route_key=ROUTE, **kw)  # type: ignore[arg-type]
    return decision


# -- no rounding drift -----------------------------------------------------------


def test_ten_one_lot_fills_at_ratio_0_3_end_at_3_lots() -> None:
    # floor(n x 0.3) for n = 1..10: 0 0 0 1 1 1 2 2 2 3 -> buys at n = 4, 7, 10.
    held, sent_at = 0, []
    for n in range(1, 11):
        d = _one(_move(n - 1, n), _group(), _follower("0.3", {"MNQZ6": held}))
        if d.status is DecisionStatus.SEND:
            sent_at.append(n)
            assert (d.side, d.qty) == (Side.BUY, 1)
        held = d.target
    assert held == 3
    assert sent_at == [4, 7, 10]


def test_two_lot_order_filled_one_plus_one_copies_one_at_ratio_half() -> None:
    first = _one(_move(0, 1), _group(), _follower("0.5"))
    assert first.status is DecisionStatus.SKIPPED  # floor(0.5) = 0
    second = _one(_move(1, 2), _group(), _follower("0.5", {"MNQZ6": 0}))
    assert (second.status, second.qty, second.target) == (DecisionStatus.SEND, 1, 1)


def test_scale_out_rounds_exit_up_by_default() -> None:
    # Leader 10 -> 5 at 0.3: target floor(1.5) = 1, follower 3 -> 1: sell 2 (exit 1.5 up to 2).
    d = _one(_move(10, 5), _group(), _follower("0.3", {"MNQZ6": 3}))
    assert (d.side, d.qty, d.target, d.intent) == (Side.SELL, 2, 1, Intent.EXIT)
    assert "exit rounds up" in d.reason


def test_always_down_rounds_the_exit_down() -> None:
    # Leader 10 -> 5 at 0.3: raw 1.5, exit of 1.5 rounds down to 1: target ceil(1.5) = 2.
    d = _one(
        _move(10, 5), _group(rounding=RoundingMode.ALWAYS_DOWN), _follower("0.3", {"MNQZ6": 3})
    )
    assert (d.side, d.qty, d.target) == (Side.SELL, 1, 2)


def test_nearest_rounds_half_up() -> None:
    # Leader 0 -> 5 at 0.3: 1.5 -> 2.
    d = _one(_move(0, 5), _group(rounding=RoundingMode.NEAREST), _follower("0.3"))
    assert (d.qty, d.target) == (2, 2)


def test_leader_flat_closes_every_tracked_contract() -> None:
    d = _one(_move(7, 0), _group(), _follower("0.3", {"MNQZ6": 2}))
    assert (d.side, d.qty, d.target, d.intent) == (Side.SELL, 2, 0, Intent.EXIT)


def test_reversal_closes_and_opens_in_one_order() -> None:
    # Leader +4 -> -6 at 0.5: target -3; follower +2 -> -3: sell 5.
    d = _one(_move(4, -6), _group(), _follower("0.5", {"MNQZ6": 2}))
    assert (d.side, d.qty, d.target, d.intent) == (Side.SELL, 5, -3, Intent.REVERSAL)


def test_exit_never_adds_to_an_opposite_position() -> None:
    # Follower short 1 (a desync) while the leader is long and scales out.
    d = _one(_move(4, 2), _group(), _follower("1", {"MNQZ6": -1}))
    assert d.status is DecisionStatus.SKIPPED
    assert d.target == -1
    assert "opposite" in d.reason


def test_entry_never_reduces_a_larger_follower() -> None:
    d = _one(_move(2, 3), _group(), _follower("1", {"MNQZ6": 5}))
    assert (d.status, d.target) == (DecisionStatus.SKIPPED, 5)


# -- copy modes and sizing basis -------------------------------------------------


def test_fixed_mode_holds_copy_value_times_ratio_whatever_the_leader_size() -> None:
    # Fixed 2 x 1.5 = 3 on the leader's first contract; adding more changes nothing.
    group = _group(copy_mode=CopyMode.FIXED, copy_value=D(2))
    first = _one(_move(0, 1), group, _follower("1.5"))
    assert (first.qty, first.target) == (3, 3)
    again = _one(_move(1, 4), group, _follower("1.5", {"MNQZ6": 3}))
    assert again.status is DecisionStatus.SKIPPED


def test_fixed_mode_scale_out_reduces_by_the_leader_share() -> None:
    # Leader 4 -> 1 keeps 1/4: 3 x 1/4 = 0.75 -> 0 (exit rounds up): sell 3.
    group = _group(copy_mode=CopyMode.FIXED, copy_value=D(2))
    d = _one(_move(4, 1), group, _follower("1.5", {"MNQZ6": 3}))
    assert (d.side, d.qty, d.target) == (Side.SELL, 3, 0)


def test_copy_value_multiplies_the_leader_size() -> None:
    # 3 x 2 x 0.5 = 3.
    d = _one(_move(0, 3), _group(copy_value=D(2)), _follower("0.5"))
    assert d.target == 3


def test_percent_of_balance_scales_by_follower_over_leader_balance() -> None:
    # 4 x 1 x 1 x 50 000 / 150 000 = 1.33 -> 1.
    group = _group(leader_balance=D(150000))
    follower = _follower("1", sizing_basis=SizingBasis.PERCENT_OF_BALANCE, balance=D(50000))
    d = _one(_move(0, 4), group, follower)
    assert (d.qty, d.target) == (1, 1)
    assert "50000/150000" in d.reason


def test_percent_of_balance_without_a_balance_is_blocked() -> None:
    follower = _follower("1", sizing_basis=SizingBasis.PERCENT_OF_BALANCE, balance=D(50000))
    d = _one(_move(0, 4), _group(), follower)
    assert (d.status, d.qty) == (DecisionStatus.BLOCKED, 0)
    assert "balance" in d.reason


# -- conversions, mappings, auto micro -------------------------------------------


def test_mapping_es_to_mes_in_contracts_mode_copies_the_count() -> None:
    d = _one(_move(0, 2, "ESZ6", "6000"), _group(mappings=(("ES", "MES"),)), _follower())
    assert (d.symbol, d.qty) == ("MESZ6", 2)


def test_notional_mapping_es_to_mes_preserves_dollars_per_point() -> None:
    # 2 ES x 1 x 0.5 x (50 / 5) = 10 MES.
    group = _group(mappings=(("ES", "MES"),), sizing_mode=SizingMode.NOTIONAL)
    d = _one(_move(0, 2, "ESZ6", "6000"), group, _follower("0.5"))
    assert (d.symbol, d.qty, d.side) == ("MESZ6", 10, Side.BUY)


def test_notional_mapping_micro_to_mini_rounds_down() -> None:
    # 15 MNQ x (2 / 20) = 1.5 NQ -> 1; the contract month carries over.
    group = _group(mappings=(("MNQ", "NQ"),), sizing_mode=SizingMode.NOTIONAL)
    d = _one(_move(0, 15, "MNQH7"), group, _follower())
    assert (d.symbol, d.qty) == ("NQH7", 1)


def test_notional_across_underlyings_needs_both_prices() -> None:
    group = _group(mappings=(("NQ", "ES"),), sizing_mode=SizingMode.NOTIONAL)
    blocked = _one(_move(0, 1, "NQZ6", "21000"), group, _follower("2"))
    assert blocked.status is DecisionStatus.BLOCKED
    assert "no price for ESZ6" in blocked.reason
    # 1 NQ = 21000 x 20 = 420 000; 1 ES = 6000 x 50 = 300 000: 2 x 1.4 = 2.8 -> 2.
    priced = _one(_move(0, 1, "NQZ6", "21000"), group, _follower("2"), marks={"ESZ6": D(6000)})
    assert (priced.symbol, priced.qty) == ("ESZ6", 2)


def test_unknown_product_is_blocked_not_guessed() -> None:
    d = _one(_move(0, 1, "ZZZZ6"), _group(), _follower())
    assert (d.status, d.qty) == (DecisionStatus.BLOCKED, 0)
    assert "no contract spec for ZZZ" in d.reason


def test_mapping_to_a_product_without_spec_is_blocked() -> None:
    d = _one(_move(0, 1, "ESZ6"), _group(mappings=(("ES", "XX"),)), _follower())
    assert d.status is DecisionStatus.BLOCKED
    assert "no contract spec for XX" in d.reason


def test_auto_micro_resizes_an_entry_that_rounds_to_zero_on_the_mini() -> None:
    # 1 ES x 0.5 = 0.5 -> 0 ES; on the micro 0.5 x 10 = 5 MES.
    group = _group(auto_micro=True)
    d = _one(_move(0, 1, "ESZ6", "6000"), group, _follower("0.5"))
    assert (d.symbol, d.qty, d.target) == ("MESZ6", 5, 5)
    assert "auto micro" in d.reason


def test_auto_micro_stays_on_the_micro_until_flat() -> None:
    group = _group(auto_micro=True)
    # Leader 1 -> 3 ES: 3 x 0.5 = 1.5 ES, but the follower holds MES: 15 MES, buy 10.
    add = _one(_move(1, 3, "ESZ6", "6000"), group, _follower("0.5", {"MESZ6": 5}))
    assert (add.symbol, add.qty, add.target) == ("MESZ6", 10, 15)
    flat = _one(_move(3, 0, "ESZ6", "6000"), group, _follower("0.5", {"MESZ6": 15}))
    assert (flat.symbol, flat.side, flat.qty, flat.target) == ("MESZ6", Side.SELL, 15, 0)


def test_auto_micro_off_keeps_the_zero() -> None:
    d = _one(_move(0, 1, "ESZ6", "6000"), _group(), _follower("0.5"))
    assert (d.symbol, d.status) == ("ESZ6", DecisionStatus.SKIPPED)


def test_auto_micro_uses_the_mini_when_it_rounds_to_one() -> None:
    d = _one(_move(0, 2, "ESZ6", "6000"), _group(auto_micro=True), _follower("0.5"))
    assert (d.symbol, d.qty) == ("ESZ6", 1)


# -- partial exits, pauses, quarantine, risk ----------------------------------------


def test_exit_with_leader_ignores_partials_and_closes_on_flat() -> None:
    group = _group(partial_exit=PartialExit.EXIT_WITH_LEADER)
    partial = _one(_move(4, 2), group, _follower("1", {"MNQZ6": 4}))
    assert (partial.status, partial.target) == (DecisionStatus.SKIPPED, 4)
    flat = _one(_move(2, 0), group, _follower("1", {"MNQZ6": 4}))
    assert (flat.side, flat.qty, flat.target) == (Side.SELL, 4, 0)


def test_paused_follower_copies_exits_not_entries() -> None:
    entry = _one(_move(0, 2), _group(), _follower("1", enabled=False))
    assert (entry.status, entry.qty) == (DecisionStatus.SKIPPED, 0)
    assert "follower paused" in entry.reason
    out = _one(_move(2, 0), _group(), _follower("1", {"MNQZ6": 2}, enabled=False))
    assert (out.status, out.qty) == (DecisionStatus.SEND, 2)


def test_paused_route_copies_exits_not_entries() -> None:
    entry = _one(_move(0, 2), _group(enabled=False), _follower())
    assert entry.status is DecisionStatus.SKIPPED
    out = _one(_move(2, 1), _group(enabled=False), _follower("1", {"MNQZ6": 2}))
    assert (out.side, out.qty) == (Side.SELL, 1)


def test_quarantined_symbol_blocks_entries_and_lets_exits_through() -> None:
    q = frozenset({"MNQZ6"})
    entry = _one(_move(1, 3), _group(), _follower("1", {"MNQZ6": 1}, quarantined=q))
    assert (entry.status, entry.qty, entry.target) == (DecisionStatus.BLOCKED, 0, 1)
    assert "quarantined" in entry.reason
    out = _one(_move(3, 0), _group(), _follower("1", {"MNQZ6": 1}, quarantined=q))
    assert (out.status, out.qty, out.target) == (DecisionStatus.SEND, 1, 0)


def test_quarantined_flat_follower_never_opens_on_leader_exit() -> None:
    # The entry was rejected, so the follower is flat: the leader's scale-out sends nothing.
    q = frozenset({"MNQZ6"})
    d = _one(_move(4, 2), _group(), _follower("1", quarantined=q))
    assert (d.status, d.qty) == (DecisionStatus.SKIPPED, 0)


def test_quarantine_off_in_the_group_ignores_the_set() -> None:
    d = _one(_move(0, 1), _group(quarantine=False), _follower(quarantined=frozenset({"MNQZ6"})))
    assert (d.status, d.qty) == (DecisionStatus.SEND, 1)


def test_daily_loss_blocks_the_entry_part_of_a_reversal_only() -> None:
    # Leader +2 -> -2; follower +2: the exit of 2 passes, the entry of 2 is blocked.
    follower = _follower(
        "1", {"MNQZ6": 2}, session_pnl=D(-400), limits=RiskLimits(daily_loss=D(375))
    )
    d = _one(_move(2, -2), _group(), follower)
    assert (d.status, d.side, d.qty, d.target) == (DecisionStatus.SEND, Side.SELL, 2, 0)
    assert "daily loss 400.00 \u2265 limit 375.00" in d.reason


def test_max_contracts_blocks_an_oversized_entry() -> None:
    d = _one(_move(0, 6), _group(), _follower("1", limits=RiskLimits(max_contracts=5)))
    assert (d.status, d.qty) == (DecisionStatus.BLOCKED, 0)
    assert "entry 6 contracts > 5 allowed by max contracts per order 5" in d.reason


# -- identity ---------------------------------------------------------------------


def test_client_order_id_is_route_event_follower() -> None:
    d = _one(_move(0, 1), _group(), _follower())
    assert d.client_order_id == client_order_id(ROUTE, "LEAD:fill-1", "f1")


@pytest.mark.parametrize("after", [-3, 0, 3])
def test_decisions_are_deterministic(after: int) -> None:
    args = (_move(1, after), _group(), [_follower("0.7", {"MNQZ6": 1})], SPECS_BY_ROOT)
    assert decide_copies(*args, route_key=ROUTE) == decide_copies(*args, route_key=ROUTE)
