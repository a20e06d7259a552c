"""Layer 2 of the risk engine: accounts watched while positions are open.

Daily loss = realized + unrealized PnL at current marks (for paper accounts
the paper exchange's prices on the account's own venue, written to the
journal's positions by :func:`positions_revalue`).
When an account reaches its daily loss limit or its drawdown floor, or locks
on consistency, new mirroring halts for that account only, until the next
session (:func:`routing.services.account_halts.accounts_halt`); its open
positions stay open unless its *flatten on breach* setting is on (then the
session row is marked ``flatten_due`` and the engine worker closes them). A
route whose followers' summed session loss reaches its max session loss goes
to level 4 (issue "The risk engine", Layer 2).

The rules are the engine's (:mod:`routing.engine.watch`, shared with the
replay and the pre-session check); this module reads the figures they need
and persists what they decide.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction

from accounts.models import BrokerAccount
from copytrade.core.bulk import bulk_set_columns
from journal.models import Position
from journal.services import positions_mark
from routing.engine.limits import AccountSession as EngineSession
from routing.engine.limits import RiskLimits
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec
from routing.engine.watch import AccountCheck, account_check, breaches, route_check
from routing.models import AccountSession, CopyGroup, Follower, RiskLimit
from routing.selectors import session_pnl_by_account, session_realized_by_account
from routing.services.account_halts import Halt, accounts_halt
from routing.services.account_sessions import (
    SessionRow,
    account_sessions_open,
    session_state_of,
)
from routing.services.feed import feed_publish_on_commit
from routing.services.route_levels import route_lock


class AccountRisk(NamedTuple):
    """One follower account's risk figures now: its session row (values),
    session PnL (dollars, realized + unrealized), the engine's session state
    and its limits; ``check``, this mark's
    :func:`routing.engine.watch.account_check` of the row (what
    :func:`account_breaches_apply` persists), worked out once with the state.
    A named tuple, made twice per follower per leader event (issue 9, item 3)."""

    account: BrokerAccount
    row: SessionRow
    limits: RiskLimits
    session_pnl: Decimal
    state: EngineSession
    check: AccountCheck


def limits_of(account: BrokerAccount) -> RiskLimits:
    """The account's risk limits for the engine (none set: no limits).

    Raises ``ValueError`` naming a stored limit the engine refuses.
    """
    try:
        return account.risk_limit.to_engine()
    except RiskLimit.DoesNotExist:
        return RiskLimits()


def sessions_current(accounts: Sequence[BrokerAccount], *, at: datetime) -> dict[int, SessionRow]:
    """Account id -> its session row for the trading date holding aware
    ``at``, each missing one created first (the reset, journaled, race-safe):
    one read when every row exists, a constant number of statements for
    the resets whatever their number
    (:func:`routing.services.account_sessions.account_sessions_open`).

    Call it before anything moves the accounts' marks at ``at``: the reset
    takes the PnL open positions carry into the session from their marks,
    and a mark moved by this event (or this pass) is today's PnL, not
    carried in (a loss it made would then never count against the day).
    """
    return account_sessions_open(accounts, at=at)[0]


def accounts_risk(
    accounts: Sequence[BrokerAccount],
    *,
    at: datetime,
    limits: Mapping[int, RiskLimits] | None = None,
    sessions: Mapping[int, SessionRow] | None = None,
    unrealized: Mapping[int, Decimal] | None = None,
) -> dict[int, AccountRisk]:
    """Risk figures per account id at aware ``at``, each account's session
    row made current first (a missed session reset catches up here).

    ``limits`` (account id -> risk limits, e.g. the cached routes') saves
    converting each account's stored limits again; an account missing from
    it is converted as :func:`limits_of` does. ``sessions`` (account id ->
    its current session row, :func:`sessions_current` read before the marks
    moved) saves reading them again; without it they are made current here.
    ``unrealized`` (account id -> open PnL as the marks stand now) saves
    reading it (:func:`routing.selectors.session_pnl_by_account`).
    Raises ``ValueError`` naming a stored limit the engine refuses.
    """
    figures = RiskFigures(accounts, at=at, limits=limits, sessions=sessions, unrealized=unrealized)
    return figures.risks(accounts)


class RiskFigures:
    """What :func:`accounts_risk` reads for ``accounts`` at aware ``at``,
    once (session rows, the session's realized and open PnL), and the risk
    of any of them worked out from it when asked (:meth:`risks`): the copy
    path works out its followers' risk a batch at a time, each batch as its
    orders are decided (:class:`routing.services.follower_state.FollowerStates`).
    Arguments as :func:`accounts_risk`'s."""

    def __init__(
        self,
        accounts: Sequence[BrokerAccount],
        *,
        at: datetime,
        limits: Mapping[int, RiskLimits] | None = None,
        sessions: Mapping[int, SessionRow] | None = None,
        unrealized: Mapping[int, Decimal] | None = None,
    ) -> None:
        ids = [a.id for a in accounts]
        # Every row exists before the PnL is read: the PnL open positions
        # carry in belongs to the opening equity, and counting it in the
        # session PnL too counted it twice on a session's first event (a
        # loser carried in read as today's loss and could halt the account;
        # a winner raised the high-water mark for good).
        current = dict(sessions) if sessions is not None else sessions_current(accounts, at=at)
        # One aggregate of the session's fills serves both the session PnL
        # and the realized figure.
        realized = session_realized_by_account(ids, at)
        self._pnl = session_pnl_by_account(
            ids,
            at,
            realized=realized,
            carried={a: current[a].opening_unrealized for a in ids},
            unrealized=unrealized,
        )
        self._current, self._realized, self._limits = current, realized, limits

    def risks(self, accounts: Sequence[BrokerAccount]) -> dict[int, AccountRisk]:
        """Account id -> its risk now, for ``accounts`` (among those the
        figures were read for: ``KeyError`` otherwise). Raises
        ``ValueError`` naming a stored limit the engine refuses."""
        current, realized, pnl, limits = self._current, self._realized, self._pnl, self._limits
        result = {}
        for account in accounts:
            pk = account.id
            row = current[pk]
            account_limits = limits.get(pk) if limits is not None else None
            if account_limits is None:
                account_limits = limits_of(account)
            check = account_check(
                session_state_of(row),
                account_limits,
                starting_balance=account.starting_balance,
                session_pnl=pnl[pk],
                realized=realized[pk],
            )
            # The row's own view (engine_session): the check's, before any
            # halt this mark makes (an account it halts had none).
            state = check.view if check.halt is None else check.view._replace(halt=None)
            result[pk] = AccountRisk(account, row, account_limits, pnl[pk], state, check)
        return result


def breach_of(risk: AccountRisk) -> tuple[str, bool] | None:
    """``(reason, may flatten)`` when the account is past a limit now, else
    ``None`` (:func:`routing.engine.watch.breaches`, the first one).

    Daily loss and the drawdown floor are losses (a flatten on breach closes
    the positions); the consistency lock is a profit rule (never flattens).
    """
    found = breaches(risk.state, risk.session_pnl, risk.limits)
    if not found:
        return None
    return found[0].text, found[0].code.is_loss


def account_breaches_apply(
    risks: Mapping[int, AccountRisk], *, at: datetime, group_of: Mapping[int, int]
) -> dict[int, AccountRisk]:
    """Persist one :func:`routing.engine.watch.account_check` per account in
    ``risks``: the raised intraday high-water mark, the halt (journaled with
    its reason and code) and the flatten it makes due; returns ``risks`` with
    the halts applied.

    ``group_of`` maps account id -> the group it follows (for the journal).
    """
    updated = {}
    raised: list[SessionRow] = []
    halts: list[Halt] = []
    for account_id, risk in risks.items():
        row, check = risk.row, risk.check
        if check.state.high_water > row.high_water:
            row = row._replace(high_water=check.state.high_water)
            raised.append(row)
        if check.halt is not None:
            # The halt's journal names the account without a read.
            halts.append(
                Halt(
                    row,
                    risk.account,
                    check.halt.text,
                    check.halt.code.value,
                    group_of.get(account_id),
                    check.flatten,
                )
            )
        updated[account_id] = AccountRisk(
            risk.account, row, risk.limits, risk.session_pnl, risk.state, check
        )
    # Every halt of the pass at once: many accounts reach their limit at the
    # same mark when the market moves hard.
    halted = accounts_halt(halts, at=at)
    for halt in halts:
        risk = updated[halt.account.pk]
        row = halted.get(halt.row.pk, halt.row)
        # Halted here (the row holds the reason) or by a concurrent pass
        # (halted all the same: its reason is in the journal).
        state = risk.state._replace(halt=row.halt_reason or halt.reason)
        updated[halt.account.pk] = risk._replace(row=row, state=state)
    if raised:
        # One statement for every mark raised; GREATEST keeps a higher mark a
        # concurrent pass wrote meanwhile (the mark never goes down).
        _high_water_raise(raised)
    return updated


def _high_water_raise(rows: Sequence[SessionRow]) -> None:
    """Store each row's raised intraday high-water mark (its ``high_water``)
    in one statement, never lowering a mark stored meanwhile."""
    bulk_set_columns(
        AccountSession,
        [row.pk for row in rows],
        {"high_water": [row.high_water for row in rows]},
        never_lower=["high_water"],
    )


def route_session_loss_check(
    group: CopyGroup, risks: Mapping[int, AccountRisk], *, at: datetime
) -> bool:
    """Lock ``group`` (level 4) when its followers' summed session loss
    reached its max session loss (:func:`routing.engine.watch.route_check`);
    True when this call locked it."""
    pnl = sum((r.session_pnl for r in risks.values()), Decimal(0))
    reason = route_check(pnl, group.route_limits())
    if reason is None:
        return False
    return route_lock(
        group=group, reason=reason.text, actor_label="risk", at=at, code=reason.code.value
    )


def _followers(leader_ids: Collection[int] | None) -> list[Follower]:
    """Every follower (of the groups led by ``leader_ids`` when given), pk order."""
    followers_of = Follower.objects.select_related("account", "account__risk_limit", "group")
    if leader_ids is not None:
        followers_of = followers_of.filter(group__leader_id__in=list(leader_ids))
    return list(followers_of.order_by("pk"))


def risk_sessions_current(*, at: datetime, leader_ids: Collection[int] | None = None) -> None:
    """Make the session rows of every follower account (of the groups led by
    ``leader_ids`` when given) current at aware ``at``: layer 2 calls it
    before it moves any mark (:func:`sessions_current`)."""
    sessions_current([f.account for f in _followers(leader_ids)], at=at)


def risk_watch(*, at: datetime, leader_ids: Collection[int] | None = None) -> dict[int, str]:
    """One pass of layer 2 over every follower account (of the groups led by
    ``leader_ids`` when given: an engine worker's leases): halts, route locks.

    Returns the accounts whose positions are due to be flattened (halted on
    a loss with flatten on breach on, not flattened yet): id -> halt reason.
    """
    followers = _followers(leader_ids)
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
def positions_revalue(
    marks: Mapping[tuple[int, str], Decimal],
    specs: Mapping[str, ContractSpec],
) -> set[int]:
    """Revalue open positions at ``marks`` ((account id, contract) -> the
    last price that account sees, points): each account is marked only at
    the prices of its own venue or platform, never at another account's.
    Contracts without a spec are skipped (their PnL cannot be priced, and
    the fill path already refused them). Two statements per (contract,
    price) whatever the number of accounts. Returns the ids of the accounts
    whose mark moved."""
    moved: set[int] = set()
    by_price: dict[tuple[str, Decimal], list[int]] = {}
    for (account_id, symbol), price in marks.items():
        by_price.setdefault((symbol, price), []).append(account_id)
    for (symbol, price), account_ids in sorted(by_price.items()):
        try:
            spec = specs.get(root_of(symbol))
        except SymbolError:
            spec = None
        if spec is None:
            continue
        moved.update(
            positions_mark(
                account_ids=sorted(account_ids),
                symbol=symbol,
                price=price,
                point_value=spec.point_value,
            ).moved
        )
    return moved


def marks_moved_notify(account_ids: Collection[int]) -> None:
    """One ``positions`` message per owner of the follower accounts
    ``account_ids`` whose marks a layer-2 pass moved (the pass is one event),
    naming their groups: the group pages re-read prices and PnL."""
    if not account_ids:
        return
    by_owner: dict[int, set[int]] = {}
    for owner_id, group_id in Follower.objects.filter(account_id__in=list(account_ids)).values_list(
        "group__owner_id", "group_id"
    ):
        by_owner.setdefault(owner_id, set()).add(group_id)
    for owner_id, group_ids in sorted(by_owner.items()):
        feed_publish_on_commit(
            user_id=owner_id,
            kind="positions",
            data={"groups": sorted(group_ids), "reason": "marks"},
        )


def positions_open(
    account_ids: Collection[int] | None = None,
) -> list[tuple[int, str, str, str]]:
    """(account id, platform, account external id, contract) of every open
    position (of ``account_ids`` when given), for marking each at its own
    platform's prices."""
    rows = Position.objects.exclude(qty=0)
    if account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    return list(
        rows.order_by("pk").values_list(
            "account_id", "account__platform", "account__external_id", "symbol"
        )
    )
