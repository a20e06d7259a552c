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
   contracts.

Pure: the caller passes every figure in.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import NamedTuple

from routing.engine.limits import (
    AccountSession,
    Direction,
    DrawdownMode,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec, FollowerState

CENT = Decimal("0.01")


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


def risk_per_contract(spec: ContractSpec, route: RouteLimits) -> Decimal | None:
    """Dollars at risk per contract: (stop ticks + slippage ticks) x tick value,
    or ``None`` when the route sets no stop distance."""
    if route.stop_ticks is None:
        return None
    return (route.stop_ticks + route.slippage_ticks) * spec.tick_value


class EntryVerdict(NamedTuple):
    """How much of an entry may go: ``qty`` contracts (0 = none).

    ``blocked`` is True when a rule refused it (as opposed to scaling it to a
    smaller size); ``notes`` are the reasons, in the order applied.
    """

    qty: int
    blocked: bool
    notes: tuple[str, ...]


class EntryRequest(NamedTuple):
    """One follower's entry, in context.

    ``symbol`` is the follower contract, ``sign`` +1 for a long entry, -1
    short; ``held`` the signed position there before the order; ``exit_qty``
    and ``entry_qty`` the parts of the order towards flat and beyond it;
    ``route_total`` contracts held across all the route's followers before
    this order; ``route_pnl`` the followers' summed session PnL (dollars).
    :func:`routing.engine.copier.decide_copies` passes 0 for either when
    the route sets no limit that reads it (max total contracts, max session
    loss).
    Named tuples, as :class:`~routing.engine.types.CopyDecision` is: one of
    each per follower entry, and a frozen dataclass costs several times the
    time to make (issue 9, item 3).
    """

    symbol: str
    sign: int
    held: int
    exit_qty: int
    entry_qty: int
    route_total: int
    route_pnl: Decimal
    eligible: bool


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
    gate = _gate(follower, route, request)
    if gate is not None:
        return EntryVerdict(0, True, (gate,))
    return _caps(follower, route, request, specs)


def _gate(follower: FollowerState, route: RouteLimits, request: EntryRequest) -> str | None:
    limits, session = follower.limits, follower.session
    refusal = route_level_refusal(route)
    if refusal is not None:
        return refusal
    if not request.eligible:
        return (
            f"route max accounts {route.max_accounts}: this account is not among them"
            if route.max_accounts is not None
            else "this account is not among the route's eligible accounts"
        )
    if session.halt is not None:
        return f"halted this session: {session.halt}"
    # The first refusal, in order: each check returns None when its limit is unset.
    refusal = (
        check_daily_loss(follower.session_pnl, limits)
        or check_drawdown(session, limits)
        or check_consistency(session, limits)
        or check_daily_profit_target(follower.session_pnl, limits)
        or check_route_session_loss(request.route_pnl, route)
    )
    if refusal is not None:
        return refusal
    if limits.direction is Direction.LONG_ONLY and request.sign < 0:
        return "account is long only: short entries are not copied"
    if limits.direction is Direction.SHORT_ONLY and request.sign > 0:
        return "account is short only: long entries are not copied"
    try:
        root = root_of(request.symbol)
    except SymbolError:
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


def _contracts(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _caps(
    follower: FollowerState,
    route: RouteLimits,
    request: EntryRequest,
    specs: Mapping[str, ContractSpec],
) -> EntryVerdict:
    limits = follower.limits
    exit_qty = request.exit_qty
    base = max(abs(request.held) - exit_qty, 0)  # this position's size after the exit part
    # Each cap in turn: most entries fit every cap, so a rule's words are
    # put together only when its room scales or blocks the entry.
    qty, notes = request.entry_qty, []
    block = limits.on_breach is OnBreach.BLOCK
    exposure: list[_Room] = []
    if limits.position_cap_pct is not None or limits.exposure_cap is not None:
        # Exposure that cannot be priced blocks before any cap is weighed.
        priced = _exposure_rooms(follower, route, request, specs, base)
        if isinstance(priced, str):
            return EntryVerdict(0, True, (priced,))
        exposure = priced
    if limits.max_contracts is not None:
        room = limits.max_contracts - exit_qty
        if qty > room:
            rule, figures = (
                (_MAX_ORDER_EXIT, (limits.max_contracts, exit_qty))
                if exit_qty
                else (_MAX_ORDER, (limits.max_contracts,))
            )
            qty = _fit(qty, room, block, rule, figures, notes)
            if not qty:
                return EntryVerdict(0, True, tuple(notes))
    if limits.max_position is not None:
        room = limits.max_position - base
        if qty > room:
            qty = _fit(qty, room, block, _MAX_POSITION, (limits.max_position, base), notes)
            if not qty:
                return EntryVerdict(0, True, tuple(notes))
    if route.max_contracts_per_account is not None:
        cap = route.max_contracts_per_account
        account_total = sum(map(abs, follower.positions.values())) - exit_qty
        if qty > cap - account_total:
            qty = _fit(
                qty, cap - account_total, block, _ROUTE_PER_ACCOUNT, (cap, account_total), notes
            )
            if not qty:
                return EntryVerdict(0, True, tuple(notes))
    for room, rule, figures in exposure:
        if qty > room:
            qty = _fit(qty, room, block, rule, figures, notes)
            if not qty:
                return EntryVerdict(0, True, tuple(notes))
    if route.max_total_contracts is not None:
        route_after_exit = request.route_total - exit_qty
        cap = route.max_total_contracts
        if qty > cap - route_after_exit:
            qty = _fit(
                qty, cap - route_after_exit, block, _ROUTE_TOTAL, (cap, route_after_exit), notes
            )
            if not qty:
                return EntryVerdict(0, True, tuple(notes))
    return EntryVerdict(qty, False, tuple(notes))


def _fit(
    qty: int, room: int, block: bool, rule: str, figures: tuple[object, ...], notes: list[str]
) -> int:
    """The entry of ``qty`` contracts under a cap leaving ``room`` (< ``qty``):
    ``room`` when it scales down (the note says so), 0 when it blocks (the
    account blocks on a breach, or no room is left)."""
    room = max(room, 0)
    if block or room == 0:
        notes.append(f"entry {qty} contracts > {room} allowed by {rule.format(*figures)}")
        return 0
    notes.append(f"entry scaled down {qty} \u2192 {room}: {rule.format(*figures)}")
    return room


# A cap's room (contracts) and its words: a template and its figures.
_Room = tuple[int, str, tuple[object, ...]]
_MAX_ORDER = "max contracts per order {}"
_MAX_ORDER_EXIT = "max contracts per order {} (exit part {})"
_MAX_POSITION = "max contracts per position {} (holds {})"
_ROUTE_PER_ACCOUNT = "route max contracts per account {} (holds {})"
_ROUTE_TOTAL = "route max total contracts {} (followers hold {})"
# Money figures as money() prints them: two decimals, thousands separated.
_POSITION_CAP = (
    "position cap {:f}% of balance {:,.2f} = {:,.2f} at {:,.2f} risk per contract (holds {})"
)
_EXPOSURE_CAP = "exposure cap {:,.2f} (exposure {:,.2f}, {:,.2f} risk per contract)"


def _exposure_rooms(
    follower: FollowerState,
    route: RouteLimits,
    request: EntryRequest,
    specs: Mapping[str, ContractSpec],
    base: int,
) -> list[_Room] | str:
    """Rooms (contracts) under the position cap and the exposure cap, or a
    blocking reason when exposure cannot be computed."""
    limits = follower.limits
    if route.stop_ticks is None:
        return "exposure caps need the route's stop distance (stop ticks) to price risk"
    rpc: dict[str, Decimal] = {}
    # The entry's contract first, then the held ones in code order: a set's
    # order follows string hashing (PYTHONHASHSEED), and the reason must not.
    held_symbols = sorted(s for s, q in follower.positions.items() if q and s != request.symbol)
    for symbol in (request.symbol, *held_symbols):
        try:
            spec = specs.get(root_of(symbol))
        except SymbolError:
            spec = None
        if spec is None:
            return f"no contract spec for {symbol}: exposure cannot be computed"
        rpc[symbol] = risk_per_contract(spec, route) or Decimal(0)
    per_contract = rpc[request.symbol]
    rooms: list[_Room] = []
    if limits.position_cap_pct is not None:
        balance = follower.balance
        if balance is None or balance <= 0:
            return "position cap in percent of balance needs the account balance"
        # Whole cents, rounded down: the reason prints cents, and the contracts
        # allowed must follow from the figure it prints (49,999.99 x 2% is
        # 999.9998: 9 contracts at 100.00, printed as 999.99, not 1,000.00).
        cap = (balance * limits.position_cap_pct / 100).quantize(CENT, rounding=ROUND_FLOOR)
        figures = (limits.position_cap_pct.normalize(), balance, cap, per_contract, base)
        rooms.append((_contracts(cap / per_contract) - base, _POSITION_CAP, figures))
    if limits.exposure_cap is not None:
        held = {s: abs(q) for s, q in follower.positions.items() if q}
        held[request.symbol] = base
        current = sum(q * rpc[s] for s, q in held.items())
        rooms.append(
            (
                _contracts((limits.exposure_cap - current) / per_contract),
                _EXPOSURE_CAP,
                (limits.exposure_cap, current, per_contract),
            )
        )
    return rooms
