"""Layer 2 of the risk engine: accounts watched while positions are open.

Daily loss = realized + unrealized PnL at current marks (the paper broker's
price feed, written to the journal's positions by :func:`positions_revalue`).
When an account reaches its daily loss limit or its drawdown floor, or locks
on consistency, new mirroring halts for that account only, until the next
session (:func:`routing.services.account_sessions.account_halt`); its open
positions stay open unless its *flatten on breach* setting is on (then the
session row is marked ``flatten_due`` and the engine worker closes them). A
route whose followers' summed session loss reaches its max session loss goes
to level 4 (issue "The risk engine", Layer 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from accounts.models import BrokerAccount
from journal.models import Position
from journal.services import positions_mark
from routing.engine.limits import AccountSession as EngineSession
from routing.engine.limits import RiskLimits, RouteLevel
from routing.engine.risk import (
    check_consistency,
    check_daily_loss,
    check_drawdown,
    check_route_session_loss,
)
from routing.engine.sessions import trading_date
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec
from routing.models import AccountSession, CopyGroup, Follower, RiskLimit
from routing.selectors import session_pnl_by_account
from routing.services.account_sessions import (
    account_halt,
    account_session_current,
    engine_session,
    session_realized,
)
from routing.services.route_levels import route_lock


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """One follower account's risk figures now: session PnL (dollars,
    realized + unrealized), the engine's session state and its limits."""

    account: BrokerAccount
    row: AccountSession
    limits: RiskLimits
    session_pnl: Decimal
    state: EngineSession


def limits_of(account: BrokerAccount) -> RiskLimits:
    """The account's risk limits for the engine (none set: no limits).

    Raises ``ValueError`` naming a stored limit the engine refuses.
    """
    try:
        return account.risk_limit.to_engine()
    except RiskLimit.DoesNotExist:
        return RiskLimits()


def accounts_risk(accounts: Sequence[BrokerAccount], *, at: datetime) -> dict[int, AccountRisk]:
    """Risk figures per account id at aware ``at``, each account's session
    row made current first (a missed session reset catches up here)."""
    ids = [a.pk for a in accounts]
    pnl = session_pnl_by_account(ids, at)
    realized = session_realized(ids, at)
    # The current rows in one read; only an account whose session is not
    # reset yet goes through the (race-safe) reset one by one.
    current = {
        row.account_id: row
        for row in AccountSession.objects.filter(account_id__in=ids, trading_date=trading_date(at))
    }
    result = {}
    for account in accounts:
        row = current.get(account.pk) or account_session_current(account=account, at=at)
        row.account = account  # the halt's journal names it without a read
        limits = limits_of(account)
        state = engine_session(
            row,
            account=account,
            limits=limits,
            session_pnl=pnl[account.pk],
            realized=realized[account.pk],
        )
        result[account.pk] = AccountRisk(account, row, limits, pnl[account.pk], state)
    return result


def breach_of(risk: AccountRisk) -> tuple[str, bool] | None:
    """``(reason, may flatten)`` when the account must halt now, else ``None``.

    Daily loss and the drawdown floor are losses (a flatten on breach closes
    the positions); the consistency lock is a profit rule (never flattens).
    """
    loss = check_daily_loss(risk.session_pnl, risk.limits) or (
        check_drawdown(risk.state, risk.limits) if risk.limits.max_drawdown is not None else None
    )
    if loss is not None:
        return loss, True
    consistency = check_consistency(risk.state, risk.limits)
    if consistency is not None:
        return consistency, False
    return None


