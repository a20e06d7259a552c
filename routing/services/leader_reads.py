"""What one leader event's decisions read, worked out from the routes alone.

:func:`routing.services.leader_decisions.leader_decide` reads the leader's
position and the volatile state of every follower of the leader's routes
(marks, sessions, expected positions, quarantines, session PnL). Which
statements those are depends on the routes and the fill only, so the
ingest can send them with the leader's lock (one round trip for the lock,
the event's row and every read, not three), from the routes it cached
before the lock (:func:`leader_decide_reads`); ``leader_decide`` then asks
for the same statements, built here too, and finds their rows
(:mod:`copytrade.core.hot_reads`). When the routes changed meanwhile, the
statements differ and simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import BrokerAccount
from copytrade.core.hot_reads import HotRead, ReadAhead
from journal.models import Position
from journal.services import positions_mark_ahead
from routing.engine.symbols import spec_of
from routing.engine.types import ContractSpec, LeaderFill
from routing.models import Follower
from routing.selectors import open_unrealized_ahead, session_realized_ahead
from routing.services.account_sessions import account_sessions_open_ahead
from routing.services.expected import expected_positions_of_ahead
from routing.services.follower_state import contract_marks_ahead, follower_symbols
from routing.services.quarantines import quarantines_active_ahead
from routing.services.route_state import GroupRoute, LeaderRoutes


@dataclass(frozen=True)
class LeaderReads:
    """The follower sets one event of ``fill`` on the leader's routes reads.

    ``plans`` (route, the contracts its followers may trade for this fill)
    for the routes with followers; ``followers`` theirs, in route order;
    ``account_ids`` their accounts, sorted; ``symbols`` every candidate
    contract; ``marked_symbols`` and ``marked_accounts`` what the marks are
    read for (only this leader's routes: another user's prices never collar
    or size this one, issue 10, defect 2); ``marked`` the followers' accounts
    whose positions the fill's price marks; ``spec`` the fill's contract spec.
    """

    leader_id: int
    fill: LeaderFill
    plans: list[tuple[GroupRoute, frozenset[str]]]
    followers: list[Follower]
    account_ids: list[int]
    symbols: set[str]
    marked_symbols: set[str]
    marked_accounts: list[int]
    marked: list[int]
    spec: ContractSpec | None

    @classmethod
    def of(cls, routes: LeaderRoutes, fill: LeaderFill) -> LeaderReads:
        """The reads of ``fill`` on ``routes``."""
        specs = routes.specs
        plans = [
            (route, frozenset(follower_symbols(fill.symbol, route.config, specs)))
            for route in routes.groups
            if route.followers
        ]
        followers = [f for route, _ in plans for f in route.followers]
        account_ids = sorted({f.account_id for f in followers})
        symbols: set[str] = set().union(*(candidates for _, candidates in plans))
        return cls(
            leader_id=routes.leader_id,
            fill=fill,
            plans=plans,
            followers=followers,
            account_ids=account_ids,
            symbols=symbols,
            marked_symbols=symbols | {fill.symbol},
            marked_accounts=[routes.leader_id, *account_ids],
            marked=sorted(
                {f.account_id for r, c in plans if fill.symbol in c for f in r.followers}
            ),
            spec=spec_of(fill.symbol, specs),
        )

    @property
    def accounts(self) -> list[BrokerAccount]:
        """The followers' accounts (cached rows), once each, in follower order."""
        return list({f.account_id: f.account for f in self.followers}.values())

    @property
    def risk_ids(self) -> list[int]:
        """The accounts' ids in follower order, as the risk figures read them
        (:func:`routing.services.risk_watch.accounts_risk`)."""
        return list(dict.fromkeys(f.account_id for f in self.followers))

    def position(self) -> ReadAhead:
        """The leader's position in the fill's contract."""
        return (leader_position, (self.leader_id, self.fill.symbol))

    def first(self) -> list[ReadAhead]:
        """What is read before the followers' sessions are made current: the
        leader's position, the marks and the session rows."""
        if not self.plans:
            return [self.position()]
        return [
            self.position(),
            contract_marks_ahead(self.marked_symbols, account_ids=self.marked_accounts),
            account_sessions_open_ahead(self.accounts, at=self.fill.time),
        ]

    def second(self, *, marking: bool) -> list[ReadAhead]:
        """What is read after: the positions the fill marks (when
        ``marking``), expected positions, quarantines, the session's
        realized PnL and the open PnL."""
        if not self.plans:
            return []
        fill = self.fill
        marks = [positions_mark_ahead(account_ids=self.marked, symbol=fill.symbol)]
        return [
            *(marks if marking else []),
            expected_positions_of_ahead(self.account_ids),
            quarantines_active_ahead(self.followers),
            session_realized_ahead(self.risk_ids, fill.time),
            open_unrealized_ahead(self.risk_ids),
        ]


def leader_decide_reads(routes: LeaderRoutes, fill: LeaderFill) -> list[ReadAhead]:
    """Every read :func:`routing.services.leader_decisions.leader_decide`
    makes for ``fill`` on ``routes``, to send ahead: both of its batches,
    the positions marked whenever the contract has a spec (a collared price
    marks nothing: that read is then left unused)."""
    reads = LeaderReads.of(routes, fill)
    return [*reads.first(), *reads.second(marking=reads.spec is not None)]


leader_position = HotRead(
    "leader position",
    Position,
    lambda account_id, symbol: Position.objects.filter(
        account_id=account_id, symbol=symbol
    ).values_list("qty"),
    lambda connection, account_id, symbol: [account_id, symbol],
)
