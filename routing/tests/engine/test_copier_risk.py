"""``decide_copies`` with the layer-1 risk checks, end to end.

Every number is computed by hand. Contract specs are written out here from
CME Group's contract specifications (MNQ $2 x index, tick 0.25 = $0.50; ES
$50 x index, tick 0.25 = $12.50; MES $5, tick $1.25; NQ $20, tick $5.00).
The follower order is ``target - held``, split into an exit part (towards
flat, never refused) and an entry part (route level, gates and caps).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.limits import (
    AccountSession,
    Direction,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.engine.types import (
    ContractSpec,
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    Intent,
    Side,
)

D = Decimal
ROUTE = "route-risk"


def _spec(root: str, tick_value: str, point_value: str, micro_of: str | None = None):
    return ContractSpec(
        root=root,
        name=root,
        exchange="CME",
        tick_size=D("0.25"),
        tick_value=D(tick_value),
        point_value=D(point_value),
        micro_of=micro_of,
        currency="USD",
        source="CME Group contract specifications (hand-copied for tests)",
    )


SPECS = {
    s.root: s
    for s in (
        _spec("MNQ", "0.50", "2", "NQ"),  # 0.25 x 2 = 0.50
        _spec("NQ", "5.00", "20"),  # 0.25 x 20 = 5.00
        _spec("ES", "12.50", "50"),  # 0.25 x 50 = 12.50
        _spec("MES", "1.25", "5", "ES"),  # 0.25 x 5 = 1.25
    )
}


def _move(before: int, after: int, symbol: str = "MNQZ6") -> LeaderMove:
    return LeaderMove(
        event_key="LEAD:fill-7", symbol=symbol, before=before, after=after, price=D(21000)
    )


def _group(route: RouteLimits | None = None, **kw: object) -> GroupConfig:
    kw.setdefault("copy_mode", CopyMode.MULTIPLIER)
    kw.setdefault("copy_value", D(1))
    return GroupConfig(limits=route or RouteLimits(), **kw)  # type: ignore[arg-type]


def _follower(
    key: str = "f1",
    positions: dict[str, int] | None = None,
    *,
    ratio: str = "1",
    session_pnl: str = "0",
    enabled: bool = True,
    session: AccountSession | None = None,
    quarantined: frozenset[str] = frozenset(),
    **limits: object,
) -> FollowerState:
    return FollowerState(
        key=key,
        ratio=D(ratio),
        positions=positions or {},
        session_pnl=D(session_pnl),
        limits=RiskLimits(**limits),  # type: ignore[arg-type]
        enabled=enabled,
        session=session or AccountSession(),
        quarantined=quarantined,
    )


def _decide(
    move: LeaderMove, group: GroupConfig, followers: list[FollowerState]
) -> list[CopyDecision]:
    return decide_copies(move, group, followers, SPECS, route_key=ROUTE)


def _one(move: LeaderMove, group: GroupConfig, follower: FollowerState) -> CopyDecision:
    [decision] = _decide(move, group, [follower])
    return decision


def _outcome(d: CopyDecision) -> tuple[DecisionStatus, int, int, int | None]:
    return d.status, d.qty, d.target, d.scaled_from


SEND, BLOCKED, SKIPPED = DecisionStatus.SEND, DecisionStatus.BLOCKED, DecisionStatus.SKIPPED


# -- scaling and blocking ------------------------------------------------------------


def test_scaled_entry_sends_what_fits_and_records_the_requested_size() -> None:
    # Leader 0 -> 6 at ratio 1: entry 6; max 4 per order, scale down: buy 4.
    d = _one(_move(0, 6), _group(), _follower(max_contracts=4, on_breach=OnBreach.SCALE_DOWN))
    assert _outcome(d) == (SEND, 4, 4, 6)
    assert d.side is Side.BUY
    assert d.intent is Intent.ENTRY
    assert "entry scaled down 6 \u2192 4: max contracts per order 4" in d.reason
    assert d.reason.endswith("holds +0, target +6 (capped at +4): buy 4")


def test_blocked_entry_sends_nothing_and_names_the_cap() -> None:
    d = _one(_move(0, 6), _group(), _follower(max_contracts=4))
    assert _outcome(d) == (BLOCKED, 0, 0, None)
    assert (
        "entry of 6 not sent: blocked: entry 6 contracts > 4 allowed by max contracts per order 4"
        in d.reason
    )


def test_an_entry_that_fits_is_not_marked_scaled() -> None:
    d = _one(_move(0, 4), _group(), _follower(max_contracts=4, on_breach=OnBreach.SCALE_DOWN))
    assert _outcome(d) == (SEND, 4, 4, None)
    assert "scaled" not in d.reason


def test_scaled_reversal_sends_the_whole_exit_and_part_of_the_entry() -> None:
    # Leader +3 -> -5, follower +3: exit 3 + entry 5; max position 2 -> entry 2: sell 5.
    follower = _follower(positions={"MNQZ6": 3}, max_position=2, on_breach=OnBreach.SCALE_DOWN)
    d = _one(_move(3, -5), _group(), follower)
    assert _outcome(d) == (SEND, 5, -2, 5)
    assert (d.side, d.intent) == (Side.SELL, Intent.REVERSAL)
    assert "entry scaled down 5 \u2192 2: max contracts per position 2 (holds 0)" in d.reason


def test_blocked_reversal_still_closes_the_old_side() -> None:
    # Same move, block mode: the exit of 3 goes, the entry of 5 does not: sell 3, flat.
    follower = _follower(positions={"MNQZ6": 3}, max_position=2)
    d = _one(_move(3, -5), _group(), follower)
    assert _outcome(d) == (SEND, 3, 0, None)
    assert d.side is Side.SELL
    assert "entry of 5 not sent: blocked: entry 5 contracts > 2 allowed by" in d.reason


def test_exposure_cap_on_es_scales_with_real_tick_values() -> None:
    # Route stop 8 ticks: 8 x 12.50 = 100.00 per ES; exposure cap 1 000 -> 10 ES.
    # Leader 0 -> 12 ES at ratio 1: scaled to 10.
    group = _group(RouteLimits(stop_ticks=8))
    follower = _follower(exposure_cap=D(1000), on_breach=OnBreach.SCALE_DOWN)
    d = _one(_move(0, 12, "ESZ6"), group, follower)
    assert _outcome(d) == (SEND, 10, 10, 12)
    assert "exposure cap 1,000.00 (exposure 0.00, 100.00 risk per contract)" in d.reason


def test_exposure_cap_counts_the_other_contract_held() -> None:
    # Stop 8 + slippage 2 = 10 ticks: ES 10 x 12.50 = 125.00, MNQ 10 x 0.50 = 5.00.
    # Holds 1 ES: exposure 125; cap 200 leaves 75 / 5 = 15 MNQ. Leader 0 -> 20 MNQ.
    group = _group(RouteLimits(stop_ticks=8, slippage_ticks=2))
    follower = _follower(positions={"ESZ6": 1}, exposure_cap=D(200), on_breach=OnBreach.SCALE_DOWN)
    d = _one(_move(0, 20), group, follower)
    assert _outcome(d) == (SEND, 15, 15, 20)
    assert "exposure cap 200.00 (exposure 125.00, 5.00 risk per contract)" in d.reason


def test_position_cap_percent_of_balance_end_to_end() -> None:
    # 0.5% of 44 000 = 220 dollars; MNQ (20 + 2) x 0.50 = 11 per contract: 220 / 11 = 20.
    group = _group(RouteLimits(stop_ticks=20, slippage_ticks=2))
    follower = FollowerState(
        key="f1",
        ratio=D(1),
        balance=D(44000),
        limits=RiskLimits(position_cap_pct=D("0.5")),
    )
    assert _outcome(_one(_move(0, 20), group, follower)) == (SEND, 20, 20, None)
    blocked = _one(_move(0, 21), group, follower)
    assert _outcome(blocked) == (BLOCKED, 0, 0, None)
    assert (
        "entry 21 contracts > 20 allowed by position cap 0.5% of balance 44,000.00 = 220.00 "
        "at 11.00 risk per contract (holds 0)" in blocked.reason
    )


def test_max_open_positions_refuses_a_new_contract_but_not_an_add() -> None:
    # Holds 1 ES; max 1 open position: a new MNQ position is refused, adding ES is not.
    follower = _follower(positions={"ESZ6": 1}, max_open_positions=1)
    mnq = _one(_move(0, 1), _group(), follower)
    assert _outcome(mnq) == (BLOCKED, 0, 0, None)
    assert "open positions 1 ≥ max open positions 1" in mnq.reason
    es = _one(_move(1, 2, "ESZ6"), _group(), follower)
    assert _outcome(es) == (SEND, 1, 2, None)


# -- the route's total contracts, shared in one event --------------------------------


def test_route_total_is_taken_by_the_first_followers_scale_mode() -> None:
    # Route total 5, three flat followers, leader 0 -> 2 at ratio 1 (2 each):
    # f1 room 5 -> 2 (total 2); f2 room 3 -> 2 (total 4); f3 room 1 -> scaled 2 -> 1.
    group = _group(RouteLimits(max_total_contracts=5))
    followers = [_follower(k, on_breach=OnBreach.SCALE_DOWN) for k in ("f1", "f2", "f3")]
    d1, d2, d3 = _decide(_move(0, 2), group, followers)
    assert _outcome(d1) == (SEND, 2, 2, None)
    assert _outcome(d2) == (SEND, 2, 2, None)
    assert _outcome(d3) == (SEND, 1, 1, 2)
    assert "route max total contracts 5 (followers hold 4)" in d3.reason


def test_route_total_is_taken_by_the_first_followers_block_mode() -> None:
    # Same route, f3 blocks: 2 > 1 room. f4 (scale mode) after it: room still 1 -> 1.
    group = _group(RouteLimits(max_total_contracts=5))
    followers = [
        _follower("f1"),
        _follower("f2"),
        _follower("f3"),
        _follower("f4", on_breach=OnBreach.SCALE_DOWN),
    ]
    d1, d2, d3, d4 = _decide(_move(0, 2), group, followers)
    assert [_outcome(d) for d in (d1, d2)] == [(SEND, 2, 2, None)] * 2
    assert _outcome(d3) == (BLOCKED, 0, 0, None)
    assert (
        "entry 2 contracts > 1 allowed by route max total contracts 5 (followers hold 4)"
        in d3.reason
    )
    assert _outcome(d4) == (SEND, 1, 1, 2)


def test_route_total_counts_held_contracts_of_every_follower() -> None:
    # Held: f1 1 ES + 2 MNQ, f2 (paused) 1 MNQ = 4 of a total of 6. Leader 2 -> 5 MNQ:
    # f1 target 5, entry 3 > room 6 - 4 = 2 -> scaled to 2; f2 paused: skipped.
    group = _group(RouteLimits(max_total_contracts=6))
    f1 = _follower("f1", {"ESZ6": 1, "MNQZ6": 2}, on_breach=OnBreach.SCALE_DOWN)
    f2 = _follower("f2", {"MNQZ6": 1}, ratio="0.5", enabled=False)
    d1, d2 = _decide(_move(2, 5), group, [f1, f2])
    assert _outcome(d1) == (SEND, 2, 4, 3)
    assert "(followers hold 4)" in d1.reason
    assert _outcome(d2) == (SKIPPED, 0, 1, None)


def test_route_total_credits_an_exit_to_the_followers_after_it() -> None:
    # Route total 5: f1 holds -3 MNQ (out of sync), f2 holds 2 ES: 3 + 2 = 5, full.
    # Leader 0 -> +1 at ratio 1: f1 buys 4 (exit 3, entry 1; room 5 - (5 - 3) = 3),
    # leaving 5 - 3 + 1 = 3; f2 then has room 5 - 3 = 2 for its entry of 1.
    group = _group(RouteLimits(max_total_contracts=5))
    f1, f2 = _follower("f1", {"MNQZ6": -3}), _follower("f2", {"ESZ6": 2})
    d1, d2 = _decide(_move(0, 1), group, [f1, f2])
    assert _outcome(d1) == (SEND, 4, 1, None)
    assert _outcome(d2) == (SEND, 1, 1, None)
    # The other way round f2 decides first, while the route is still full.
    e2, e1 = _decide(_move(0, 1), group, [f2, f1])
    assert _outcome(e2) == (BLOCKED, 0, 0, None)
    assert "allowed by route max total contracts 5 (followers hold 5)" in e2.reason
    assert _outcome(e1) == (SEND, 4, 1, None)


def test_route_total_reversals_at_the_cap_free_their_own_room() -> None:
    # Route total 4, f1 +2 and f2 +2 (full). Leader +2 -> -2: each follower's exit of 2
    # frees 2 for its own entry: room 4 - (4 - 2) = 2. Both reverse: sell 4, target -2.
    group = _group(RouteLimits(max_total_contracts=4))
    followers = [_follower("f1", {"MNQZ6": 2}), _follower("f2", {"MNQZ6": 2})]
    for d in _decide(_move(2, -2), group, followers):
        assert _outcome(d) == (SEND, 4, -2, None)
        assert d.intent is Intent.REVERSAL


# -- route levels --------------------------------------------------------------------


TEST_ROUTE = RouteLimits(level=RouteLevel.TEST)


@pytest.mark.parametrize(("ratio", "raw"), [("2", 10), ("0.1", 0), ("1", 5)])
def test_level_1_forces_the_entry_to_one_contract(ratio: str, raw: int) -> None:
    # Leader 0 -> 5: 5 x 2 = 10, 5 x 0.1 = 0.5 -> 0, 5 x 1 = 5; all forced to 1.
    d = _one(_move(0, 5), _group(TEST_ROUTE), _follower(ratio=ratio))
    assert _outcome(d) == (SEND, 1, 1, None)
    assert f"route level 1 Test: size forced to 1 contract (not {raw})" in d.reason


def test_level_1_with_auto_micro_forces_one_micro_not_one_mini() -> None:
    # Leader 0 -> +1 ES at ratio 0.5: Active sends 5 MES (0.5 x 10); one ES at
    # Test would be $50/point, twice that, so Test sends 1 MES ($5/point).
    group = _group(TEST_ROUTE, auto_micro=True)
    d = _one(_move(0, 1, "ESZ6"), group, _follower(ratio="0.5"))
    assert (d.symbol, *_outcome(d)) == ("MESZ6", SEND, 1, 1, None)
    assert "route level 1 Test: sized on the micro MESZ6" in d.reason
    # The leader goes flat: the micro is closed.
    flat = _one(_move(1, 0, "ESZ6"), group, _follower(positions={"MESZ6": 1}, ratio="0.5"))
    assert (flat.symbol, flat.qty, flat.target) == ("MESZ6", 1, 0)


def test_level_1_keeps_one_on_partial_exits_and_goes_flat_with_the_leader() -> None:
    group = _group(TEST_ROUTE)
    add = _one(_move(5, 8), group, _follower(positions={"MNQZ6": 1}, ratio="2"))
    assert _outcome(add) == (SKIPPED, 0, 1, None)
    partial = _one(_move(8, 3), group, _follower(positions={"MNQZ6": 1}, ratio="2"))
    assert _outcome(partial) == (SKIPPED, 0, 1, None)
    flat = _one(_move(3, 0), group, _follower(positions={"MNQZ6": 1}, ratio="2"))
    assert _outcome(flat) == (SEND, 1, 0, None)
    assert flat.side is Side.SELL


def test_level_1_brings_a_larger_position_down_to_one_on_a_partial_exit() -> None:
    # Held 4 from before the route was set to Test; leader 8 -> 6: target min(1, 4) = 1.
    d = _one(_move(8, 6), _group(TEST_ROUTE), _follower(positions={"MNQZ6": 4}))
    assert _outcome(d) == (SEND, 3, 1, None)
    assert d.side is Side.SELL


def test_level_1_reversal_goes_one_contract_the_other_way() -> None:
    # Follower +1, leader +3 -> -4: target -1: sell 2 (exit 1, entry 1).
    d = _one(_move(3, -4), _group(TEST_ROUTE), _follower(positions={"MNQZ6": 1}, ratio="3"))
    assert _outcome(d) == (SEND, 2, -1, None)


def test_level_1_is_not_scaled_by_a_cap_it_cannot_fit() -> None:
    # The route's total is already at its cap of 2: the one contract is refused, not scaled.
    group = _group(RouteLimits(level=RouteLevel.TEST, max_total_contracts=2))
    followers = [
        _follower("f1", {"ESZ6": 2}),
        _follower("f2", on_breach=OnBreach.SCALE_DOWN),
    ]
    # f1 holds 2 ES: the route is full before anyone enters, so neither gets its 1.
    d1, d2 = _decide(_move(0, 3), group, followers)
    assert _outcome(d1) == (BLOCKED, 0, 0, None)
    assert _outcome(d2) == (BLOCKED, 0, 0, None)
    assert "entry 1 contracts > 0 allowed by route max total contracts 2" in d2.reason


def test_level_0_skips_entries_and_copies_exits() -> None:
    group = _group(RouteLimits(level=RouteLevel.OFF))
    entry = _one(_move(0, 2), group, _follower())
    assert _outcome(entry) == (SKIPPED, 0, 0, None)
    assert "route level 0 Off: entries are not copied, exits are" in entry.reason
    out = _one(_move(2, 1), group, _follower(positions={"MNQZ6": 2}))
    assert _outcome(out) == (SEND, 1, 1, None)
    flat = _one(_move(1, 0), group, _follower(positions={"MNQZ6": 1}))
    assert _outcome(flat) == (SEND, 1, 0, None)


def test_level_4_blocks_entries_and_copies_exits() -> None:
    group = _group(RouteLimits(level=RouteLevel.LOCKED))
    entry = _one(_move(0, 2), group, _follower())
    assert _outcome(entry) == (BLOCKED, 0, 0, None)
    assert "blocked: route level 4 Locked" in entry.reason
    # Reversal +2 -> -2: only the exit part goes.
    rev = _one(_move(2, -2), group, _follower(positions={"MNQZ6": 2}))
    assert _outcome(rev) == (SEND, 2, 0, None)
    assert rev.side is Side.SELL


def test_level_2_needs_the_review_and_caps_the_total() -> None:
    unreviewed = _group(RouteLimits(level=RouteLevel.REDUCED, max_total_contracts=3))
    d = _one(_move(0, 2), unreviewed, _follower())
    assert _outcome(d) == (BLOCKED, 0, 0, None)
    assert "not marked reviewed this session" in d.reason
    reviewed = _group(RouteLimits(level=RouteLevel.REDUCED, reviewed=True, max_total_contracts=3))
    # f1 takes 2, f2 gets 3 - 2 = 1 of its 2.
    followers = [_follower("f1"), _follower("f2", on_breach=OnBreach.SCALE_DOWN)]
    d1, d2 = _decide(_move(0, 2), reviewed, followers)
    assert _outcome(d1) == (SEND, 2, 2, None)
    assert _outcome(d2) == (SEND, 1, 1, 2)


# -- max accounts ----------------------------------------------------------------------


def test_max_accounts_counts_enabled_followers_in_order() -> None:
    # Max 2: f1 and f3 (f2 is paused, not counted); f4 is the third enabled one.
    group = _group(RouteLimits(max_accounts=2))
    followers = [
        _follower("f1"),
        _follower("f2", enabled=False),
        _follower("f3"),
        _follower("f4"),
    ]
    d1, d2, d3, d4 = _decide(_move(0, 1), group, followers)
    assert _outcome(d1) == (SEND, 1, 1, None)
    assert _outcome(d2) == (SKIPPED, 0, 0, None)
    assert _outcome(d3) == (SEND, 1, 1, None)
    assert _outcome(d4) == (BLOCKED, 0, 0, None)
    assert "route max accounts 2: this account is not among them" in d4.reason


def test_follower_beyond_max_accounts_still_gets_exits() -> None:
    group = _group(RouteLimits(max_accounts=1))
    followers = [_follower("f1", {"MNQZ6": 3}), _follower("f2", {"MNQZ6": 3})]
    adds = _decide(_move(3, 4), group, followers)
    assert [_outcome(d) for d in adds] == [(SEND, 1, 4, None), (BLOCKED, 0, 3, None)]
    outs = _decide(_move(3, 0), group, followers)
    assert [_outcome(d) for d in outs] == [(SEND, 3, 0, None), (SEND, 3, 0, None)]


# -- account state ---------------------------------------------------------------------


def test_halted_follower_is_blocked_for_entries_only() -> None:
    halt = AccountSession(halt="daily loss 375.00 \u2265 limit 375.00")
    entry = _one(_move(1, 3), _group(), _follower(positions={"MNQZ6": 1}, session=halt))
    assert _outcome(entry) == (BLOCKED, 0, 1, None)
    assert "halted this session: daily loss 375.00 \u2265 limit 375.00" in entry.reason
    out = _one(_move(3, 1), _group(), _follower(positions={"MNQZ6": 3}, session=halt))
    assert _outcome(out) == (SEND, 2, 1, None)


def test_daily_profit_target_blocks_entries_and_copies_exits() -> None:
    # Target 500.00; session PnL +500.00 (realized + unrealized) reached it:
    # the add (1 -> 3) is blocked, the scale-out (3 -> 1) and the flat go.
    reached = {"session_pnl": "500", "daily_profit_target": D(500)}
    add = _one(_move(1, 3), _group(), _follower(positions={"MNQZ6": 1}, **reached))
    assert _outcome(add) == (BLOCKED, 0, 1, None)
    assert "daily profit target reached: session PnL 500.00 \u2265 target 500.00" in add.reason
    out = _one(_move(3, 1), _group(), _follower(positions={"MNQZ6": 3}, **reached))
    assert _outcome(out) == (SEND, 2, 1, None)
    flat = _one(_move(1, 0), _group(), _follower(positions={"MNQZ6": 1}, **reached))
    assert _outcome(flat) == (SEND, 1, 0, None)
    # One cent short of the target: the entry goes.
    short = {"session_pnl": "499.99", "daily_profit_target": D(500)}
    assert _outcome(_one(_move(0, 2), _group(), _follower(**short))) == (SEND, 2, 2, None)


def test_route_session_loss_sums_every_followers_pnl() -> None:
    # -600 + -400 = -1 000 >= limit 1 000: nobody enters; one cent less and both do.
    group = _group(RouteLimits(max_session_loss=D(1000)))
    losing = [_follower("f1", session_pnl="-600"), _follower("f2", session_pnl="-400")]
    for d in _decide(_move(0, 1), group, losing):
        assert _outcome(d) == (BLOCKED, 0, 0, None)
        assert "route session loss 1,000.00 \u2265 limit 1,000.00" in d.reason
    fine = [_follower("f1", session_pnl="-600"), _follower("f2", session_pnl="-399.99")]
    assert [d.status for d in _decide(_move(0, 1), group, fine)] == [SEND, SEND]


def test_long_only_follower_closes_but_does_not_reverse() -> None:
    follower = _follower(positions={"MNQZ6": 2}, direction=Direction.LONG_ONLY)
    d = _one(_move(2, -2), _group(), follower)
    assert _outcome(d) == (SEND, 2, 0, None)
    assert "account is long only: short entries are not copied" in d.reason
    short = _one(_move(0, -2), _group(), _follower(direction=Direction.LONG_ONLY))
    assert _outcome(short) == (BLOCKED, 0, 0, None)


def test_deny_list_uses_the_follower_contract_after_mapping() -> None:
    # MNQ mapped to NQ: the NQ deny list refuses, an MNQ deny list does not.
    group = _group(mappings=(("MNQ", "NQ"),))
    denied = _one(_move(0, 1), group, _follower(denied_roots=frozenset({"NQ"})))
    assert _outcome(denied) == (BLOCKED, 0, 0, None)
    assert denied.symbol == "NQZ6"
    assert "NQ is on the account's deny list" in denied.reason
    other = _one(_move(0, 1), group, _follower(denied_roots=frozenset({"MNQ"})))
    assert _outcome(other) == (SEND, 1, 1, None)


def test_quarantine_still_blocks_before_the_risk_checks() -> None:
    q = frozenset({"MNQZ6"})
    follower = _follower(quarantined=q, max_contracts=1, on_breach=OnBreach.SCALE_DOWN)
    d = _one(_move(0, 3), _group(), follower)
    assert _outcome(d) == (BLOCKED, 0, 0, None)
    assert "MNQZ6 quarantined after a rejected entry" in d.reason
    assert "scaled" not in d.reason


def test_a_blocked_follower_leaves_room_for_the_next_one() -> None:
    # Route total 3: f1 is halted (blocked, takes nothing), f2 gets its full 3.
    group = _group(RouteLimits(max_total_contracts=3))
    followers = [
        _follower("f1", session=AccountSession(halt="emergency flatten")),
        _follower("f2"),
    ]
    d1, d2 = _decide(_move(0, 3), group, followers)
    assert _outcome(d1) == (BLOCKED, 0, 0, None)
    assert _outcome(d2) == (SEND, 3, 3, None)


def test_decisions_with_risk_are_deterministic() -> None:
    group = _group(RouteLimits(max_total_contracts=5, max_accounts=2, stop_ticks=10))
    followers = [
        _follower("f1", {"MNQZ6": 1}, exposure_cap=D(40), on_breach=OnBreach.SCALE_DOWN),
        _follower("f2", max_position=2, on_breach=OnBreach.SCALE_DOWN),
        _follower("f3"),
    ]
    first = _decide(_move(1, 4), group, followers)
    assert first == _decide(_move(1, 4), group, followers)
    # f1: 10 ticks x 0.50 = 5.00 per MNQ; cap 40 / 5 = 8 contracts, holds 1: room 7, so its
    # entry of 4 - 1 = 3 fits; route total 1 -> 4. f2: entry 4, max position 2 -> 2, then the
    # route room 5 - 4 = 1 -> 1. f3: the third enabled follower, beyond max accounts 2.
    assert [_outcome(d) for d in first] == [
        (SEND, 3, 4, None),
        (SEND, 1, 1, 4),
        (BLOCKED, 0, 0, None),
    ]
