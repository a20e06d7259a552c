"""The route budget: the pre-session check of one copy group (issue "The risk
engine", Route budget). Reads only; nothing here writes or journals.

It answers, for the CME session holding ``at`` (the trading date
:func:`routing.engine.sessions.trading_date` gives, as the route review uses):
which accounts receive orders, the most contracts per account and in total,
the route's loss limit, the risk per contract and the route exposure, which
account has the weakest cushion and whether it is still eligible, and whether
the exposure exceeds that cushion.

Definitions (DESIGN.md, Route exposure; money in ``Decimal`` dollars,
quantities whole contracts, ``None`` = unknown or not set, never 0):

* risk per contract = (route stop ticks + slippage ticks) x tick value of the
  contract followers trade: the leader's open contract (else its latest
  leader event's), through the group's contract mapping when one applies.
  Unknown contract, no contract spec, or no stop ticks: ``None`` (fail closed:
  the exposure is then unknown);
* a follower's max contracts = the smallest of its max contracts per position,
  the route's max contracts per account, and 1 at level 1 Test. Its max
  contracts per *order* is not a bound (several orders add up), so it is not
  used; none of the bounds set: ``None`` (unbounded);
* max total contracts = the smaller of the route's cap and the sum of the
  eligible followers' max contracts (when every one has a bound);
* route exposure = risk per contract x max total contracts;
* a follower's cushion = the smaller of daily loss limit + session PnL and
  equity - drawdown floor (``None`` with neither limit); the weakest cushion
  is the smallest over all followers that have one.

Eligible (may receive entries this session): enabled, among the first route
max accounts enabled followers (in the engine's order, by id), not halted this
session, daily loss not reached, above the drawdown floor, no consistency
lock. Route-wide refusals (paused, level 0 / 2 not reviewed / 4, route
session loss reached) are listed apart: then no account receives orders even
if eligible.

Session state: the account's :class:`routing.models.AccountSession` row for
the trading date; when the session reset has not run yet, the figures the
reset would compute (opening balance = previous opening + realized since,
high-water marks carried over: :func:`routing.engine.watch.session_roll`),
marked *provisional*. Halts and the route's session-loss lock are previewed
with layer 2's own rules (:func:`routing.engine.watch.breaches`,
:func:`routing.engine.watch.route_session_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from journal.models import Position
from routing.engine.limits import RiskLimits, RouteLevel, RouteLimits
from routing.engine.risk import money, risk_per_contract, route_level_refusal
from routing.engine.sessions import trading_date
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.watch import breaches, route_session_loss
from routing.models import (
    AccountSession,
    ContractSpec,
    CopyGroup,
    Follower,
    LeaderEvent,
)
from routing.selectors import session_pnl_by_account, session_realized_by_account
from routing.services.account_sessions import account_session_preview, engine_session
from routing.services.risk_watch import limits_of


@dataclass(frozen=True, slots=True)
class FollowerBudget:
    """One follower's part of the route budget.

    ``session_pnl`` realized + unrealized dollars this session; cushions in
    dollars (``None``: that limit is not set); ``cushion`` the smaller of the
    two. ``reasons`` says why the account is not eligible (empty: eligible).
    ``provisional`` is True when the session has not been reset yet and the
    session figures are the ones the reset would compute.
    """

    follower_id: int
    account_id: int
    account_name: str
    account_kind: str
    enabled: bool
    eligible: bool
    halt: str | None
    reasons: tuple[str, ...]
    max_contracts: int | None
    max_contracts_note: str
    max_contracts_per_order: int | None
    session_pnl: Decimal
    daily_loss_limit: Decimal | None
    daily_loss_cushion: Decimal | None
    equity: Decimal | None
    drawdown_floor: Decimal | None
    drawdown_cushion: Decimal | None
    cushion: Decimal | None
    provisional: bool


@dataclass(frozen=True, slots=True)
class RouteBudget:
    """The route budget of one group for one session; see the module docstring.

    ``refusals``: route-wide reasons no entry is copied this session (then
    ``receiving`` is empty). ``exposure_exceeds_cushion`` is ``None`` when the
    exposure or every cushion is unknown.
    """

    group_id: int
    group_name: str
    at: datetime
    trading_date: date
    level: RouteLevel
    level_label: str
    level_reason: str
    level_changed_at: datetime | None
    reviewed: bool
    reviewed_on: date | None
    reviewed_by: str
    limits: RouteLimits
    refusals: tuple[str, ...]
    contract: str | None
    contract_note: str
    tick_value: Decimal | None
    risk_per_contract: Decimal | None
    risk_note: str
    followers: tuple[FollowerBudget, ...]
    receiving: tuple[FollowerBudget, ...]
    max_total_contracts: int | None
    max_total_note: str
    max_route_loss: Decimal | None
    route_session_pnl: Decimal
    route_loss_room: Decimal | None
    exposure: Decimal | None
    exposure_note: str
    weakest: FollowerBudget | None
    exposure_exceeds_cushion: bool | None
    warnings: tuple[str, ...]


def route_budget(*, group: CopyGroup, at: datetime) -> RouteBudget:
    """The route budget of ``group`` for the session holding aware ``at``.

    Reads the group, its followers with their risk limits and session rows,
    fills and positions, the leader's latest contract and its spec. Never
    writes (no session reset, no journal entry).
    """
    day = trading_date(at)
    limits = group.route_limits(trading_date=day)
    followers = list(
        Follower.objects.filter(group=group)
        .select_related("account", "account__risk_limit")
        .order_by("pk")
    )
    account_ids = [f.account_id for f in followers]
    rows = {
        r.account_id: r
        for r in AccountSession.objects.filter(account_id__in=account_ids, trading_date=day)
    }
    # One aggregate of the session's fills serves both figures.
    realized = session_realized_by_account(account_ids, at)
    pnl = session_pnl_by_account(
        account_ids,
        at,
        realized=realized,
        carried={a: r.opening_unrealized for a, r in rows.items()},
    )
    enabled = [f.pk for f in followers if f.enabled]
    slots = set(enabled if limits.max_accounts is None else enabled[: limits.max_accounts])
    budgets = tuple(
        _follower_budget(
            f,
            limits=limits,
            row=rows.get(f.account_id),
            at=at,
            session_pnl=pnl[f.account_id],
            realized=realized[f.account_id],
            in_slots=f.pk in slots,
        )
        for f in followers
    )

    route_pnl = sum((b.session_pnl for b in budgets), Decimal(0))
    refusals = _refusals(group, limits, route_pnl)
    eligible = tuple(b for b in budgets if b.eligible)
    contract, contract_note, spec = _contract(group)
    warnings: list[str] = []
    if spec is None:
        rpc, tick_value, risk_note = None, None, f"unknown: {contract_note}"
    else:
        engine_spec = spec.to_engine()
        tick_value = engine_spec.tick_value
        rpc = risk_per_contract(engine_spec, limits)
        if rpc is None:
            risk_note = "not set: exposure cannot be computed (set the route's stop ticks)"
        else:
            risk_note = (
                f"({limits.stop_ticks} stop + {limits.slippage_ticks} slippage ticks) x "
                f"{money(tick_value)} tick value of {spec.root} = {money(rpc)}"
            )
    max_total, max_total_note = _max_total(limits, eligible)
    if max_total is None:
        warnings.append(
            "No bound on total contracts: set the route's max total contracts, or a max per "
            "position / route max per account for every eligible follower."
        )
    if rpc is not None and max_total is not None:
        exposure: Decimal | None = rpc * max_total
        exposure_note = f"{money(rpc)} x {max_total} contracts = {money(rpc * max_total)}"
    else:
        exposure = None
        missing = [
            name
            for name, value in (("risk per contract", rpc), ("max total contracts", max_total))
            if value is None
        ]
        exposure_note = f"unknown: {' and '.join(missing)} unknown"
        warnings.append(f"Route exposure cannot be computed: {' and '.join(missing)} unknown.")
    with_cushion = [b for b in budgets if b.cushion is not None]
    weakest = min(with_cushion, key=_cushion) if with_cushion else None
    if weakest is None:
        warnings.append("No follower has a daily loss or drawdown limit: no cushion to compare.")
    exceeds = (
        None
        if exposure is None or weakest is None or weakest.cushion is None
        else exposure > weakest.cushion
    )
    for b in budgets:
        if b.eligible and b.cushion is None:
            warnings.append(f"{b.account_name} has no daily loss or drawdown limit.")
    if limits.level is RouteLevel.REDUCED and limits.max_total_contracts is None:
        warnings.append(
            "Level 2 Reduced needs the route's max total contracts: entries are refused."
        )
    provisional = [b.account_name for b in budgets if b.provisional]
    if provisional:
        warnings.append(
            f"Session {day} not reset yet for {', '.join(provisional)}: their balance figures "
            "are what the reset will compute."
        )
    return RouteBudget(
        group_id=group.pk,
        group_name=group.name,
        at=at,
        trading_date=day,
        level=limits.level,
        level_label=limits.level.label,
        level_reason=group.level_reason,
        level_changed_at=group.level_changed_at,
        reviewed=limits.reviewed,
        reviewed_on=group.reviewed_on,
        reviewed_by=group.reviewed_by,
        limits=limits,
        refusals=refusals,
        contract=contract,
        contract_note=contract_note,
        tick_value=tick_value,
        risk_per_contract=rpc,
        risk_note=risk_note,
        followers=budgets,
        receiving=() if refusals else eligible,
        max_total_contracts=max_total,
        max_total_note=max_total_note,
        max_route_loss=limits.max_session_loss,
        route_session_pnl=route_pnl,
        route_loss_room=(
            None if limits.max_session_loss is None else limits.max_session_loss + route_pnl
        ),
        exposure=exposure,
        exposure_note=exposure_note,
        weakest=weakest,
        exposure_exceeds_cushion=exceeds,
        warnings=tuple(warnings),
    )


def _cushion(budget: FollowerBudget) -> Decimal:
    assert budget.cushion is not None  # only followers with a cushion are compared
    return budget.cushion


def _refusals(group: CopyGroup, limits: RouteLimits, route_pnl: Decimal) -> tuple[str, ...]:
    refusals = []
    if not group.enabled:
        refusals.append("route paused: entries are not copied, exits are")
    level = route_level_refusal(limits)
    if level is not None:
        refusals.append(level)
    route_loss = route_session_loss(route_pnl, limits)
    if route_loss is not None:
        refusals.append(route_loss.text)
    return tuple(refusals)


def _contract(group: CopyGroup) -> tuple[str | None, str, ContractSpec | None]:
    """``(follower contract or None, how it was found, its spec or None)``."""
    position = (
        Position.objects.filter(account_id=group.leader_id)
        .exclude(qty=0)
        .order_by("-updated_at", "-pk")
        .first()
    )
    if position is not None:
        symbol, source = position.symbol, "the leader's open position"
    else:
        event = (
            LeaderEvent.objects.filter(account_id=group.leader_id)
            .order_by("-occurred_at", "-pk")
            .first()
        )
        if event is None:
            return None, "the leader has no position and no fill yet: contract unknown", None
        symbol, source = event.symbol, "the leader's latest fill"
    try:
        contract = parse_contract(symbol)
    except SymbolError:
        return None, f"unreadable contract {symbol!r} ({source})", None
    root = contract.root
    mapped = group.mappings.filter(leader_root=root).values_list("follower_root", flat=True).first()
    if mapped:
        follower_symbol = contract.with_root(mapped).code
        note = f"{contract.code} from {source}, mapped {root} \u2192 {mapped}"
        root = mapped
    else:
        follower_symbol, note = contract.code, f"{contract.code} from {source}"
    spec = ContractSpec.objects.filter(root=root).first()
    if spec is None:
        return follower_symbol, f"{note}; no contract spec for {root}", None
    return follower_symbol, note, spec


def _max_total(limits: RouteLimits, eligible: tuple[FollowerBudget, ...]) -> tuple[int | None, str]:
    maxima = [b.max_contracts for b in eligible]
    summed, sum_note = None, ""
    if all(m is not None for m in maxima):
        summed = sum(m for m in maxima if m is not None)
        sum_note = (
            f"sum of the eligible followers' maxima {' + '.join(str(m) for m in maxima)} = {summed}"
            if maxima
            else "no eligible follower"
        )
    cap = limits.max_total_contracts
    if cap is not None and summed is not None:
        if summed < cap:
            return summed, f"{sum_note} (route cap {cap})"
        return cap, f"route max total contracts {cap} ({sum_note})"
    if cap is not None:
        return cap, f"route max total contracts {cap}"
    if summed is not None:
        return summed, f"{sum_note} (no route cap)"
    unbounded = [b.account_name for b in eligible if b.max_contracts is None]
    return None, f"unbounded: no route cap, and no max for {', '.join(unbounded)}"


def _follower_budget(
    follower: Follower,
    *,
    limits: RouteLimits,
    row: AccountSession | None,
    at: datetime,
    session_pnl: Decimal,
    realized: Decimal,
    in_slots: bool,
) -> FollowerBudget:
    account = follower.account
    try:
        risk = limits_of(account)
        broken = None
    except ValueError as exc:  # stored limits the engine refuses: block (fail closed)
        risk, broken = RiskLimits(), f"risk limits invalid: {exc}"
    provisional = row is None
    session_row = row
    if session_row is None:
        session_row = account_session_preview(account=account, at=at)
        # What the reset will carry in is opening equity, not the session's PnL.
        session_pnl -= session_row.opening_unrealized
    session = engine_session(
        session_row, account=account, limits=risk, session_pnl=session_pnl, realized=realized
    )
    reasons: list[str] = []
    if broken:
        reasons.append(broken)
    if not follower.enabled:
        reasons.append("follower paused")
    elif not in_slots:
        reasons.append(f"not among the route's first {limits.max_accounts} enabled followers")
    if session.halt is not None:
        reasons.append(f"halted this session: {session.halt}")
    # The limits layer 2 would halt the account on at this mark (the same rule).
    reasons.extend(b.text for b in breaches(session, session_pnl, risk))
    max_contracts, max_note = _account_max(risk, limits)
    daily = None if risk.daily_loss is None else risk.daily_loss + session_pnl
    drawdown = (
        None
        if risk.max_drawdown is None or session.equity is None or session.drawdown_floor is None
        else session.equity - session.drawdown_floor
    )
    cushions = [c for c in (daily, drawdown) if c is not None]
    return FollowerBudget(
        follower_id=follower.pk,
        account_id=account.pk,
        account_name=account.name,
        account_kind=account.kind,
        enabled=follower.enabled,
        eligible=not reasons,
        halt=session.halt,
        reasons=tuple(reasons),
        max_contracts=max_contracts,
        max_contracts_note=max_note,
        max_contracts_per_order=risk.max_contracts,
        session_pnl=session_pnl,
        daily_loss_limit=risk.daily_loss,
        daily_loss_cushion=daily,
        equity=session.equity,
        drawdown_floor=session.drawdown_floor,
        drawdown_cushion=drawdown,
        cushion=min(cushions) if cushions else None,
        provisional=provisional,
    )


def _account_max(risk: RiskLimits, limits: RouteLimits) -> tuple[int | None, str]:
    bounds = [
        (value, text)
        for value, text in (
            (risk.max_position, "max per position"),
            (limits.max_contracts_per_account, "route max per account"),
            (1 if limits.level is RouteLevel.TEST else None, "level 1 Test"),
        )
        if value is not None
    ]
    if not bounds:
        return None, "unbounded: no max per position, no route max per account"
    value = min(v for v, _ in bounds)
    return value, ", ".join(f"{text} {v}" for v, text in bounds)
