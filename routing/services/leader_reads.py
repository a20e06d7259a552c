"""What one leader event's decisions read, worked out from the routes alone.

:func:`routing.services.leader_decisions.leader_decide` reads the leader's
position and the volatile state of every follower of the leader's routes
(marks, sessions, expected positions, quarantines, session PnL). Which
statements those are depends on the routes and the fill only, so the
ingest can send them with the leader's lock (one round trip for the lock,
the event's row and every read, not three), from the routes it cached
before the lock (:func:`leader_decide_reads`); ``leader_decide`` then asks
for the same statements and finds their rows (:mod:`copytrade.core.hot_reads`).
When the routes changed meanwhile, the ingest sends them again, built from
the routes it loaded, in one round trip of their own.
"""

from __future__ import annotations

from typing import NamedTuple

from accounts.models import BrokerAccount
from copytrade.core.hot_reads import HotRead, ReadAhead
from journal.models import Position
from journal.services import positions_mark_ahead
from routing.engine.limits import RiskLimits
from routing.engine.symbols import spec_of
from routing.engine.types import ContractSpec, LeaderFill
from routing.models import Follower
from routing.selectors import open_unrealized_ahead, session_realized_ahead
from routing.services.account_sessions import account_sessions_open_ahead
from routing.services.expected import expected_positions_of_ahead
from routing.services.follower_state import contract_marks_ahead, follower_symbols
from routing.services.quarantines import quarantines_active_ahead
from routing.services.route_state import GroupRoute, LeaderRoutes


class RouteShape(NamedTuple):
    """What one leader's routes fix for every event in one contract, between
    edits: ``plans`` (route, the contracts its followers may trade) for the
    routes with followers; ``followers`` theirs, in route order;
    ``accounts`` their accounts (the cached rows) once each and
    ``risk_ids`` their ids, in follower order (as the risk figures read
    them); ``account_ids`` sorted;
    ``symbols`` every candidate contract; ``marked_symbols`` and
    ``marked_accounts`` what the marks are read for (only this leader's
    routes: another user's prices never collar or size this one, issue 10,
    defect 2); ``marked`` the accounts whose positions the contract's price
    marks; ``spec`` the contract's spec; ``limits`` (account id -> risk
    limits) and ``group_of`` (account id -> its group) over every route.
    Shared by every event of those routes: callers read it, never change it."""

    plans: list[tuple[GroupRoute, frozenset[str]]]
    followers: list[Follower]
    accounts: list[BrokerAccount]
    risk_ids: list[int]
    account_ids: list[int]
    symbols: set[str]
    marked_symbols: set[str]
    marked_accounts: list[int]
    marked: list[int]
    spec: ContractSpec | None
    limits: dict[int, RiskLimits]
    group_of: dict[int, int]


def route_shape(routes: LeaderRoutes, symbol: str) -> RouteShape:
    """The :class:`RouteShape` of ``routes`` for events in contract
    ``symbol``: worked out once per routes loaded (they are replaced, never
    changed, when an edit is saved) and contract, not at every event (a
    few hundred followers' lists, sets and accounts, issue 9)."""
    key = (routes.leader_id, symbol)
    found = _shapes.get(key)
    if found is not None and found[0] is routes:
        return found[1]
    shape = _shape(routes, symbol)
    if found is None and len(_shapes) >= _SHAPES_KEPT:
        _shapes.clear()  # a bound, never reached by a real set of leaders and contracts
    _shapes[key] = (routes, shape)  # routes replaced by an edit: their shape goes too
    return shape


# (leader id, contract) -> (the routes it was worked out for, its shape).
_shapes: dict[tuple[int, str], tuple[LeaderRoutes, RouteShape]] = {}
_SHAPES_KEPT = 4096


def _shape(routes: LeaderRoutes, symbol: str) -> RouteShape:
    specs = routes.specs
    plans = [
        (route, frozenset(follower_symbols(symbol, route.config, specs)))
        for route in routes.groups
        if route.followers
    ]
    followers = [f for route, _ in plans for f in route.followers]
    by_id = {f.account.id: f.account for f in followers}
    account_ids = sorted(by_id)
    symbols: set[str] = set().union(*(candidates for _, candidates in plans))
    return RouteShape(
        plans=plans,
        followers=followers,
        accounts=list(by_id.values()),
        risk_ids=list(by_id),
        account_ids=account_ids,
        symbols=symbols,
        marked_symbols=symbols | {symbol},
        marked_accounts=[routes.leader_id, *account_ids],
        marked=sorted({f.account_id for r, c in plans if symbol in c for f in r.followers}),
        spec=spec_of(symbol, specs),
        limits={a: limits for route, _ in plans for a, limits in route.limits.items()},
        group_of={f.account_id: f.group_id for f in followers},
    )


def leader_decide_reads(routes: LeaderRoutes, fill: LeaderFill) -> list[ReadAhead]:
    """Every read :func:`routing.services.leader_decisions.leader_decide`
    makes for ``fill`` on ``routes``, in its order, to send ahead: the
    leader's position, then (with followers) the marks, the session rows,
    the positions the fill marks (whenever the contract has a spec; a
    collared price marks nothing and leaves that read unused), expected
    positions, quarantines, the session's realized PnL and the open PnL."""
    shape = route_shape(routes, fill.symbol)
    position: ReadAhead = (leader_position, (routes.leader_id, fill.symbol))
    if not shape.plans:
        return [position]
    marked = [positions_mark_ahead(account_ids=shape.marked, symbol=fill.symbol)]
    return [
        position,
        contract_marks_ahead(shape.marked_symbols, account_ids=shape.marked_accounts),
        account_sessions_open_ahead(shape.accounts, at=fill.time),
        *(marked if shape.spec is not None else []),
        expected_positions_of_ahead(shape.account_ids),
        quarantines_active_ahead(shape.followers),
        session_realized_ahead(shape.risk_ids, fill.time),
        open_unrealized_ahead(shape.risk_ids),
    ]


leader_position = HotRead(
    "leader position",
    Position,
    lambda account_id, symbol: Position.objects.filter(
        account_id=account_id, symbol=symbol
    ).values_list("qty"),
    lambda connection, account_id, symbol: [account_id, symbol],
)
