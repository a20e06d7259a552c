"""Layer-2 transitions (routing.engine.watch): worked examples by hand and
properties over random marks and sessions.

Money in dollars. Sources of the rules: CME session times
(routing.engine.sessions), Topstep / Apex drawdown kinds
(routing.engine.limits.DrawdownMode).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.engine.limits import DrawdownMode, RiskLimits, RouteLevel, RouteLimits
from routing.engine.watch import (
    Reason,
    ReasonCode,
    SessionState,
    account_check,
    engine_view,
    incident_lock_text,
    rejected_order_finding,
    route_check,
    route_session_loss,
    session_open,
    session_roll,
    slippage_finding,
)

D = Decimal
DAY = date(2026, 11, 17)
START = D(50_000)
ZERO = D(0)


def _open(balance: Decimal = START, carried_in: Decimal = ZERO) -> SessionState:
    return session_open(
        trading_date=DAY, balance=balance, starting_balance=START, carried_in=carried_in
    )


def _check(state: SessionState, limits: RiskLimits, pnl: Decimal, realized: Decimal = ZERO):
    return account_check(state, limits, starting_balance=START, session_pnl=pnl, realized=realized)


# -- worked examples ----------------------------------------------------------------


def test_session_open_high_water_is_opening_equity_or_starting_balance() -> None:
    # 49,000 balance below a 50,000 start: the marks start at the start.
    assert _open(D(49_000)).high_water == D(50_000)
    # 51,000 + 200 carried in: opening equity 51,200.
    state = _open(D(51_000), D(200))
    assert (state.high_water, state.eod_high_water, state.opening_equity) == (
        D(51_200),
        D(51_200),
        D(51_200),
    )


def test_session_roll_worked_example_from_the_risk_session() -> None:
    # Arrange: 25,000 opening, halted; the session realized -50.00 (MES 1 x
    # -10 x $5) and an MNQ position carries -400.00 into the next session.
    state = session_open(trading_date=DAY, balance=D(25_000), starting_balance=D(25_000))
    state = state._replace(halt="daily loss 450.00", flatten_due=True)
    # Act
    rolled = session_roll(
        state, trading_date=DAY + timedelta(days=1), realized_since=D(-50), carried_in=D(-400)
    )
    # Assert: opening 24,950.00, opening equity 24,550.00, the marks stay at
    # 25,000.00 (they never fall), the halt and the due flatten end.
    assert (rolled.opening_balance, rolled.carried_in, rolled.opening_equity) == (
        D("24950"),
        D(-400),
        D("24550"),
    )
    assert (rolled.high_water, rolled.eod_high_water) == (D(25_000), D(25_000))
    assert (rolled.halt, rolled.flatten_due) == (None, False)
    # A second roll into the same session changes nothing; a roll back is refused.
    assert (
        session_roll(rolled, trading_date=rolled.trading_date, realized_since=D(9), carried_in=D(9))
        is rolled
    )
    with pytest.raises(ValueError, match="cannot roll"):
        session_roll(rolled, trading_date=DAY, realized_since=D(0), carried_in=D(0))


def test_daily_loss_at_the_limit_halts_with_code_and_text() -> None:
    limits = RiskLimits(daily_loss=D(375))
    # 374.99 lost: no halt; 375.00: halted (≥).
    assert _check(_open(), limits, D("-374.99")).halt is None
    check = _check(_open(), limits, D(-375))
    assert check.halt == Reason(ReasonCode.DAILY_LOSS, "daily loss 375.00 \u2265 limit 375.00")
    assert check.state.halt == check.view.halt == "daily loss 375.00 \u2265 limit 375.00"
    assert (check.flatten, check.state.flatten_due) == (False, False)


def test_flatten_on_breach_is_due_on_a_loss_never_on_the_consistency_lock() -> None:
    loss = _check(_open(), RiskLimits(daily_loss=D(100), flatten_on_breach=True), D(-100))
    assert (loss.halt.code if loss.halt else None, loss.flatten, loss.state.flatten_due) == (
        ReasonCode.DAILY_LOSS,
        True,
        True,
    )
    # 30% of a 500.00 target is 150.00: 150.01 realized locks, never flattens.
    limits = RiskLimits(profit_target=D(500), flatten_on_breach=True)
    assert _check(_open(), limits, D("150.01"), realized=D("150.00")).halt is None
    profit = _check(_open(), limits, D("150.01"), realized=D("150.01"))
    assert profit.halt == Reason(
        ReasonCode.CONSISTENCY,
        "consistency lock: session profit 150.01 > 30% of profit target 500.00 (150.00)",
    )
    assert (profit.flatten, profit.state.flatten_due) == (False, False)


def test_daily_profit_target_halts_once_never_flattens_and_ends_at_the_roll() -> None:
    # Target 1,000.00 with flatten on breach on (a loss rule only).
    limits = RiskLimits(daily_profit_target=D(1000), flatten_on_breach=True)
    # Realized 400.00 + unrealized 599.99 = 999.99: not yet.
    assert _check(_open(), limits, D("999.99"), realized=D(400)).halt is None
    # Realized 400.00 + unrealized 600.00 = 1,000.00: reached, open profit counts.
    hit = _check(_open(), limits, D(1000), realized=D(400))
    text = "daily profit target reached: session PnL 1,000.00 \u2265 target 1,000.00"
    assert hit.halt == Reason(ReasonCode.DAILY_PROFIT_TARGET, text)
    assert (hit.state.halt, hit.view.halt) == (text, text)
    assert (hit.flatten, hit.state.flatten_due, ReasonCode.DAILY_PROFIT_TARGET.is_loss) == (
        False,
        False,
        False,
    )
    # The profit given back to +200.00: still done for the day, no second halt.
    later = _check(hit.state, limits, D(200), realized=D(200))
    assert (later.halt, later.state.halt) == (None, text)
    # The next session trades again.
    rolled = session_roll(
        later.state, trading_date=DAY + timedelta(days=1), realized_since=D(200), carried_in=ZERO
    )
    assert rolled.halt is None
    assert _check(rolled, limits, D(999)).halt is None


def test_a_loss_limit_reached_first_names_the_halt_not_the_profit_target() -> None:
    # Both set; a 500.00 loss halts on the daily loss, the target never applies.
    limits = RiskLimits(daily_loss=D(500), daily_profit_target=D(300))
    assert _check(_open(), limits, D(-500)).halt == Reason(
        ReasonCode.DAILY_LOSS, "daily loss 500.00 \u2265 limit 500.00"
    )


def test_trailing_intraday_floor_follows_the_equity_high() -> None:
    # Sim101 by hand: 9 lots from 21539.50; fill 2 marks +4.50 (equity
    # 50,004.50, floor 49,944.50 with a 60.00 trail); fill 3 marks -67.50.
    limits = RiskLimits(max_drawdown=D(60), drawdown_mode=DrawdownMode.TRAILING_INTRADAY)
    first = _check(_open(), limits, D("4.50"))
    assert (first.halt, first.state.high_water, first.view.drawdown_floor) == (
        None,
        D("50004.50"),
        D("49944.50"),
    )
    second = _check(first.state, limits, D("-67.50"))
    assert second.halt == Reason(
        ReasonCode.DRAWDOWN,
        "equity 49,932.50 \u2264 drawdown floor 49,944.50 (trailing intraday, max drawdown 60.00)",
    )
    assert second.state.high_water == D("50004.50")  # never falls within the session


def test_trailing_eod_floor_ignores_intraday_highs() -> None:
    limits = RiskLimits(max_drawdown=D(300), drawdown_mode=DrawdownMode.TRAILING_EOD)
    high = _check(_open(), limits, D(1_000))
    # Intraday high 51,000, but end of day still 50,000: floor 49,700.
    assert high.view.drawdown_floor == D(49_700)
    assert _check(high.state, limits, D(-300)).halt is not None


def test_route_lock_on_session_loss_and_never_twice() -> None:
    limits = RouteLimits(max_session_loss=D(450))
    assert route_check(D("-449.99"), limits) is None
    reason = route_check(D("-472.50"), limits)
    assert reason == Reason(
        ReasonCode.ROUTE_SESSION_LOSS, "route session loss 472.50 \u2265 limit 450.00"
    )
    locked = RouteLimits(max_session_loss=D(450), level=RouteLevel.LOCKED)
    assert route_check(D(-1_000), locked) is None
    assert route_session_loss(D(-1_000), locked) is not None  # the rule, for the check page


def test_slippage_and_rejection_word_the_incident_as_live_does() -> None:
    # Live's wording (routing.services.orders._slippage): 2 ticks of 0.25 on a
    # 21539.50 leader fill, max 1.
    slipped = slippage_finding(
        account="One",
        side="buy",
        qty=9,
        symbol="MNQH5",
        avg_price=D("21540.00"),
        leader_price=D("21539.500000"),
        tick_size=D("0.25"),
        max_ticks=1,
        client_order_id="ct-1",
    )
    assert slipped is not None and slipped.ticks == D(2)
    assert incident_lock_text(slipped.reason) == (
        "incident: slippage: slipped 2 ticks > max 1 on MNQH5: One buy 9 @ avg 21540 vs "
        "leader 21539.5 (tick 0.25, order ct-1)"
    )
    within = {"avg_price": D("21540.00"), "max_ticks": 2}
    assert slippage_finding(**{**_slip_args(), **within}) is None
    assert slippage_finding(**{**_slip_args(), "max_ticks": None}) is None
    rejected = rejected_order_finding(
        account="One", side="buy", qty=9, symbol="MNQH5", broker_reason="", client_order_id="c"
    )
    assert incident_lock_text(rejected) == (
        "incident: rejected_order: One: buy 9 MNQH5 rejected by the broker: no reason given "
        "(order c)"
    )


def _slip_args() -> dict:
    return {
        "account": "One",
        "side": "buy",
        "qty": 1,
        "symbol": "MNQH5",
        "avg_price": D("21541.00"),
        "leader_price": D("21539.50"),
        "tick_size": D("0.25"),
        "max_ticks": 1,
        "client_order_id": "c",
    }


# -- properties -----------------------------------------------------------------------

money = st.decimals(min_value=-3_000, max_value=3_000, places=2)
marks = st.lists(st.tuples(money, money), min_size=1, max_size=30)
limits_st = st.builds(
    RiskLimits,
    daily_loss=st.none() | st.decimals(min_value=1, max_value=2_000, places=2),
    max_drawdown=st.none() | st.decimals(min_value=1, max_value=3_000, places=2),
    drawdown_mode=st.sampled_from(list(DrawdownMode)),
    profit_target=st.none() | st.decimals(min_value=1, max_value=5_000, places=2),
    daily_profit_target=st.none() | st.decimals(min_value=1, max_value=3_000, places=2),
    flatten_on_breach=st.booleans(),
)
openings = st.decimals(min_value=40_000, max_value=60_000, places=2)


@given(limits=limits_st, marks=marks, balance=openings)
def test_a_halted_account_stays_halted_until_the_roll(
    limits: RiskLimits, marks: list[tuple[Decimal, Decimal]], balance: Decimal
) -> None:
    state = _open(balance)
    halted_at = None
    for i, (pnl, realized) in enumerate(marks):
        check = _check(state, limits, pnl, realized)
        if halted_at is not None:
            assert check.halt is None and check.state.halt == state.halt  # sticky, unchanged
        elif check.halt is not None:
            halted_at = i
            assert check.state.halt == check.halt.text
            assert check.flatten == (check.halt.code.is_loss and limits.flatten_on_breach)
        state = check.state
    rolled = session_roll(
        state, trading_date=DAY + timedelta(days=1), realized_since=D(0), carried_in=D(0)
    )
    assert rolled.halt is None and not rolled.flatten_due


@given(limits=limits_st, marks=marks, balance=openings, realized=money, carried=money)
def test_high_water_never_falls_and_follows_equity(
    limits: RiskLimits,
    marks: list[tuple[Decimal, Decimal]],
    balance: Decimal,
    realized: Decimal,
    carried: Decimal,
) -> None:
    state = _open(balance)
    for pnl, session_realized in marks:
        new = _check(state, limits, pnl, session_realized).state
        assert new.high_water >= state.high_water
        assert new.high_water >= state.equity(pnl)
        assert new.eod_high_water == state.eod_high_water  # only a roll moves it
        state = new
    rolled = session_roll(
        state, trading_date=DAY + timedelta(days=1), realized_since=realized, carried_in=carried
    )
    assert rolled.high_water >= state.high_water
    assert rolled.eod_high_water >= state.eod_high_water
    assert rolled.opening_balance == state.opening_balance + realized


@given(
    mode=st.sampled_from([DrawdownMode.TRAILING_INTRADAY, DrawdownMode.TRAILING_EOD]),
    max_drawdown=st.decimals(min_value=1, max_value=5_000, places=2),
    marks=marks,
    balance=openings,
)
def test_trailing_floor_stops_at_the_starting_balance_and_never_falls(
    mode: DrawdownMode,
    max_drawdown: Decimal,
    marks: list[tuple[Decimal, Decimal]],
    balance: Decimal,
) -> None:
    limits = RiskLimits(max_drawdown=max_drawdown, drawdown_mode=mode)
    state = _open(balance)
    floor = None
    for pnl, realized in marks:
        view = engine_view(
            state, limits, starting_balance=START, session_pnl=pnl, realized=realized
        )
        assert view.drawdown_floor is not None
        # Topstep: the trail locks at the starting balance; never below static.
        assert START - max_drawdown <= view.drawdown_floor <= START
        state = _check(state, limits, pnl, realized).state
        # The floor a later mark sees is never below the one seen before.
        later = engine_view(
            state, limits, starting_balance=START, session_pnl=pnl, realized=realized
        )
        assert later.drawdown_floor is not None and later.drawdown_floor >= view.drawdown_floor
        if floor is not None and mode is DrawdownMode.TRAILING_EOD:
            assert view.drawdown_floor == floor  # end of day: fixed within a session
        floor = view.drawdown_floor


@given(
    target=st.decimals(min_value=1, max_value=3_000, places=2),
    marks=marks,
    balance=openings,
    flatten=st.booleans(),
)
def test_daily_profit_target_halts_at_the_first_mark_that_reaches_it(
    target: Decimal, marks: list[tuple[Decimal, Decimal]], balance: Decimal, flatten: bool
) -> None:
    # With no other limit, the halt comes exactly at the first mark whose
    # session PnL (realized + unrealized) is >= the target, once, with its
    # code, and never makes a flatten due.
    limits = RiskLimits(daily_profit_target=target, flatten_on_breach=flatten)
    expected = next((i for i, (pnl, _) in enumerate(marks) if pnl >= target), None)
    state = _open(balance)
    halts = []
    for i, (pnl, realized) in enumerate(marks):
        check = _check(state, limits, pnl, realized)
        if check.halt is not None:
            halts.append((i, check.halt.code))
        assert not check.flatten and not check.state.flatten_due
        state = check.state
    assert halts == ([] if expected is None else [(expected, ReasonCode.DAILY_PROFIT_TARGET)])
