"""Layer 2 of the risk engine as state and transitions: one implementation for
live copying, the ``replay`` command, the pre-session check and the bench.

An account's session state (:class:`SessionState`) moves through three
transitions, each a pure function of the old state and the figures the caller
measured (no clock: the trading date comes in; no I/O: the caller persists):

* :func:`session_open` / :func:`session_roll`: the CME session start
  (17:00 America/Chicago, :mod:`routing.engine.sessions`; CME Globex hours,
  shared/data/SOURCES.md section 8). Opening balance = the previous opening +
  the realized PnL since it; the unrealized PnL open positions carry in
  belongs to the opening equity (futures are marked to market daily); both
  high-water marks take the opening equity; a halt and a due flatten end.
* :func:`account_check`: one mark of the account. The intraday high-water
  mark follows equity (never falls within a session); an account not halted
  that reached its daily loss, its drawdown floor, its consistency lock or
  its daily profit target is halted until the roll (a sticky halt: an
  account that gives the profit back stays done for the day), and a loss
  halt (daily loss, drawdown; never the consistency lock or the profit
  target, profit rules) with *flatten on breach* on makes a flatten due.
* :func:`route_check`: the route's summed session loss reaching its max
  session loss locks it (level 4). Incidents found in a broker's answer lock
  it too: :func:`slippage_finding` (a fill further than the route's
  ``max_slippage_ticks`` from the leader's price) and
  :func:`rejected_order_finding`; the lock's reason is
  :func:`incident_lock_text`.

Every halt and lock carries a :class:`Reason`: a stable code and the human
sentence with the numbers (``"daily loss 375.00 ≥ limit 375.00"``), the
text journaled live and printed by the replay. Drawdown kinds and where the
trailing floor stops follow Topstep's and Apex's rules
(:class:`routing.engine.limits.DrawdownMode`,
:func:`routing.engine.risk.drawdown_floor`). Money is ``Decimal`` dollars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from routing.engine.limits import AccountSession, DrawdownMode, RiskLimits, RouteLevel, RouteLimits
from routing.engine.risk import (
    check_consistency,
    check_daily_loss,
    check_daily_profit_target,
    check_drawdown,
    check_route_session_loss,
    drawdown_floor,
)

_ZERO = Decimal(0)


class ReasonCode(StrEnum):
    """Why an account halted or a route locked: stable codes for journals,
    JSON lines and tests (the human text goes beside them)."""

    DAILY_LOSS = "daily_loss"  # session loss (realized + unrealized) reached the limit
    DRAWDOWN = "drawdown"  # equity at or below the drawdown floor
    CONSISTENCY = "consistency"  # session profit over the consistency share of the target
    DAILY_PROFIT_TARGET = "daily_profit_target"  # session PnL reached the day's profit target
    ROUTE_SESSION_LOSS = "route_session_loss"  # the followers' summed loss reached the route's
    SLIPPAGE = "slippage"  # a follower fill too far from the leader's price (incident)
    REJECTED_ORDER = "rejected_order"  # the broker rejected a copy order (incident)

    @property
    def is_loss(self) -> bool:
        """True for the account losses a *flatten on breach* closes positions on."""
        return self in (ReasonCode.DAILY_LOSS, ReasonCode.DRAWDOWN)


@dataclass(frozen=True, slots=True)
class Reason:
    """A halt's or a lock's reason: ``code`` and the sentence with the numbers."""

    code: ReasonCode
    text: str

    def __str__(self) -> str:
        return self.text


class SessionState(NamedTuple):
    """One account's layer-2 state for one CME session (dollars).

    ``opening_balance`` the balance when the session opened; ``carried_in``
    the unrealized PnL its open positions carried into it (part of the
    opening equity, not of the session's PnL); ``high_water`` the highest
    equity seen (intraday, open profit included: Apex's trailing threshold)
    and ``eod_high_water`` the highest opening equity (end of day: Topstep's
    Maximum Loss Limit); ``halt`` the reason the account takes no new entries
    until the next session, or ``None``; ``flatten_due`` True when a loss halt
    with flatten on breach is waiting for its positions to be closed.

    Named tuples, this and :class:`AccountCheck` (as
    :class:`routing.engine.limits.AccountSession`): one of each is made per
    follower per leader event, and a frozen dataclass takes several times as
    long to make (issue 9, item 3). Change one with ``_replace``.
    """

    trading_date: date
    opening_balance: Decimal
    high_water: Decimal
    eod_high_water: Decimal
    carried_in: Decimal = _ZERO
    halt: str | None = None
    flatten_due: bool = False

    @property
    def opening_equity(self) -> Decimal:
        return self.opening_balance + self.carried_in

    def equity(self, session_pnl: Decimal) -> Decimal:
        """Equity = opening balance + carried in + session PnL (realized +
        unrealized since the open - carried in), dollars."""
        return self.opening_equity + session_pnl


def session_open(
    *,
    trading_date: date,
    balance: Decimal,
    starting_balance: Decimal,
    carried_in: Decimal = _ZERO,
) -> SessionState:
    """An account's first session: opening balance = its ``balance``; both
    high-water marks = the opening equity, or the ``starting_balance`` when
    higher (a trailing floor never starts below the static one)."""
    high = max(balance + carried_in, starting_balance)
    return SessionState(
        trading_date=trading_date,
        opening_balance=balance,
        carried_in=carried_in,
        high_water=high,
        eod_high_water=high,
    )


def session_roll(
    state: SessionState,
    *,
    trading_date: date,
    realized_since: Decimal,
    carried_in: Decimal,
) -> SessionState:
    """``state`` rolled into the session of ``trading_date``.

    ``realized_since``: realized PnL (dollars) of the fills since ``state``'s
    session opened; ``carried_in``: the unrealized PnL of the positions open
    at the roll, at the closing session's last marks. Opening balance =
    previous opening + ``realized_since``; both high-water marks rise to the
    opening equity when below it; the halt and a due flatten end. Rolling
    into the same trading date returns ``state`` unchanged (a redelivered
    reset applies once); into an earlier one raises ``ValueError``.
    """
    if trading_date == state.trading_date:
        return state
    if trading_date < state.trading_date:
        raise ValueError(f"cannot roll session {state.trading_date} back to {trading_date}")
    opening = state.opening_balance + realized_since
    equity = opening + carried_in
    return SessionState(
        trading_date=trading_date,
        opening_balance=opening,
        carried_in=carried_in,
        high_water=max(state.high_water, equity),
        eod_high_water=max(state.eod_high_water, equity),
    )


def engine_view(
    state: SessionState,
    limits: RiskLimits,
    *,
    starting_balance: Decimal,
    session_pnl: Decimal,
    realized: Decimal,
) -> AccountSession:
    """The layer-1 checks' view of ``state`` at a mark: equity, the session's
    ``realized`` profit, the drawdown floor (``None`` without a drawdown
    limit; trailing end of day trails the end-of-day mark, intraday the
    intraday mark including this equity) and the halt."""
    equity = state.equity(session_pnl)
    floor = None
    if limits.max_drawdown is not None:
        high = (
            state.eod_high_water
            if limits.drawdown_mode is DrawdownMode.TRAILING_EOD
            else max(state.high_water, equity)
        )
        floor = drawdown_floor(limits.drawdown_mode, limits.max_drawdown, starting_balance, high)
    return AccountSession(
        trading_date=state.trading_date,
        halt=state.halt,
        equity=equity,
        realized=realized,
        drawdown_floor=floor,
    )


def breaches(view: AccountSession, session_pnl: Decimal, limits: RiskLimits) -> tuple[Reason, ...]:
    """Every account limit ``view`` is at or past, in order: daily loss,
    drawdown floor, consistency lock, daily profit target (empty: none). The
    first is the halt's."""
    daily = check_daily_loss(session_pnl, limits)
    drawdown = check_drawdown(view, limits)
    consistency = check_consistency(view, limits)
    target = check_daily_profit_target(session_pnl, limits)
    if daily is None and drawdown is None and consistency is None and target is None:
        # The usual answer, once per follower per leader event: no reason to build.
        return ()
    return tuple(
        Reason(code, text)
        for code, text in (
            (ReasonCode.DAILY_LOSS, daily),
            (ReasonCode.DRAWDOWN, drawdown),
            (ReasonCode.CONSISTENCY, consistency),
            (ReasonCode.DAILY_PROFIT_TARGET, target),
        )
        if text is not None
    )


class AccountCheck(NamedTuple):
    """The result of :func:`account_check`: the new ``state``, its ``view``
    for the layer-1 checks (halt applied), and ``halt``, the reason when this
    mark halted the account (``None``: no new halt). ``flatten`` is True when
    this halt makes a flatten due."""

    state: SessionState
    view: AccountSession
    halt: Reason | None = None
    flatten: bool = False


def account_check(
    state: SessionState,
    limits: RiskLimits,
    *,
    starting_balance: Decimal,
    session_pnl: Decimal,
    realized: Decimal,
) -> AccountCheck:
    """One mark of the account: ``session_pnl`` = realized + unrealized since
    the open - carried in, ``realized`` the session's realized PnL (dollars).

    The intraday high-water mark rises to the equity; an account not halted
    that is past a limit (:func:`breaches`) halts with the first reason; a
    loss halt with ``limits.flatten_on_breach`` makes a flatten due. A halted
    account stays halted (only :func:`session_roll` ends it).
    """
    view = engine_view(
        state, limits, starting_balance=starting_balance, session_pnl=session_pnl, realized=realized
    )
    assert view.equity is not None  # engine_view always computes it
    # A mark below the high-water mark leaves the state as it is (the same
    # value; a copy costs more than the rest of the check).
    new = state._replace(high_water=view.equity) if view.equity > state.high_water else state
    if state.halt is not None:
        return AccountCheck(new, view)
    found = breaches(view, session_pnl, limits)
    if not found:
        return AccountCheck(new, view)
    reason = found[0]
    flatten = reason.code.is_loss and limits.flatten_on_breach
    new = new._replace(halt=reason.text, flatten_due=new.flatten_due or flatten)
    return AccountCheck(new, view._replace(halt=reason.text), reason, flatten)


def route_session_loss(route_pnl: Decimal, limits: RouteLimits) -> Reason | None:
    """The route's max session loss reached by the followers' summed session
    PnL (dollars), or ``None``; the rule itself, whatever the level."""
    text = check_route_session_loss(route_pnl, limits)
    return None if text is None else Reason(ReasonCode.ROUTE_SESSION_LOSS, text)


def route_check(route_pnl: Decimal, limits: RouteLimits) -> Reason | None:
    """The lock due now on a route at ``limits.level``: its session loss
    reached (:func:`route_session_loss`); ``None`` when already locked."""
    if limits.level is RouteLevel.LOCKED:
        return None
    return route_session_loss(route_pnl, limits)


def plain(value: Decimal) -> Decimal:
    """``6.00`` -> ``6``, ``21001.500000`` -> ``21001.5``: figures as people write them."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


@dataclass(frozen=True, slots=True)
class Slippage:
    """A slippage incident: ``reason`` (the detail sentence) and ``ticks``,
    ``|avg fill - leader price| / tick size`` rounded to 0.01, as shown."""

    reason: Reason
    ticks: Decimal


def slippage_finding(
    *,
    account: str,
    side: str,
    qty: int,
    symbol: str,
    avg_price: Decimal,
    leader_price: Decimal,
    tick_size: Decimal,
    max_ticks: int | None,
    client_order_id: str,
) -> Slippage | None:
    """Slippage beyond the route's ``max_ticks`` (``None``: no limit) of one
    market copy in the leader's contract or its mini/micro (the caller
    checks that: another underlying has no comparable price). ``avg_price``
    the follower's average fill, ``leader_price`` the leader's, both price
    points; ``qty`` contracts filled. ``None`` when within the limit."""
    if max_ticks is None:
        return None
    ticks = abs(avg_price - leader_price) / tick_size
    if ticks <= max_ticks:
        return None
    shown = plain(ticks.quantize(Decimal("0.01")))
    return Slippage(
        Reason(
            ReasonCode.SLIPPAGE,
            f"slipped {shown} ticks > max {max_ticks} on {symbol}: {account} {side} "
            f"{qty} @ avg {plain(avg_price)} vs leader {plain(leader_price)} "
            f"(tick {plain(tick_size)}, order {client_order_id})",
        ),
        shown,
    )


def rejected_order_finding(
    *, account: str, side: str, qty: int, symbol: str, broker_reason: str, client_order_id: str
) -> Reason:
    """A copy order the broker rejected: an incident that locks the route."""
    return Reason(
        ReasonCode.REJECTED_ORDER,
        f"{account}: {side} {qty} {symbol} rejected by the broker: "
        f"{broker_reason or 'no reason given'} (order {client_order_id})",
    )


def incident_lock_text(reason: Reason) -> str:
    """The route lock's reason for an incident, as the route level shows it."""
    return f"incident: {reason.code.value}: {reason.text}"
