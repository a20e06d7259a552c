"""The caps of layer 1: how much of a follower's entry fits its limits.

After the gates (:mod:`routing.engine.risk`) let an entry through, each
cap in turn may scale it down to fit or block it (the account's
``on_breach``): contracts per order, per position, per account on the
route, percent-of-balance position cap, total exposure cap, route total
contracts. Every scale-down or denial is a sentence naming the cap and the
numbers. :class:`EntryRules` holds what one route's limits and the
contract specs fix for every entry of one leader event, worked out once.

Pure: the caller passes every figure in.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import NamedTuple

from routing.engine.limits import OnBreach, RouteLimits
from routing.engine.symbols import SymbolError, root_of, spec_of
from routing.engine.types import ContractSpec, FollowerState

CENT = Decimal("0.01")
_BLOCK = OnBreach.BLOCK


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


class EntryRules:
    """What ``route`` (its limits) and ``specs`` (product root -> contract
    spec) fix for every entry of one leader event: ``refusal``, why the
    route's level refuses entries (``None``: it does not), and each
    contract's risk per contract, looked up once.

    Made once per event by :func:`routing.engine.copier.decide_copies`
    (:func:`routing.engine.risk.check_entry` makes one per call): the same
    figures for each follower, not worked out again for each (issue 9, item 3).
    """

    __slots__ = ("_per_contract", "_roots", "refusal", "route", "specs")

    def __init__(
        self, route: RouteLimits, specs: Mapping[str, ContractSpec], refusal: str | None
    ) -> None:
        self.route, self.specs, self.refusal = route, specs, refusal
        self._per_contract: dict[str, Decimal | str] = {}
        self._roots: dict[str, str | None] = {}

    def root(self, symbol: str) -> str | None:
        """The product root of contract ``symbol``, ``None`` when unreadable."""
        try:
            return self._roots[symbol]
        except KeyError:
            try:
                found: str | None = root_of(symbol)
            except SymbolError:
                found = None
            self._roots[symbol] = found
            return found

    def per_contract(self, symbol: str) -> Decimal | str:
        """Dollars at risk per contract of ``symbol`` (0 without a stop
        distance), or why it cannot be priced (no readable code, no spec)."""
        found = self._per_contract.get(symbol)
        if found is None:
            spec = spec_of(symbol, self.specs)
            if spec is None:
                found = f"no contract spec for {symbol}: exposure cannot be computed"
            else:
                found = risk_per_contract(spec, self.route) or Decimal(0)
            self._per_contract[symbol] = found
        return found


def _contracts(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def entry_caps(follower: FollowerState, rules: EntryRules, request: EntryRequest) -> EntryVerdict:
    """The entry of ``request`` for ``follower`` under each cap in turn (see
    the module): the contracts that fit, or 0 and ``blocked`` with the
    reasons. Exposure that cannot be priced (no spec, no stop distance)
    blocks, fail closed."""
    limits, route = follower.limits, rules.route
    exit_qty, held = request.exit_qty, request.held
    # This position's size after the exit part.
    base = (held if held > 0 else -held) - exit_qty
    if base < 0:
        base = 0
    # Each cap in turn: most entries fit every cap, so a rule's words are
    # put together only when its room scales or blocks the entry.
    qty, notes = request.entry_qty, []
    block = limits.on_breach is _BLOCK
    exposure: list[_Room] = []
    if limits.position_cap_pct is not None or limits.exposure_cap is not None:
        # Exposure that cannot be priced blocks before any cap is weighed.
        priced = _exposure_rooms(follower, rules, request, base)
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
    return EntryVerdict(qty, False, tuple(notes) if notes else ())


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
    follower: FollowerState, rules: EntryRules, request: EntryRequest, base: int
) -> list[_Room] | str:
    """Rooms (contracts) under the position cap and the exposure cap, or a
    blocking reason when exposure cannot be computed."""
    limits = follower.limits
    if rules.route.stop_ticks is None:
        return "exposure caps need the route's stop distance (stop ticks) to price risk"
    rpc: dict[str, Decimal] = {}
    # The entry's contract first, then the held ones in code order: a set's
    # order follows string hashing (PYTHONHASHSEED), and the reason must not.
    held_symbols = sorted(s for s, q in follower.positions.items() if q and s != request.symbol)
    for symbol in (request.symbol, *held_symbols):
        priced = rules.per_contract(symbol)
        if isinstance(priced, str):
            return priced
        rpc[symbol] = priced
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
