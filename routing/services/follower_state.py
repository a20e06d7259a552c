"""The engine's view of followers for one leader event.

Everything here reads (or, for the session state, brings up to date) the
state that moves with trading, for all followers of an event at once, so
the copy path costs a constant number of reads whatever their number:
tracked positions, quarantines, session PnL and halts, and the last marks.
A leader event works out its followers' risk a batch at a time as its
orders are decided (:class:`FollowerStates`): the halts and high-water
marks that writes take a statement or two per batch of 32, 64, 128…, so
a few more as the followers double.
Used by leader fills (:mod:`routing.services.leader_events`) and working
orders (:mod:`routing.services.mirrors`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

from django.db import connections, router
from django.db.models import QuerySet

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
from routing.services.risk_watch import AccountRisk, RiskFigures, account_breaches_apply


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
    read, args = contract_marks_ahead(symbols, account_ids=account_ids)
    for symbol, price in read(*args):
        marks.setdefault(symbol, price)
    return marks


def contract_marks_ahead(symbols: set[str], *, account_ids: Sequence[int]) -> ReadAhead:
    """:func:`contract_marks`'s read for the same arguments, to run ahead
    (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    postgresql = connections[router.db_for_read(Position)].vendor == "postgresql"
    return (_latest_marks if postgresql else _marks, (symbols, list(account_ids)))


def _marked(symbols: set[str], ids: list[int]) -> QuerySet[Position]:
    """The marked positions of ``ids`` in ``symbols``, each contract's
    latest mark first."""
    return Position.objects.filter(
        symbol__in=symbols, mark_price__isnull=False, account_id__any_of=ids
    ).order_by("symbol", "-updated_at")


def _marks_param(connection: Any, symbols: set[str], ids: list[int]) -> list[Any]:
    return [*ids_param(connection, ids), *symbols]


def _marks_shape(connection: Any, symbols: set[str], ids: list[int]) -> Hashable:
    return (len(symbols), ids_shape(connection, ids))


# Every marked position's mark, latest first (SQLite, the embedded default:
# a few followers).
_marks = HotRead(
    "contract marks",
    Position,
    lambda symbols, ids: _marked(symbols, ids).values_list("symbol", "mark_price"),
    _marks_param,
    shape=_marks_shape,
)
# PostgreSQL: each contract's latest mark only (DISTINCT ON). Every marked
# position's was read, sent and decoded for one price a contract: a
# thousand rows at a thousand followers, 0.4 ms to decode alone.
_latest_marks = HotRead(
    "latest contract marks",
    Position,
    lambda symbols, ids: (
        _marked(symbols, ids).distinct("symbol").values_list("symbol", "mark_price")
    ),
    _marks_param,
    shape=_marks_shape,
)


class FollowerStates:
    """The engine's view of ``followers`` at aware ``at``, a batch at a
    time: what every follower's state needs (tracked positions,
    quarantines, session rows, the session's PnL) is read when this is
    made, once for all of ``followers``; each batch's risk checks, with the
    halts and high-water marks they write, and its states, when the batch
    is asked for (:meth:`states`; :meth:`each` as they are read). So a
    leader event's first orders go to the server while its other
    followers' states are still to be worked out
    (:func:`routing.services.leader_decisions.leader_decide`); each
    account's risk is worked out (and its halt written) once, whichever
    batch first names it. ``FollowerStates(followers, …).states(followers)``
    makes every state at once, in a constant number of statements.

    ``positions`` ((account id, contract) -> signed contracts) holds tracked
    positions locked by the caller; unless ``complete`` (``positions`` holds
    every tracked position of the accounts), every other tracked position of
    the accounts is read too, because the risk checks count open positions
    and exposure across contracts. Also: session PnL, limits, sizing basis,
    balance, active quarantines and the session risk state, after layer 2
    applied any halt due now (journaled) — so this writes: the session reset
    when one is due, stale quarantine releases, halts and high-water marks.
    ``limits`` (account id -> risk limits: the cached routes') saves
    converting the stored limits again, ``shape`` (the followers' accounts
    once each, account id -> group id: the cached routes',
    :class:`routing.services.leader_reads.RouteShape`) working them out
    again, and ``sessions`` (account id -> its
    current session row, read before the event moved any mark) reading the
    session rows again (:func:`routing.services.risk_watch.accounts_risk`);
    ``unrealized`` (account id
    -> open PnL at the marks as they stand) reading it. ``unreachable``
    ``(platform, account external id) -> reason or None`` says which
    followers' brokers cannot be reached now (the engine worker's adapters,
    :meth:`routing.runtime.adapters.AdapterRegistry.unreachable`): their
    orders are blocked with the reason, as are a disabled account's;
    ``entries_held`` (same shape, :meth:`AdapterRegistry.entries_held`) says
    which followers' entries must wait (exits still go).
    """

    def __init__(
        self,
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
    ) -> None:
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
        self._held, self._at = held, at
        self._quarantined = quarantines_active(followers, at=at)
        if shape is None:
            accounts = list({f.account.id: f.account for f in followers}.values())
            group_of = {f.account_id: f.group_id for f in followers}
        else:
            accounts, group_of = shape
        self._account = {a.id: a for a in accounts}
        self._group_of = group_of
        self._figures = RiskFigures(
            accounts, at=at, limits=limits, sessions=sessions, unrealized=unrealized
        )
        self._risks: dict[int, AccountRisk] = {}
        self._unreachable, self._entries_held = unreachable, entries_held

    def states(self, followers: Sequence[Follower]) -> list[FollowerState]:
        """The states of ``followers`` (some of those this was made for), in
        their order. Works out the risk of their accounts not worked out
        yet and writes what it makes due (halts, high-water marks). Raises
        ``ValueError`` naming a stored limit the engine refuses."""
        account, risks = self._account, self._risks
        new = [account[a] for a in dict.fromkeys(f.account_id for f in followers) if a not in risks]
        if new:
            risks.update(
                account_breaches_apply(
                    self._figures.risks(new), at=self._at, group_of=self._group_of
                )
            )
        held, quarantined = self._held, self._quarantined
        unreachable, entries_held = self._unreachable, self._entries_held
        # Plain attributes (``id``, one read of the cached account), not
        # ``pk`` and related descriptors: a dozen lookups per follower, a
        # thousand followers per event.
        states = []
        none: frozenset[str] = frozenset()
        for f in followers:
            account_id = f.account_id
            follower_account = account[account_id]
            risk = risks[account_id]
            if not follower_account.enabled:
                # The trader switched the account off: nothing is sent to it.
                reason: str | None = "account disabled on the accounts page"
            elif unreachable is None:
                reason = None
            else:
                reason = unreachable(follower_account.platform, follower_account.external_id)
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
                    follower_account.balance,
                    quarantined.get(f.id, none),
                    risk.state,
                    reason,
                    (
                        None
                        if entries_held is None
                        else entries_held(follower_account.platform, follower_account.external_id)
                    ),
                )
            )
        return states

    def each(self, followers: Sequence[Follower]) -> LazyStates:
        """The states of ``followers`` as a sequence that makes them when
        they are first read, in batches of 32, 64, 128… (:meth:`states`),
        the order :func:`routing.services.leader_decisions.decided_send`
        sends orders in."""
        return LazyStates(followers, self.states)


