"""The engine's view of followers for one leader event.

Everything here reads (or, for the session state, brings up to date) the
state that moves with trading, for all followers of an event at once, so
the copy path costs a constant number of statements whatever their number:
tracked positions, quarantines, session PnL and halts, and the last marks.
Used by leader fills (:mod:`routing.services.leader_events`) and working
orders (:mod:`routing.services.mirrors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from accounts.models import BrokerAccount
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from journal.models import Position
from routing.engine.conversion import micro_root
from routing.engine.limits import RiskLimits
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import ContractSpec as EngineSpec
from routing.engine.types import FollowerState, GroupConfig, SizingBasis
from routing.models import ExpectedPosition, Follower
from routing.services.account_sessions import SessionRow
from routing.services.quarantines import quarantines_active
from routing.services.risk_watch import account_breaches_apply, accounts_risk


def follower_symbols(
    leader_symbol: str, config: GroupConfig, specs: Mapping[str, EngineSpec]
) -> set[str]:
    """Every contract a follower may trade for ``leader_symbol``: the mapped
    or own product and, with auto micro, its micro (codes, e.g. ``{"NQH6",
    "MNQH6"}``)."""
    try:
        contract = parse_contract(leader_symbol)
    except SymbolError:
        return {leader_symbol}
    root = config.mapped_root(contract.root) or contract.root
    symbols = {contract.with_root(root).code}
    micro = micro_root(root, specs) if config.auto_micro else None
    if micro is not None:
        symbols.add(contract.with_root(micro).code)
    return symbols


def contract_marks(symbols: set[str], *, account_ids: Sequence[int]) -> dict[str, Decimal]:
    """Last known prices (points) of ``symbols`` (contract codes) from the
    marked positions of ``account_ids`` only — one leader's routes — so no
    other user's fills or replays reach a route's collar or conversions."""
    marks: dict[str, Decimal] = {}
    for symbol, price in _marks(*contract_marks_ahead(symbols, account_ids=account_ids)[1]):
        marks.setdefault(symbol, price)
    return marks


def contract_marks_ahead(symbols: set[str], *, account_ids: Sequence[int]) -> ReadAhead:
    """:func:`contract_marks`'s read for the same arguments, to run ahead
    (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_marks, (symbols, list(account_ids)))


_marks = HotRead(
    "contract marks",
    Position,
    lambda symbols, ids: (
        Position.objects.filter(
            symbol__in=symbols, mark_price__isnull=False, account_id__any_of=ids
        )
        .order_by("symbol", "-updated_at")
        .values_list("symbol", "mark_price")
    ),
    lambda connection, symbols, ids: [*ids_param(connection, ids), *symbols],
    shape=lambda connection, symbols, ids: (len(symbols), ids_shape(connection, ids)),
)


def follower_states(
    followers: Sequence[Follower],
    positions: Mapping[tuple[int, str], int],
    *,
    at: datetime,
    complete: bool = False,
    limits: Mapping[int, RiskLimits] | None = None,
    shape: FollowerShape | None = None,
    sessions: Mapping[int, SessionRow] | None = None,
    unrealized: Mapping[int, Decimal] | None = None,
    unreachable: Callable[[str, str], str | None] | None = None,
    entries_held: Callable[[str, str], str | None] | None = None,
) -> list[FollowerState]:
    """The engine's view of ``followers`` at aware ``at``, in their order.

    ``positions`` ((account id, contract) -> signed contracts) holds tracked
    positions locked by the caller; unless ``complete`` (``positions`` holds
    every tracked position of the accounts), every other tracked position of
    the accounts is read too, because the risk checks count open positions
    and exposure across contracts. Also: session PnL, limits, sizing basis,
    balance, active quarantines and the session risk state, after layer 2
    applied any halt due now (journaled) — so this writes: the session reset
    when one is due, stale quarantine releases, halts and high-water marks.
    ``limits`` (account id -> risk limits: the cached routes') saves
    converting the stored limits again, ``shape`` (each follower's account,
    the accounts once each, account id -> group id: the cached routes',
    :class:`routing.services.leader_reads.RouteShape`) working them out
    again, and ``sessions`` (account id -> its
    current session row, read before the event moved any mark) reading the
    session rows again (:func:`accounts_risk`); ``unrealized`` (account id
    -> open PnL at the marks as they stand) reading it. ``unreachable``
    ``(platform, account external id) -> reason or None`` says which
    followers' brokers cannot be reached now (the engine worker's adapters,
    :meth:`routing.runtime.adapters.AdapterRegistry.unreachable`): their
    orders are blocked with the reason, as are a disabled account's;
    ``entries_held`` (same shape, :meth:`AdapterRegistry.entries_held`) says
    which followers' entries must wait (exits still go). A constant number
    of statements
    whatever the number of followers.
    """
    account_ids = sorted({f.account_id for f in followers})
    held: dict[int, dict[str, int]] = {a: {} for a in account_ids}
    if not complete:
        for account_id, symbol, qty in (
            ExpectedPosition.objects.filter(account_id__any_of=account_ids)
            .exclude(qty=0)
            .values_list("account_id", "symbol", "qty")
        ):
            held[account_id][symbol] = qty
    for (account_id, symbol), qty in positions.items():
        if account_id in held and qty:
            held[account_id][symbol] = qty
    quarantined = quarantines_active(followers, at=at)
    if shape is None:
        follower_accounts = [f.account for f in followers]
        accounts = list({a.id: a for a in follower_accounts}.values())
        group_of = {f.account_id: f.group_id for f in followers}
    else:
        follower_accounts, accounts, group_of = shape
    risks = accounts_risk(accounts, at=at, limits=limits, sessions=sessions, unrealized=unrealized)
    risks = account_breaches_apply(risks, at=at, group_of=group_of)

    def reason(account: BrokerAccount) -> str | None:
        if not account.enabled:
            # The trader switched the account off: nothing is sent to it.
            return "account disabled on the accounts page"
        return None if unreachable is None else unreachable(account.platform, account.external_id)

    # Plain attributes (``id``, one read of the cached account), not ``pk``
    # and related descriptors: a dozen lookups per follower, a thousand
    # followers per event.
    states = []
    none: frozenset[str] = frozenset()
    for f, account in zip(followers, follower_accounts, strict=True):
        account_id = f.account_id
        risk = risks[account_id]
        # Positional, in the field order: one per follower per event.
        states.append(
            FollowerState(
                str(account_id),
                f.ratio,
                held[account_id],
                risk.session_pnl,
                risk.limits,
                f.enabled,
                _BASES.get(f.sizing_basis) or SizingBasis(f.sizing_basis),
                account.balance,
                quarantined.get(f.id, none),
                risk.state,
                reason(account),
                (
                    None
                    if entries_held is None
                    else entries_held(account.platform, account.external_id)
                ),
            )
        )
    return states


# Each follower's stored sizing basis as the engine's member, without the
# enum's lookup call per follower per event.
_BASES = {b.value: b for b in SizingBasis}  # a member finds itself: its hash is its text's

# A follower's account, the accounts once each and account id -> group id
# (routing.services.leader_reads.RouteShape, for follower_states).
type FollowerShape = tuple[Sequence[BrokerAccount], Sequence[BrokerAccount], Mapping[int, int]]
