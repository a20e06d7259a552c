"""The accounts page's figures, read only: each account's session PnL, its
connection, and how far it stands from its daily loss limit and its
drawdown floor.

Nothing here writes: a missing session row for today is not created (the
risk watch does that, :func:`routing.services.risk_watch.sessions_current`);
the page reads what the reset would open with instead
(:func:`routing.services.session_openings.session_openings`, a read). The
rules are the engine's (:func:`routing.engine.watch.engine_view`,
:func:`routing.engine.risk.check_daily_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from accounts.models import BrokerAccount, BrokerLogin, User
from routing.engine.limits import RiskLimits
from routing.engine.sessions import trading_date
from routing.engine.watch import SessionState, engine_view
from routing.models import AccountSession, RiskLimit
from routing.selectors import session_pnl_by_account, session_realized_by_account
from routing.services.session_openings import session_openings, session_state_of

SIMULATED = "simulated"
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LimitBar:
    """Room left before a loss limit, dollars: ``room`` of ``limit`` (the
    bar's fill); ``room`` ≤ 0 means the limit is reached."""

    limit: Decimal
    room: Decimal

    @property
    def meter_value(self) -> Decimal:
        """``room`` clamped to ``[0, limit]`` for an HTML ``<meter>``."""
        return min(max(self.room, ZERO), self.limit)

    @property
    def low(self) -> Decimal:
        """A quarter of the limit: below it the bar shows as low."""
        return self.limit / 4


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One account on the page: its ``connection`` (its login's state,
    ``"disabled"`` when the login is, ``"simulated"`` for paper) and
    ``connection_detail``; ``session_pnl`` dollars today (realized +
    unrealized); ``daily_loss`` / ``drawdown`` bars (``None``: no such
    limit); ``equity`` dollars; ``halt`` the reason it takes no entries
    this session (empty: none); ``limits_error`` why its stored limits
    could not be read (empty: they could)."""

    account: BrokerAccount
    connection: str
    connection_detail: str
    session_pnl: Decimal
    equity: Decimal
    daily_loss: LimitBar | None
    drawdown: LimitBar | None
    halt: str
    limits_error: str


def logins_for_user(user: User) -> list[BrokerLogin]:
    """``user``'s broker logins by label (never another user's)."""
    return list(BrokerLogin.objects.filter(owner=user).order_by("label"))


def login_for_user(user: User, login_id: int) -> BrokerLogin | None:
    """``user``'s login ``login_id``; ``None`` when it is not theirs or gone."""
    return BrokerLogin.objects.filter(owner=user, pk=login_id).first()


def account_for_user(user: User, account_id: int) -> BrokerAccount | None:
    """``user``'s broker account ``account_id``; ``None`` when not theirs."""
    return BrokerAccount.objects.filter(owner=user, pk=account_id).select_related("login").first()


def _connection(account: BrokerAccount) -> tuple[str, str]:
    login = account.login
    if login is None:
        return SIMULATED, ""
    if not login.enabled:
        return "disabled", "The login is disabled."
    return login.connection_state, login.connection_detail


def _limits(account: BrokerAccount, stored: dict[int, RiskLimit]) -> tuple[RiskLimits, str]:
    row = stored.get(account.pk)
    if row is None:
        return RiskLimits(), ""
    try:
        return row.to_engine(), ""
    except ValueError as exc:
        return RiskLimits(), str(exc)


def accounts_overview(user: User, *, at: datetime) -> list[AccountRow]:
    """Every account of ``user`` by name, with its figures for the session
    holding aware ``at``. A constant number of reads whatever the number of
    accounts; nothing written."""
    accounts = list(
        BrokerAccount.objects.filter(owner=user).select_related("login").order_by("name")
    )
    if not accounts:
        return []
    ids = [a.pk for a in accounts]
    stored_limits = {r.account_id: r for r in RiskLimit.objects.filter(account_id__in=ids)}
    states: dict[int, SessionState] = {
        row.account_id: session_state_of(row)
        for row in AccountSession.objects.filter(account_id__in=ids, trading_date=trading_date(at))
    }
    missing = [pk for pk in ids if pk not in states]
    if missing:
        states |= {pk: o.state for pk, o in session_openings(missing, at=at).items()}
    realized = session_realized_by_account(ids, at)
    pnl = session_pnl_by_account(
        ids, at, realized=realized, carried={pk: s.carried_in for pk, s in states.items()}
    )
    rows = []
    for account in accounts:
        limits, limits_error = _limits(account, stored_limits)
        state = states[account.pk]
        view = engine_view(
            state,
            limits,
            starting_balance=account.starting_balance,
            session_pnl=pnl[account.pk],
            realized=realized[account.pk],
        )
        equity = state.equity(pnl[account.pk])  # as engine_view computes it
        daily = None
        if limits.daily_loss is not None:
            daily = LimitBar(limits.daily_loss, limits.daily_loss + pnl[account.pk])
        drawdown = None
        if limits.max_drawdown is not None and view.drawdown_floor is not None:
            drawdown = LimitBar(limits.max_drawdown, equity - view.drawdown_floor)
        connection, detail = _connection(account)
        rows.append(
            AccountRow(
                account=account,
                connection=connection,
                connection_detail=detail,
                session_pnl=pnl[account.pk],
                equity=equity,
                daily_loss=daily,
                drawdown=drawdown,
                halt=view.halt or "",
                limits_error=limits_error,
            )
        )
    return rows