class LazyStates(Sequence[FollowerState]):
    """Followers' states, in their order, made a batch at a time as they
    are first read (:meth:`FollowerStates.each`); ``keys`` are their engine
    keys (the account ids as text), known without making any."""

    _FIRST = 32  # as decided_send's first batch of orders

    def __init__(
        self,
        followers: Sequence[Follower],
        make: Callable[[Sequence[Follower]], list[FollowerState]],
    ) -> None:
        self._followers, self._make = followers, make
        self._made: list[FollowerState] = []
        self._next = self._FIRST
        self.keys = [str(f.account_id) for f in followers]

    def __len__(self) -> int:
        return len(self._followers)

    @overload
    def __getitem__(self, index: int) -> FollowerState: ...
    @overload
    def __getitem__(self, index: slice) -> list[FollowerState]: ...
    def __getitem__(self, index: int | slice) -> FollowerState | list[FollowerState]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        while index >= len(self._made):
            self._grow()
        return self._made[index]

    def __iter__(self) -> Iterator[FollowerState]:
        made = self._made
        for index in range(len(self._followers)):
            if index == len(made):
                self._grow()
            yield made[index]

    def _grow(self) -> None:
        start = len(self._made)
        self._made.extend(self._make(self._followers[start : start + self._next]))
        self._next *= 2


# Each follower's stored sizing basis as the engine's member, without the
# enum's lookup call per follower per event.
_BASES = {b.value: b for b in SizingBasis}  # a member finds itself: its hash is its text's

# The followers' accounts once each and account id -> group id
# (routing.services.leader_reads.RouteShape, for FollowerStates).
type FollowerShape = tuple[Sequence[BrokerAccount], Mapping[int, int]]
