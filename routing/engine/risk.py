"""Pre-trade risk checks (layer 1) for the entry part of one follower order.

Checks apply to entries only: an exit always reduces risk, and blocking it
would leave the follower holding a position its leader no longer has
(DESIGN.md, Session: "a tripped daily limit blocks new entries, never closes
open positions"). Every denial or scale-down is a sentence naming the limit
and the numbers, e.g. ``"daily loss 375.00 ≥ limit 375.00"``.

Order of the checks (the first gate that refuses wins; then each cap may
scale the entry down further):

1. gates, which refuse the whole entry: route level (0 Off, 2 Reduced not
   reviewed, 4 Locked), route accounts beyond ``max_accounts``, the account's
   session halt, daily loss, drawdown floor, consistency lock, route session
   loss, direction, symbol allow/deny lists, max open positions;
2. caps, which scale the entry down to fit or block it (the account's
   ``on_breach``): contracts per order, per position, per account on the
   route, percent-of-balance position cap, total exposure cap, route total
   contracts (:mod:`routing.engine.entry_caps`).

Pure: the caller passes every figure in.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal

from routing.engine.entry_caps import (
    CENT,
    EntryRequest,
    EntryRules,
    EntryVerdict,
    entry_caps,
    risk_per_contract,
)
from routing.engine.limits import (
    AccountSession,
    Direction,
    DrawdownMode,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.engine.types import ContractSpec, FollowerState

__all__ = [  # the caps' types, named here too: one place to import the layer from
    "CENT",
    "EntryRequest",
    "EntryRules",
    "EntryVerdict",
    "check_entry",
    "entry_caps",
    "entry_gate",
    "entry_rules",
    "entry_verdict",
    "risk_per_contract",
]


def money(value: Decimal) -> str:
    """Dollars as the reasons print them: two decimals, thousands separated."""
    return f"{value:,.2f}"


def signed_money(value: Decimal) -> str:
    """Dollars with their sign, as the pages write money: ``+$1,234.50``,
    ``-$80.00``, ``$0.00``."""
    text = f"{abs(value):,.2f}"
    if text == "0.00":
        return "$0.00"
    return f"{'-' if value < 0 else '+'}${text}"


def drawdown_floor(
    mode: DrawdownMode,
    max_drawdown: Decimal,
    starting_balance: Decimal,
    high_water: Decimal,
) -> Decimal:
    """The equity (dollars) at or below which an account takes no new entries.

    Static: ``starting_balance - max_drawdown``. Trailing (intraday or end of
    day; the caller passes the matching ``high_water``): ``high_water -
    max_drawdown``, never above ``starting_balance`` (the trail locks there,
    as Topstep's Maximum Loss Limit does; Apex's threshold stops $100 above
    it, which this does not model) and never below the static floor.
    """
    static = starting_balance - max_drawdown
    if mode is DrawdownMode.STATIC:
        return static
    return max(static, min(high_water - max_drawdown, starting_balance))


def check_daily_loss(session_pnl: Decimal, limits: RiskLimits) -> str | None:
    """Deny when the session loss (realized + unrealized, dollars) reached the limit."""
    if limits.daily_loss is None:
        return None
    loss = -session_pnl
    if loss >= limits.daily_loss:
        return f"daily loss {money(loss)} \u2265 limit {money(limits.daily_loss)}"
    return None


def check_daily_profit_target(session_pnl: Decimal, limits: RiskLimits) -> str | None:
    """Deny when the session profit (realized + unrealized, dollars) reached
    the account's daily profit target: the day is done, entries stop until
    the next session (exits still go)."""
    target = limits.daily_profit_target
    if target is None or session_pnl < target:
        return None
    return (
        f"daily profit target reached: session PnL {money(session_pnl)} \u2265 "
        f"target {money(target)}"
    )


def check_drawdown(session: AccountSession, limits: RiskLimits) -> str | None:
    """Deny when the account's equity is at or below its drawdown floor.

    Fails closed: a drawdown limit without a known equity or floor denies.
    """
    if limits.max_drawdown is None:
        return None
    if session.equity is None or session.drawdown_floor is None:
        return "drawdown limit set but the session has no balance snapshot yet"
    if session.equity <= session.drawdown_floor:
        return (
            f"equity {money(session.equity)} \u2264 drawdown floor "
            f"{money(session.drawdown_floor)} ({limits.drawdown_mode.value.replace('_', ' ')}, "
            f"max drawdown {money(limits.max_drawdown)})"
        )
    return None


def check_consistency(session: AccountSession, limits: RiskLimits) -> str | None:
    """Deny once the session's realized profit exceeds the consistency share
    of the profit target."""
    if limits.profit_target is None:
        return None
    # Whole cents, rounded down, so the reason's figures compare as printed
    # (33% of 1,234.57 is 407.4081: 407.41 is over it, shown against 407.40).
    share = (limits.profit_target * limits.consistency_pct / 100).quantize(
        CENT, rounding=ROUND_FLOOR
    )
    if session.realized > share:
        return (
            f"consistency lock: session profit {money(session.realized)} > "
            f"{limits.consistency_pct.normalize():f}% of profit target "
            f"{money(limits.profit_target)} ({money(share)})"
        )
    return None


def check_route_session_loss(route_pnl: Decimal, route: RouteLimits) -> str | None:
    """Deny when the followers' summed session PnL (dollars) reached the
    route's max session loss (layer 1 refuses entries; layer 2 locks the route)."""
    if route.max_session_loss is None or -route_pnl < route.max_session_loss:
        return None
    return f"route session loss {money(-route_pnl)} \u2265 limit {money(route.max_session_loss)}"