def account_breaches_apply(
    risks: Mapping[int, AccountRisk], *, at: datetime, group_of: Mapping[int, int]
) -> dict[int, AccountRisk]:
    """Halt every account in ``risks`` that breached (journaled), raise the
    intraday high-water marks, and return ``risks`` with the halts applied.

    ``group_of`` maps account id -> the group it follows (for the journal).
    """
    updated = {}
    raised = []
    for risk in risks.values():
        row, state = risk.row, risk.state
        if state.equity is not None and state.equity > row.high_water:
            row.high_water = state.equity
            raised.append(row)
    if raised:
        # One statement for every mark raised; GREATEST keeps a higher mark a
        # concurrent pass wrote meanwhile (the mark never goes down).
        _high_water_raise(raised)
    for account_id, risk in risks.items():
        row, state = risk.row, risk.state
        breach = None if row.halted_at else breach_of(risk)
        if breach is not None:
            reason, loss = breach
            halted = account_halt(row=row, reason=reason, at=at, group_id=group_of.get(account_id))
            if halted and loss and risk.limits.flatten_on_breach:
                AccountSession.objects.filter(pk=row.pk).update(flatten_due=True)
                row.flatten_due = True
            state = EngineSession(
                trading_date=state.trading_date,
                halt=row.halt_reason,
                equity=state.equity,
                realized=state.realized,
                drawdown_floor=state.drawdown_floor,
            )
        updated[account_id] = AccountRisk(risk.account, row, risk.limits, risk.session_pnl, state)
    return updated


def _high_water_raise(rows: Sequence[AccountSession]) -> None:
    """Store each row's raised intraday high-water mark (its ``high_water``),
    never lowering a mark stored meanwhile."""
    marks = {row.pk: row.high_water for row in rows}
    field = AccountSession._meta.get_field("high_water")
    for row in rows:
        row.high_water = Greatest(F("high_water"), Value(marks[row.pk], output_field=field))
    AccountSession.objects.bulk_update(rows, ["high_water"])
    for row in rows:
        row.high_water = marks[row.pk]


def route_session_loss_check(
    group: CopyGroup, risks: Mapping[int, AccountRisk], *, at: datetime
) -> bool:
    """Lock ``group`` (level 4) when its followers' summed session loss
    reached its max session loss; True when this call locked it."""
    if group.level == RouteLevel.LOCKED:
        return False
    pnl = sum((r.session_pnl for r in risks.values()), Decimal(0))
    reason = check_route_session_loss(pnl, group.route_limits())
    if reason is None:
        return False
    return route_lock(group=group, reason=reason, actor_label="risk", at=at)


def risk_watch(*, at: datetime) -> dict[int, str]:
    """One pass of layer 2 over every follower account: halts, route locks.

    Returns the accounts whose positions are due to be flattened (halted on
    a loss with flatten on breach on, not flattened yet): id -> halt reason.
    """
    followers = list(
        Follower.objects.select_related("account", "account__risk_limit", "group").order_by("pk")
    )
    by_group: dict[int, list[Follower]] = {}
    for f in followers:
        by_group.setdefault(f.group_id, []).append(f)
    group_of = {f.account_id: f.group_id for f in followers}
    risks = accounts_risk([f.account for f in followers], at=at)
    risks = account_breaches_apply(risks, at=at, group_of=group_of)
    for members in by_group.values():
        group = members[0].group
        route_session_loss_check(group, {f.account_id: risks[f.account_id] for f in members}, at=at)
    return {
        account_id: risk.row.halt_reason
        for account_id, risk in risks.items()
        if risk.row.flatten_due and risk.row.flattened_at is None
    }


@transaction.atomic
def positions_revalue(marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec]) -> None:
    """Revalue every open position in a contract of ``marks`` (contract ->
    last price, points) at that price; contracts without a spec are skipped
    (their PnL cannot be priced, and the fill path already refused them)."""
    held = set(
        Position.objects.exclude(qty=0)
        .filter(symbol__in=list(marks))
        .values_list("symbol", flat=True)
    )
    for symbol in sorted(held):
        try:
            spec = specs.get(root_of(symbol))
        except SymbolError:
            spec = None
        if spec is None:
            continue
        positions_mark(
            account_ids=None, symbol=symbol, price=marks[symbol], point_value=spec.point_value
        )


def open_position_symbols() -> list[str]:
    """Contracts in which any account holds a position (for marking)."""
    return sorted(set(Position.objects.exclude(qty=0).values_list("symbol", flat=True)))
