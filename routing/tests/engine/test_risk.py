"""Worked examples for the layer-1 risk checks (:mod:`routing.engine.risk`).

Every number is computed by hand, with the arithmetic in a comment. Contract
specs are written out here from the exchange's published figures, not read
from the project's table, so a change there cannot hide a mistake here:

* MNQ (Micro E-mini Nasdaq-100): $2 x index, tick 0.25 pt = $0.50;
* NQ (E-mini Nasdaq-100): $20 x index, tick 0.25 pt = $5.00;
* ES (E-mini S&P 500): $50 x index, tick 0.25 pt = $12.50;
* MES (Micro E-mini S&P 500): $5 x index, tick 0.25 pt = $1.25.

Source: CME Group contract specifications,
cmegroup.com/markets/equities/nasdaq/micro-e-mini-nasdaq-100.contractSpecs.html,
.../nasdaq/e-mini-nasdaq-100.contractSpecs.html,
.../sp/e-mini-sandp500.contractSpecs.html, .../sp/micro-e-mini-sandp-500.contractSpecs.html.

Risk per contract = (stop ticks + slippage ticks) x tick value.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine.limits import (
    AccountSession,
    Direction,
    DrawdownMode,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.engine.risk import (
    EntryRequest,
    EntryVerdict,
    check_consistency,
    check_daily_loss,
    check_daily_profit_target,
    check_drawdown,
    check_entry,
    drawdown_floor,
    money,
    risk_per_contract,
    route_level_refusal,
    signed_money,
)
from routing.engine.types import ContractSpec, FollowerState

D = Decimal
_CME = "CME Group contract specifications (hand-copied for tests)"


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
        source=_CME,
    )


MNQ = _spec("MNQ", "0.50", "2", "NQ")  # 0.25 x $2 = $0.50
NQ = _spec("NQ", "5.00", "20")  # 0.25 x $20 = $5.00
ES = _spec("ES", "12.50", "50")  # 0.25 x $50 = $12.50
MES = _spec("MES", "1.25", "5", "ES")  # 0.25 x $5 = $1.25
SPECS = {s.root: s for s in (MNQ, NQ, ES, MES)}


def _follower(
    positions: dict[str, int] | None = None,
    *,
    session_pnl: str = "0",
    balance: str | None = None,
    session: AccountSession | None = None,
    **limits: object,
) -> FollowerState:
    return FollowerState(
        key="f1",
        ratio=D(1),
        positions=positions or {},
        session_pnl=D(session_pnl),
        limits=RiskLimits(**limits),  # type: ignore[arg-type]
        balance=None if balance is None else D(balance),
        session=session or AccountSession(),
    )


def _request(
    entry: int = 1,
    *,
    symbol: str = "MNQZ6",
    sign: int = 1,
    held: int = 0,
    exit_qty: int = 0,
    route_total: int = 0,
    route_pnl: str = "0",
    eligible: bool = True,
) -> EntryRequest:
    return EntryRequest(
        symbol=symbol,
        sign=sign,
        held=held,
        exit_qty=exit_qty,
        entry_qty=entry,
        route_total=route_total,
        route_pnl=D(route_pnl),
        eligible=eligible,
    )


def _check(
    follower: FollowerState,
    request: EntryRequest,
    route: RouteLimits | None = None,
    specs: dict[str, ContractSpec] | None = None,
) -> EntryVerdict:
    return check_entry(follower, route or RouteLimits(), request, SPECS if specs is None else specs)


def _passes(verdict: EntryVerdict, qty: int) -> None:
    assert verdict == EntryVerdict(qty, False, ())


def _blocked(verdict: EntryVerdict, *notes: str) -> None:
    assert verdict == EntryVerdict(0, True, notes)


# -- money -------------------------------------------------------------------------


def test_money_prints_two_decimals_with_thousands() -> None:
    assert money(D("1234.5")) == "1,234.50"
    assert money(D("375")) == "375.00"
    assert money(D("-0.01")) == "-0.01"


def test_signed_money_writes_the_pages_style() -> None:
    assert signed_money(D("1234.5")) == "+$1,234.50"
    assert signed_money(D("-80")) == "-$80.00"
    assert signed_money(D("0")) == "$0.00"
    assert signed_money(D("-0.001")) == "$0.00"  # no "-$0.00"


# -- daily loss --------------------------------------------------------------------


def test_daily_loss_without_a_limit_never_denies() -> None:
    assert check_daily_loss(D("-1000000"), RiskLimits()) is None


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        ("-374.99", None),  # 374.99 < 375.00: one cent short of the limit
        ("-375.00", "daily loss 375.00 \u2265 limit 375.00"),  # exactly at the limit
        ("-375.01", "daily loss 375.01 \u2265 limit 375.00"),  # one cent past
        ("0", None),
        ("500", None),  # a profit is a negative loss
    ],
)
def test_daily_loss_boundary(pnl: str, expected: str | None) -> None:
    assert check_daily_loss(D(pnl), RiskLimits(daily_loss=D(375))) == expected


def test_daily_loss_prints_thousands() -> None:
    assert (
        check_daily_loss(D("-2500"), RiskLimits(daily_loss=D(2000)))
        == "daily loss 2,500.00 \u2265 limit 2,000.00"
    )


# -- drawdown ----------------------------------------------------------------------


def test_drawdown_floor_static_never_moves() -> None:
    # 50 000 - 2 000 = 48 000 whatever the high-water mark.
    for high in ("49000", "50000", "53000"):
        assert drawdown_floor(DrawdownMode.STATIC, D(2000), D(50000), D(high)) == D(48000)


@pytest.mark.parametrize("mode", [DrawdownMode.TRAILING_INTRADAY, DrawdownMode.TRAILING_EOD])
@pytest.mark.parametrize(
    ("high", "floor"),
    [
        ("49000", "48000"),  # below the start: 47 000 < static 48 000 -> 48 000
        ("50000", "48000"),  # 50 000 - 2 000
        ("51000", "49000"),  # 51 000 - 2 000
        ("51999.99", "49999.99"),  # one cent before the lock
        ("52000", "50000"),  # 52 000 - 2 000 = the starting balance: locks
        ("52000.01", "50000"),  # 50 000.01 would pass the start: held at 50 000
        ("60000", "50000"),  # locked at the starting balance for good
    ],
)
def test_drawdown_floor_trailing_locks_at_the_starting_balance(
    mode: DrawdownMode, high: str, floor: str
) -> None:
    assert drawdown_floor(mode, D(2000), D(50000), D(high)) == D(floor)


def test_drawdown_without_a_limit_never_denies_even_without_a_snapshot() -> None:
    assert check_drawdown(AccountSession(), RiskLimits()) is None


@pytest.mark.parametrize(
    "session",
    [
        AccountSession(),
        AccountSession(equity=D(50000)),  # no floor
        AccountSession(drawdown_floor=D(48000)),  # no equity
    ],
)
def test_drawdown_fails_closed_without_equity_or_floor(session: AccountSession) -> None:
    assert (
        check_drawdown(session, RiskLimits(max_drawdown=D(2000)))
        == "drawdown limit set but the session has no balance snapshot yet"
    )


def test_drawdown_boundary_static() -> None:
    limits = RiskLimits(max_drawdown=D(2500))
    # Floor 50 000 - 2 500 = 47 500.
    above = AccountSession(equity=D("47500.01"), drawdown_floor=D(47500))
    at = AccountSession(equity=D(47500), drawdown_floor=D(47500))
    below = AccountSession(equity=D("47499.99"), drawdown_floor=D(47500))
    assert check_drawdown(above, limits) is None
    assert check_drawdown(at, limits) == (
        "equity 47,500.00 \u2264 drawdown floor 47,500.00 (static, max drawdown 2,500.00)"
    )
    assert check_drawdown(below, limits) == (
        "equity 47,499.99 \u2264 drawdown floor 47,500.00 (static, max drawdown 2,500.00)"
    )


def test_drawdown_reason_names_the_trailing_mode() -> None:
    # High water 51 000 - 2 500 = floor 48 500; equity 48 400 is below it.
    floor = drawdown_floor(DrawdownMode.TRAILING_INTRADAY, D(2500), D(50000), D(51000))
    assert floor == D(48500)
    limits = RiskLimits(max_drawdown=D(2500), drawdown_mode=DrawdownMode.TRAILING_INTRADAY)
    session = AccountSession(equity=D(48400), drawdown_floor=floor)
    assert check_drawdown(session, limits) == (
        "equity 48,400.00 \u2264 drawdown floor 48,500.00 (trailing intraday, "
        "max drawdown 2,500.00)"
    )
    eod = RiskLimits(max_drawdown=D(2500), drawdown_mode=DrawdownMode.TRAILING_EOD)
    assert "(trailing eod, max drawdown 2,500.00)" in (check_drawdown(session, eod) or "")


# -- consistency -------------------------------------------------------------------


def test_consistency_without_a_target_never_denies() -> None:
    assert check_consistency(AccountSession(realized=D(10**6)), RiskLimits()) is None


@pytest.mark.parametrize(
    ("realized", "expected"),
    [
        ("899.99", None),
        ("900", None),  # exactly 30% of 3 000 = 900: not more than the share
        (
            "900.01",
            "consistency lock: session profit 900.01 > 30% of profit target 3,000.00 (900.00)",
        ),
    ],
)
def test_consistency_boundary_is_strictly_greater(realized: str, expected: str | None) -> None:
    limits = RiskLimits(profit_target=D(3000))  # default share 30%
    assert check_consistency(AccountSession(realized=D(realized)), limits) == expected


def test_consistency_custom_share_prints_without_trailing_zeros() -> None:
    # 40.0% of 3 000 = 1 200.
    limits = RiskLimits(profit_target=D(3000), consistency_pct=D("40.0"))
    assert check_consistency(AccountSession(realized=D(1200)), limits) is None
    assert check_consistency(AccountSession(realized=D("1200.01")), limits) == (
        "consistency lock: session profit 1,200.01 > 40% of profit target 3,000.00 (1,200.00)"
    )


def test_consistency_share_in_whole_cents_prints_what_it_compares() -> None:
    # 33% of 1 234.57 = 407.4081 -> 407.40 (whole cents, down): 407.40 passes, 407.41 locks
    # and the reason shows 407.41 against 407.40, not against a rounded-up 407.41.
    limits = RiskLimits(profit_target=D("1234.57"), consistency_pct=D(33))
    assert check_consistency(AccountSession(realized=D("407.40")), limits) is None
    assert check_consistency(AccountSession(realized=D("407.41")), limits) == (
        "consistency lock: session profit 407.41 > 33% of profit target 1,234.57 (407.40)"
    )


def test_consistency_counts_realized_profit_only() -> None:
    # Equity far up (open profit) but realized below the 900 share: no lock.
    session = AccountSession(equity=D(55000), realized=D(100))
    assert check_consistency(session, RiskLimits(profit_target=D(3000))) is None


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        ("999.99", None),
        # Reached, not only passed: the day's target met exactly stops entries.
        ("1000", "daily profit target reached: session PnL 1,000.00 \u2265 target 1,000.00"),
        ("1234.5", "daily profit target reached: session PnL 1,234.50 \u2265 target 1,000.00"),
        ("-2000", None),
    ],
)
def test_daily_profit_target_boundary_is_reached_or_more(pnl: str, expected: str | None) -> None:
    limits = RiskLimits(daily_profit_target=D(1000))
    assert check_daily_profit_target(D(pnl), limits) == expected


def test_daily_profit_target_is_not_the_consistency_profit_target() -> None:
    # A 3,000 evaluation target (consistency) never stops the day on its own
    # figure, and the daily target never needs it.
    assert check_daily_profit_target(D(5000), RiskLimits(profit_target=D(3000))) is None
    assert (
        check_consistency(AccountSession(realized=D(5000)), RiskLimits(daily_profit_target=D(1)))
        is None
    )


def test_daily_profit_target_gate_counts_open_profit() -> None:
    # Realized 300 + unrealized 450 = session PnL 750 >= target 750: no entry.
    session = AccountSession(realized=D(300))
    _blocked(
        _check(
            _follower(session=session, session_pnl="750", daily_profit_target=D(750)), _request(1)
        ),
        "daily profit target reached: session PnL 750.00 \u2265 target 750.00",
    )
    _passes(_check(_follower(session_pnl="749.99", daily_profit_target=D(750)), _request(1)), 1)


# -- route level -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (RouteLimits(level=RouteLevel.OFF), "route level 0 Off: entries are not copied, exits are"),
        (RouteLimits(level=RouteLevel.TEST), None),
        (
            RouteLimits(level=RouteLevel.REDUCED, max_total_contracts=4),
            "route level 2 Reduced: not marked reviewed this session",
        ),
        (
            RouteLimits(level=RouteLevel.REDUCED, reviewed=True),
            "route level 2 Reduced needs a max total contracts cap",
        ),
        (RouteLimits(level=RouteLevel.REDUCED, reviewed=True, max_total_contracts=4), None),
        (RouteLimits(level=RouteLevel.ACTIVE), None),
        (
            RouteLimits(level=RouteLevel.LOCKED, reviewed=True),
            "route level 4 Locked: entries are not copied until it is unlocked with a reason",
        ),
    ],
)
def test_route_level_refusal(route: RouteLimits, expected: str | None) -> None:
    assert route_level_refusal(route) == expected


def test_route_level_labels() -> None:
    assert [level.label for level in RouteLevel] == [
        "0 Off",
        "1 Test",
        "2 Reduced",
        "3 Active",
        "4 Locked",
    ]


# -- risk per contract -------------------------------------------------------------


def test_risk_per_contract_is_stop_plus_slippage_ticks_times_tick_value() -> None:
    # MNQ: (20 + 2) x 0.50 = 11.00; ES: (8 + 1) x 12.50 = 112.50; no slippage: 8 x 12.50.
    assert risk_per_contract(MNQ, RouteLimits(stop_ticks=20, slippage_ticks=2)) == D("11.00")
    assert risk_per_contract(ES, RouteLimits(stop_ticks=8, slippage_ticks=1)) == D("112.50")
    assert risk_per_contract(ES, RouteLimits(stop_ticks=8)) == D(100)


def test_risk_per_contract_without_a_stop_is_unknown() -> None:
    assert risk_per_contract(ES, RouteLimits(slippage_ticks=3)) is None


# -- check_entry: gates ------------------------------------------------------------


def test_no_limits_let_the_whole_entry_through() -> None:
    _passes(_check(_follower(), _request(25)), 25)


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        (RouteLevel.OFF, "route level 0 Off: entries are not copied, exits are"),
        (RouteLevel.REDUCED, "route level 2 Reduced: not marked reviewed this session"),
        (
            RouteLevel.LOCKED,
            "route level 4 Locked: entries are not copied until it is unlocked with a reason",
        ),
    ],
)
def test_route_level_gates_the_entry(level: RouteLevel, reason: str) -> None:
    route = RouteLimits(level=level, max_total_contracts=10)
    _blocked(_check(_follower(), _request(1), route), reason)


def test_reviewed_reduced_route_passes_within_its_total_cap() -> None:
    route = RouteLimits(level=RouteLevel.REDUCED, reviewed=True, max_total_contracts=3)
    _passes(_check(_follower(), _request(3), route), 3)


def test_account_beyond_max_accounts_gets_no_entry() -> None:
    _blocked(
        _check(_follower(), _request(1, eligible=False), RouteLimits(max_accounts=2)),
        "route max accounts 2: this account is not among them",
    )


def test_halted_account_gets_no_entry() -> None:
    halted = _follower(session=AccountSession(halt="daily loss 375.00 \u2265 limit 375.00"))
    _blocked(
        _check(halted, _request(1)), "halted this session: daily loss 375.00 \u2265 limit 375.00"
    )


@pytest.mark.parametrize(
    ("pnl", "reason"),
    [("-374.99", None), ("-375", "daily loss 375.00 \u2265 limit 375.00")],
)
def test_daily_loss_gate_uses_the_followers_session_pnl(pnl: str, reason: str | None) -> None:
    verdict = _check(_follower(session_pnl=pnl, daily_loss=D(375)), _request(2))
    if reason is None:
        _passes(verdict, 2)
    else:
        _blocked(verdict, reason)


def test_drawdown_gate() -> None:
    at_floor = AccountSession(equity=D(48000), drawdown_floor=D(48000))
    above = AccountSession(equity=D("48000.01"), drawdown_floor=D(48000))
    _blocked(
        _check(_follower(session=at_floor, max_drawdown=D(2000)), _request(1)),
        "equity 48,000.00 \u2264 drawdown floor 48,000.00 (static, max drawdown 2,000.00)",
    )
    _passes(_check(_follower(session=above, max_drawdown=D(2000)), _request(1)), 1)
    _blocked(
        _check(_follower(max_drawdown=D(2000)), _request(1)),
        "drawdown limit set but the session has no balance snapshot yet",
    )


def test_consistency_gate() -> None:
    locked = AccountSession(realized=D("900.01"))
    _blocked(
        _check(_follower(session=locked, profit_target=D(3000)), _request(1)),
        "consistency lock: session profit 900.01 > 30% of profit target 3,000.00 (900.00)",
    )
    at_share = AccountSession(realized=D(900))
    _passes(_check(_follower(session=at_share, profit_target=D(3000)), _request(1)), 1)


@pytest.mark.parametrize(
    ("route_pnl", "reason"),
    [
        ("-999.99", None),
        ("-1000", "route session loss 1,000.00 \u2265 limit 1,000.00"),
        ("-1000.01", "route session loss 1,000.01 \u2265 limit 1,000.00"),
    ],
)
def test_route_session_loss_gate(route_pnl: str, reason: str | None) -> None:
    route = RouteLimits(max_session_loss=D(1000))
    verdict = _check(_follower(), _request(1, route_pnl=route_pnl), route)
    if reason is None:
        _passes(verdict, 1)
    else:
        _blocked(verdict, reason)


def test_direction_switches() -> None:
    long_only = _follower(direction=Direction.LONG_ONLY)
    short_only = _follower(direction=Direction.SHORT_ONLY)
    _passes(_check(long_only, _request(2, sign=1)), 2)
    _blocked(
        _check(long_only, _request(2, sign=-1)),
        "account is long only: short entries are not copied",
    )
    _passes(_check(short_only, _request(2, sign=-1)), 2)
    _blocked(
        _check(short_only, _request(2, sign=1)),
        "account is short only: long entries are not copied",
    )
    both = _follower()
    _passes(_check(both, _request(2, sign=-1)), 2)


def test_deny_list_names_the_root() -> None:
    follower = _follower(denied_roots=frozenset({"MNQ"}))
    _blocked(_check(follower, _request(1)), "MNQ is on the account's deny list")
    _passes(_check(follower, _request(1, symbol="ESZ6")), 1)


def test_allow_list_lists_the_allowed_roots() -> None:
    follower = _follower(allowed_roots=frozenset({"MNQ", "ES"}))
    _passes(_check(follower, _request(1)), 1)
    _blocked(
        _check(follower, _request(1, symbol="NQZ6")),
        "NQ is not on the account's allow list (ES, MNQ)",
    )


def test_unreadable_contract_is_refused() -> None:
    _blocked(_check(_follower(), _request(1, symbol="???")), "unreadable contract '???'")


def test_max_open_positions_counts_other_contracts_held() -> None:
    # Holds ES and NQ (2 open); a new MNQ position would be the third.
    follower = _follower({"ESZ6": 1, "NQZ6": -2, "MESZ6": 0}, max_open_positions=2)
    _blocked(_check(follower, _request(1)), "open positions 2 \u2265 max open positions 2")
    # Adding to one already open is not a new position.
    _passes(_check(follower, _request(1, symbol="ESZ6", held=1)), 1)
    # One open (the flat MES does not count): room for a second.
    one_open = _follower({"ESZ6": 1, "MESZ6": 0}, max_open_positions=2)
    _passes(_check(one_open, _request(1)), 1)


def test_max_open_positions_lets_a_reversal_through() -> None:
    # At the max, reversing a held position keeps the count: not a new position.
    follower = _follower({"ESZ6": 1, "MNQZ6": 2}, max_open_positions=2)
    _passes(_check(follower, _request(3, sign=-1, held=2, exit_qty=2)), 3)


def test_the_first_gate_that_refuses_wins() -> None:
    # Route level comes before the halt, the halt before the daily loss.
    follower = _follower(
        session_pnl="-500",
        session=AccountSession(halt="emergency flatten"),
        daily_loss=D(375),
        direction=Direction.LONG_ONLY,
    )
    _blocked(
        _check(follower, _request(1, sign=-1), RouteLimits(level=RouteLevel.LOCKED)),
        "route level 4 Locked: entries are not copied until it is unlocked with a reason",
    )
    _blocked(_check(follower, _request(1, sign=-1)), "halted this session: emergency flatten")
    unhalted = _follower(session_pnl="-500", daily_loss=D(375), direction=Direction.LONG_ONLY)
    _blocked(_check(unhalted, _request(1, sign=-1)), "daily loss 500.00 \u2265 limit 375.00")


def test_a_gate_refuses_even_an_entry_that_fits_every_cap() -> None:
    # Gates are not caps: scale-down mode does not turn a refusal into a smaller entry.
    follower = _follower(
        session_pnl="-400", daily_loss=D(375), max_contracts=10, on_breach=OnBreach.SCALE_DOWN
    )
    _blocked(_check(follower, _request(1)), "daily loss 400.00 \u2265 limit 375.00")


# -- check_entry: caps in both modes -----------------------------------------------


def test_max_contracts_per_order_boundary_and_both_modes() -> None:
    _passes(_check(_follower(max_contracts=5), _request(5)), 5)  # exactly at the cap
    _passes(_check(_follower(max_contracts=5), _request(4)), 4)
    scale = _check(_follower(max_contracts=5, on_breach=OnBreach.SCALE_DOWN), _request(6))
    assert scale == EntryVerdict(
        5, False, ("entry scaled down 6 \u2192 5: max contracts per order 5",)
    )
    _blocked(
        _check(_follower(max_contracts=5), _request(6)),
        "entry 6 contracts > 5 allowed by max contracts per order 5",
    )


def test_max_contracts_per_order_includes_the_exit_part_of_a_reversal() -> None:
    # Held +2, reversal sell 6 = exit 2 + entry 4; cap 5 leaves 5 - 2 = 3 for the entry.
    request = _request(4, sign=-1, held=2, exit_qty=2)
    scale = _check(_follower({"MNQZ6": 2}, max_contracts=5, on_breach=OnBreach.SCALE_DOWN), request)
    assert scale == EntryVerdict(
        3, False, ("entry scaled down 4 \u2192 3: max contracts per order 5 (exit part 2)",)
    )
    _blocked(
        _check(_follower({"MNQZ6": 2}, max_contracts=5), request),
        "entry 4 contracts > 3 allowed by max contracts per order 5 (exit part 2)",
    )
    # Entry 3 with exit 2 = 5 in one order: exactly at the cap.
    fits = _request(3, sign=-1, held=2, exit_qty=2)
    _passes(_check(_follower({"MNQZ6": 2}, max_contracts=5), fits), 3)


def test_exit_part_filling_the_order_cap_leaves_no_room_even_when_scaling() -> None:
    # Held +5, reversal: exit 5 + entry 1 with max 5 per order: 5 - 5 = 0 room.
    request = _request(1, sign=-1, held=5, exit_qty=5)
    follower = _follower({"MNQZ6": 5}, max_contracts=5, on_breach=OnBreach.SCALE_DOWN)
    _blocked(
        _check(follower, request),
        "entry 1 contracts > 0 allowed by max contracts per order 5 (exit part 5)",
    )


def test_max_position_counts_what_is_held_after_the_exit_part() -> None:
    # Adding: holds 3, max 4 -> room 1.
    add = _request(2, held=3)
    assert _check(
        _follower({"MNQZ6": 3}, max_position=4, on_breach=OnBreach.SCALE_DOWN), add
    ) == EntryVerdict(
        1, False, ("entry scaled down 2 \u2192 1: max contracts per position 4 (holds 3)",)
    )
    _blocked(
        _check(_follower({"MNQZ6": 3}, max_position=4), add),
        "entry 2 contracts > 1 allowed by max contracts per position 4 (holds 3)",
    )
    # Exactly at the cap: holds 3 + 1 = 4.
    _passes(_check(_follower({"MNQZ6": 3}, max_position=4), _request(1, held=3)), 1)
    # Reversal from -3: the exit part closes it, so the new position may be 4 on its own.
    reversal = _request(4, held=-3, exit_qty=3)
    _passes(_check(_follower({"MNQZ6": -3}, max_position=4), reversal), 4)
    _blocked(
        _check(_follower({"MNQZ6": -3}, max_position=4), _request(5, held=-3, exit_qty=3)),
        "entry 5 contracts > 4 allowed by max contracts per position 4 (holds 0)",
    )


def test_route_max_contracts_per_account_counts_every_contract_held() -> None:
    # Holds 2 MNQ + 2 ES = 4 on a route cap of 5: room 1.
    positions = {"MNQZ6": 2, "ESZ6": -2}
    route = RouteLimits(max_contracts_per_account=5)
    scaled = _check(_follower(positions, on_breach=OnBreach.SCALE_DOWN), _request(3, held=2), route)
    assert scaled == EntryVerdict(
        1, False, ("entry scaled down 3 \u2192 1: route max contracts per account 5 (holds 4)",)
    )
    _blocked(
        _check(_follower(positions), _request(3, held=2), route),
        "entry 3 contracts > 1 allowed by route max contracts per account 5 (holds 4)",
    )
    # Reversing the ES short: after the exit part of 2 the account holds 2, room 5 - 2 = 3.
    _passes(_check(_follower(positions), _request(3, symbol="ESZ6", held=-2, exit_qty=2), route), 3)


def test_route_max_total_contracts_counts_every_follower() -> None:
    # Followers hold 8 on a route total of 10: room 2.
    route = RouteLimits(max_total_contracts=10)
    _passes(_check(_follower(), _request(2, route_total=8), route), 2)
    assert _check(
        _follower(on_breach=OnBreach.SCALE_DOWN), _request(3, route_total=8), route
    ) == EntryVerdict(
        2, False, ("entry scaled down 3 \u2192 2: route max total contracts 10 (followers hold 8)",)
    )
    _blocked(
        _check(_follower(), _request(3, route_total=8), route),
        "entry 3 contracts > 2 allowed by route max total contracts 10 (followers hold 8)",
    )
    # Full route: a reversal's exit part frees its own room: 10 - (10 - 2) = 2.
    reversal = _request(2, sign=-1, held=2, exit_qty=2, route_total=10)
    _passes(_check(_follower({"MNQZ6": 2}), reversal, route), 2)
    # Started above the cap (limits lowered): no room at all.
    _blocked(
        _check(_follower(on_breach=OnBreach.SCALE_DOWN), _request(1, route_total=12), route),
        "entry 1 contracts > 0 allowed by route max total contracts 10 (followers hold 12)",
    )


def test_caps_scale_down_one_after_another_in_order() -> None:
    # Per order 5, per position 4 holding 1 (room 3): 6 -> 5 -> 3.
    follower = _follower(
        {"MNQZ6": 1}, max_contracts=5, max_position=4, on_breach=OnBreach.SCALE_DOWN
    )
    assert _check(follower, _request(6, held=1)) == EntryVerdict(
        3,
        False,
        (
            "entry scaled down 6 \u2192 5: max contracts per order 5",
            "entry scaled down 5 \u2192 3: max contracts per position 4 (holds 1)",
        ),
    )


def test_scaled_entry_then_blocked_keeps_the_earlier_notes() -> None:
    # 6 -> 5 by the order cap, then the route is full (room 0): blocked.
    follower = _follower(max_contracts=5, on_breach=OnBreach.SCALE_DOWN)
    route = RouteLimits(max_total_contracts=10)
    assert _check(follower, _request(6, route_total=10), route) == EntryVerdict(
        0,
        True,
        (
            "entry scaled down 6 \u2192 5: max contracts per order 5",
            "entry 5 contracts > 0 allowed by route max total contracts 10 (followers hold 10)",
        ),
    )


def test_block_mode_reports_the_first_cap_breached() -> None:
    # Both caps breached; the per-order cap is checked first.
    follower = _follower({"MNQZ6": 1}, max_contracts=5, max_position=4)
    _blocked(
        _check(follower, _request(6, held=1)),
        "entry 6 contracts > 5 allowed by max contracts per order 5",
    )


# -- exposure caps -----------------------------------------------------------------


MNQ_ROUTE = RouteLimits(stop_ticks=20, slippage_ticks=2)  # MNQ: 22 x 0.50 = 11.00 per contract


def test_position_cap_percent_of_balance_on_mnq() -> None:
    # 1% of 50 000 = 500 dollars; 500 / 11 = 45.45 -> 45 contracts (45 x 11 = 495).
    # Holds 40: room 5.
    note = "position cap 1% of balance 50,000.00 = 500.00 at 11.00 risk per contract (holds 40)"
    follower = _follower({"MNQZ6": 40}, balance="50000", position_cap_pct=D(1))
    _passes(_check(follower, _request(5, held=40), MNQ_ROUTE), 5)
    _blocked(
        _check(follower, _request(6, held=40), MNQ_ROUTE),
        f"entry 6 contracts > 5 allowed by {note}",
    )
    scaling = _follower(
        {"MNQZ6": 40}, balance="50000", position_cap_pct=D(1), on_breach=OnBreach.SCALE_DOWN
    )
    assert _check(scaling, _request(6, held=40), MNQ_ROUTE) == EntryVerdict(
        5, False, (f"entry scaled down 6 \u2192 5: {note}",)
    )


def test_position_cap_percent_of_balance_exactly_divisible_on_es() -> None:
    # ES, 8 ticks stop: 8 x 12.50 = 100 per contract; 2% of 50 000 = 1 000 -> 10 contracts exactly.
    route = RouteLimits(stop_ticks=8)
    follower = _follower(balance="50000", position_cap_pct=D(2))
    _passes(_check(follower, _request(10, symbol="ESZ6"), route), 10)
    _blocked(
        _check(follower, _request(11, symbol="ESZ6"), route),
        "entry 11 contracts > 10 allowed by position cap 2% of balance 50,000.00 = 1,000.00 "
        "at 100.00 risk per contract (holds 0)",
    )
    # One cent less balance: 2% of 49 999.99 = 999.9998 -> 999.99 (whole cents, down),
    # 999.99 / 100 = 9.9999 -> 9 contracts; the reason prints the figure it used.
    poorer = _follower(balance="49999.99", position_cap_pct=D(2))
    _passes(_check(poorer, _request(9, symbol="ESZ6"), route), 9)
    _blocked(
        _check(poorer, _request(10, symbol="ESZ6"), route),
        "entry 10 contracts > 9 allowed by position cap 2% of balance 49,999.99 = 999.99 "
        "at 100.00 risk per contract (holds 0)",
    )


def test_position_cap_ignores_the_exit_part_of_a_reversal() -> None:
    # Reversal from +40 MNQ: the new short stands alone: 45 allowed, not 45 - 40.
    follower = _follower({"MNQZ6": 40}, balance="50000", position_cap_pct=D(1))
    _passes(_check(follower, _request(45, sign=-1, held=40, exit_qty=40), MNQ_ROUTE), 45)


def test_exposure_cap_across_two_held_contracts() -> None:
    # Stop 8 + slippage 2 = 10 ticks: ES 10 x 12.50 = 125.00, MNQ 10 x 0.50 = 5.00 per contract.
    # Holds 1 ES (125) and 10 MNQ short (10 x 5 = 50): exposure 175.
    # Cap 300: room for (300 - 175) / 5 = 25 more MNQ, or (300 - 175) / 125 = 1 ES.
    route = RouteLimits(stop_ticks=8, slippage_ticks=2)
    positions = {"ESZ6": 1, "MNQZ6": -10}
    blocking = _follower(positions, exposure_cap=D(300))
    scaling = _follower(positions, exposure_cap=D(300), on_breach=OnBreach.SCALE_DOWN)
    mnq_note = "exposure cap 300.00 (exposure 175.00, 5.00 risk per contract)"
    _passes(_check(blocking, _request(25, sign=-1, held=-10), route), 25)
    _blocked(
        _check(blocking, _request(26, sign=-1, held=-10), route),
        f"entry 26 contracts > 25 allowed by {mnq_note}",
    )
    assert _check(scaling, _request(26, sign=-1, held=-10), route) == EntryVerdict(
        25, False, (f"entry scaled down 26 \u2192 25: {mnq_note}",)
    )
    es_note = "exposure cap 300.00 (exposure 175.00, 125.00 risk per contract)"
    _passes(_check(blocking, _request(1, symbol="ESZ6", held=1), route), 1)
    assert _check(scaling, _request(2, symbol="ESZ6", held=1), route) == EntryVerdict(
        1, False, (f"entry scaled down 2 \u2192 1: {es_note}",)
    )


def test_exposure_cap_counts_a_reversal_without_its_exit_part() -> None:
    # Same figures; reversing the 10 MNQ short: after the exit only the ES (125) remains:
    # (300 - 125) / 5 = 35 MNQ allowed long.
    route = RouteLimits(stop_ticks=8, slippage_ticks=2)
    follower = _follower({"ESZ6": 1, "MNQZ6": -10}, exposure_cap=D(300))
    _passes(_check(follower, _request(35, held=-10, exit_qty=10), route), 35)
    _blocked(
        _check(follower, _request(36, held=-10, exit_qty=10), route),
        "entry 36 contracts > 35 allowed by exposure cap 300.00 (exposure 125.00, "
        "5.00 risk per contract)",
    )


def test_exposure_already_over_the_cap_blocks_even_when_scaling() -> None:
    # 3 ES at 125 = 375 > cap 300: (300 - 375) / 5 -> negative room, none for MNQ.
    route = RouteLimits(stop_ticks=8, slippage_ticks=2)
    follower = _follower({"ESZ6": 3}, exposure_cap=D(300), on_breach=OnBreach.SCALE_DOWN)
    _blocked(
        _check(follower, _request(1), route),
        "entry 1 contracts > 0 allowed by exposure cap 300.00 (exposure 375.00, "
        "5.00 risk per contract)",
    )


def test_exposure_caps_fail_closed_without_a_stop_distance() -> None:
    reason = "exposure caps need the route's stop distance (stop ticks) to price risk"
    scaling = _follower(exposure_cap=D(300), on_breach=OnBreach.SCALE_DOWN)
    _blocked(_check(scaling, _request(1), RouteLimits()), reason)
    pct = _follower(balance="50000", position_cap_pct=D(1))
    _blocked(_check(pct, _request(1), RouteLimits(slippage_ticks=2)), reason)
    # Without exposure caps the stop distance is not needed.
    _passes(_check(_follower(max_contracts=2), _request(1), RouteLimits()), 1)


def test_exposure_that_cannot_be_priced_is_the_reason_even_past_another_cap() -> None:
    # 2 contracts over max contracts 1 would block too; the reason stays the
    # unpriced exposure, as the caps are weighed only once exposure is known.
    follower = _follower(max_contracts=1, exposure_cap=D(300))
    _blocked(
        _check(follower, _request(2), RouteLimits()),
        "exposure caps need the route's stop distance (stop ticks) to price risk",
    )


@settings(max_examples=200, deadline=None)
@given(
    entry=st.integers(1, 20),
    max_contracts=st.none() | st.integers(1, 10),
    max_position=st.none() | st.integers(1, 10),
    per_account=st.none() | st.integers(1, 10),
    route_total=st.none() | st.integers(1, 20),
    scale=st.booleans(),
    percent=st.booleans(),
)
def test_unpriced_exposure_is_the_reason_whatever_the_other_caps(
    entry: int,
    max_contracts: int | None,
    max_position: int | None,
    per_account: int | None,
    route_total: int | None,
    scale: bool,
    percent: bool,
) -> None:
    follower = _follower(
        balance="50000",
        max_contracts=max_contracts,
        max_position=max_position,
        exposure_cap=None if percent else D(300),
        position_cap_pct=D(1) if percent else None,
        on_breach=OnBreach.SCALE_DOWN if scale else OnBreach.BLOCK,
    )
    route = RouteLimits(max_contracts_per_account=per_account, max_total_contracts=route_total)
    _blocked(
        _check(follower, _request(entry), route),
        "exposure caps need the route's stop distance (stop ticks) to price risk",
    )


def test_exposure_fails_closed_without_a_spec_for_a_held_contract() -> None:
    follower = _follower({"CLZ6": 1}, exposure_cap=D(300))
    _blocked(
        _check(follower, _request(1), MNQ_ROUTE),
        "no contract spec for CLZ6: exposure cannot be computed",
    )


def test_exposure_fails_closed_without_a_spec_for_the_entry_contract() -> None:
    follower = _follower(exposure_cap=D(300))
    _blocked(
        _check(follower, _request(1), MNQ_ROUTE, specs={"ES": ES}),
        "no contract spec for MNQZ6: exposure cannot be computed",
    )


def test_missing_spec_reason_is_the_same_whatever_the_set_order() -> None:
    # Two contracts without a spec: the reason must not depend on hash order
    # (PYTHONHASHSEED), or the same inputs would journal different reasons.
    # Six unpriced contracts: a hash-ordered walk names CLZ6 first 1 time in 6.
    held = dict.fromkeys(("ZNZ6", "GCZ6", "SIZ6", "CLZ6", "HGZ6", "ZBZ6"), 1)
    follower = _follower(held, exposure_cap=D(300))
    verdict = _check(follower, _request(1), MNQ_ROUTE)
    assert verdict == EntryVerdict(
        0, True, ("no contract spec for CLZ6: exposure cannot be computed",)
    )


@pytest.mark.parametrize("balance", [None, "0", "-10"])
def test_position_cap_fails_closed_without_a_balance(balance: str | None) -> None:
    follower = _follower(balance=balance, position_cap_pct=D(1), on_breach=OnBreach.SCALE_DOWN)
    _blocked(
        _check(follower, _request(1), MNQ_ROUTE),
        "position cap in percent of balance needs the account balance",
    )


def test_caps_apply_in_documented_order() -> None:
    # Per order 10, per position 8, route per account 7, position cap 6 contracts
    # (1% of 6 600 = 66 / 11 = 6), exposure cap 55 (55 / 11 = 5), route total 4.
    follower = _follower(
        balance="6600",
        max_contracts=10,
        max_position=8,
        position_cap_pct=D(1),
        exposure_cap=D(55),
        on_breach=OnBreach.SCALE_DOWN,
    )
    route = RouteLimits(
        max_contracts_per_account=7, max_total_contracts=4, stop_ticks=20, slippage_ticks=2
    )
    verdict = _check(follower, _request(12), route)
    assert verdict.qty == 4
    assert not verdict.blocked
    assert [n.split(": ", 1)[0] for n in verdict.notes] == [
        "entry scaled down 12 \u2192 10",
        "entry scaled down 10 \u2192 8",
        "entry scaled down 8 \u2192 7",
        "entry scaled down 7 \u2192 6",
        "entry scaled down 6 \u2192 5",
        "entry scaled down 5 \u2192 4",
    ]
    assert verdict.notes[-1].endswith("route max total contracts 4 (followers hold 0)")


# -- value validation --------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"daily_loss": D(0)},
        {"daily_profit_target": D(0)},
        {"daily_profit_target": D("-0.01")},
        {"exposure_cap": D(-1)},
        {"max_drawdown": D(0)},
        {"profit_target": D(0)},
        {"max_contracts": 0},
        {"max_position": -1},
        {"max_open_positions": 0},
        {"position_cap_pct": D(0)},
        {"position_cap_pct": D("100.01")},
        {"consistency_pct": D(0)},
        {"consistency_pct": D(101)},
        {"allowed_roots": frozenset({"ES"}), "denied_roots": frozenset({"ES"})},
    ],
)
def test_risk_limits_refuse_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        RiskLimits(**kwargs)  # type: ignore[arg-type]


def test_risk_limits_accept_the_edges() -> None:
    RiskLimits(position_cap_pct=D(100), consistency_pct=D(100), max_contracts=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_accounts": 0},
        {"max_contracts_per_account": 0},
        {"max_total_contracts": -1},
        {"max_session_loss": D(0)},
        {"stop_ticks": 0},
        {"slippage_ticks": -1},
        {"max_slippage_ticks": -1},
    ],
)
def test_route_limits_refuse_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RouteLimits(**kwargs)  # type: ignore[arg-type]