def route_level_refusal(route: RouteLimits) -> str | None:
    """Why the route's level refuses entries, or ``None`` (levels 1 and 3, 2 reviewed)."""
    if route.level is RouteLevel.OFF:
        return "route level 0 Off: entries are not copied, exits are"
    if route.level is RouteLevel.LOCKED:
        return "route level 4 Locked: entries are not copied until it is unlocked with a reason"
    if route.level is RouteLevel.REDUCED and not route.reviewed:
        return "route level 2 Reduced: not marked reviewed this session"
    if route.level is RouteLevel.REDUCED and route.max_total_contracts is None:
        return "route level 2 Reduced needs a max total contracts cap"
    return None


def check_entry(
    follower: FollowerState,
    route: RouteLimits,
    request: EntryRequest,
    specs: Mapping[str, ContractSpec],
) -> EntryVerdict:
    """Run every layer-1 check on ``request`` for ``follower`` on ``route``.

    ``specs`` maps product roots to contract specs (exposure needs every held
    contract's tick value; a missing one blocks, fail closed).
    """
    return entry_verdict(follower, entry_rules(route, specs), request)


def entry_rules(route: RouteLimits, specs: Mapping[str, ContractSpec]) -> EntryRules:
    """The :class:`EntryRules` of ``route`` for one leader event's entries."""
    return EntryRules(route, specs, route_level_refusal(route))


def entry_verdict(
    follower: FollowerState, rules: EntryRules, request: EntryRequest
) -> EntryVerdict:
    """:func:`check_entry` under ``rules`` made once for the event
    (:func:`entry_rules`): the gates, then the caps."""
    gate = entry_gate(follower, rules, request)
    if gate is not None:
        return EntryVerdict(0, True, (gate,))
    return entry_caps(follower, rules, request)


_BOTH = Direction.BOTH


def entry_gate(follower: FollowerState, rules: EntryRules, request: EntryRequest) -> str | None:
    """Why the gates (see the module) refuse ``request`` for ``follower``
    under ``rules``: the first refusal, or ``None`` when every gate lets
    it through to the caps (:func:`routing.engine.entry_caps.entry_caps`)."""
    limits, session, route = follower.limits, follower.session, rules.route
    if rules.refusal is not None:
        return rules.refusal
    if not request.eligible:
        return (
            f"route max accounts {route.max_accounts}: this account is not among them"
            if route.max_accounts is not None
            else "this account is not among the route's eligible accounts"
        )
    if session.halt is not None:
        return f"halted this session: {session.halt}"
    # The first refusal, in order; a check runs only when its limit is set
    # (most accounts set a few: a call per unset limit per follower per event
    # was a tenth of the engine's time, issue 9 item 3).
    if limits.daily_loss is not None and -follower.session_pnl >= limits.daily_loss:
        return check_daily_loss(follower.session_pnl, limits)  # the words of the same test
    if limits.max_drawdown is not None and (refusal := check_drawdown(session, limits)):
        return refusal
    if limits.profit_target is not None and (refusal := check_consistency(session, limits)):
        return refusal
    if limits.daily_profit_target is not None and (
        refusal := check_daily_profit_target(follower.session_pnl, limits)
    ):
        return refusal
    if route.max_session_loss is not None and (
        refusal := check_route_session_loss(request.route_pnl, route)
    ):
        return refusal
    if limits.direction is not _BOTH:
        if limits.direction is Direction.LONG_ONLY and request.sign < 0:
            return "account is long only: short entries are not copied"
        if limits.direction is Direction.SHORT_ONLY and request.sign > 0:
            return "account is short only: long entries are not copied"
    root = rules.root(request.symbol)
    if root is None:
        return f"unreadable contract {request.symbol!r}"
    if root in limits.denied_roots:
        return f"{root} is on the account's deny list"
    if limits.allowed_roots and root not in limits.allowed_roots:
        return (
            f"{root} is not on the account's allow list ({', '.join(sorted(limits.allowed_roots))})"
        )
    if limits.max_open_positions is not None and request.held == 0:
        open_now = sum(1 for s, q in follower.positions.items() if q and s != request.symbol)
        if open_now >= limits.max_open_positions:
            return (
                f"open positions {open_now} \u2265 max open positions {limits.max_open_positions}"
            )
    return None
