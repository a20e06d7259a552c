"""An event's decision reads go to the server with the leader's lock
(routing.services.leader_reads): one round trip, each read run once, and
run again when a pending fill settled under the lock changed what they read.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Route
from copytrade.core.hot_reads import HotRead
from journal.models import JournalEntry
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.services.leader_events import IngestResult, leader_event_ingest
from routing.services.leader_reads import route_shape
from routing.services.route_state import leader_routes, route_config_bump, route_config_key

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
PRICE = Decimal("21539.50")
# The reads of leader_decide (routing.services.leader_reads.leader_decide_reads).
DECISION_READS = (
    "leader position",
    "latest contract marks",  # PostgreSQL's (the suite's database)
    "session rows",
    "open positions of accounts locked",
    "expected positions locked",
    "unreleased quarantines",
    "session realized PnL by account",
    "open unrealized PnL by account",
)


def _ingest(route: Route, event_id: str, seconds: int, *, claimed: bool) -> IngestResult:
    fill = LeaderFill(
        event_id, "lead", "MNQH5", Side.BUY, 2, PRICE, T0 + timedelta(seconds=seconds)
    )
    return leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=claimed)


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]


def test_reads_when_routes_cached_then_sent_with_the_lock_and_run_once(route: Route) -> None:
    # Arrange: the first event caches the leader's routes (its fill recorded
    # with it: nothing is left pending).
    _ingest(route, "f1", 0, claimed=False)
    # Act
    with CaptureQueriesContext(connection) as queries:
        _ingest(route, "f2", 5, claimed=False)
    # Assert: lock, key, pending fills, the event, then the eight reads of
    # the decisions (leader position, marks, sessions; positions marked,
    # expected positions, quarantines, realized and open PnL), none of them
    # run a second time.
    sql = _statements(queries)
    assert sql[3].startswith('INSERT INTO "routing_leaderevent"')
    reads = sql[4:12]
    assert all(s.startswith("SELECT") for s in reads)
    assert '"journal_position"' in reads[0] and '"routing_accountsession"' in reads[2]
    assert '"routing_expectedposition"' in reads[4] and '"routing_quarantine"' in reads[5]
    assert [s for s in sql if s in reads] == reads


def test_reads_when_held_from_the_lock_then_each_statement_built_twice_not_three_times(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: routes cached, nothing left pending; every statement a hot
    # read builds is counted by its read's name.
    _ingest(route, "f1", 0, claimed=False)
    built: Counter[str] = Counter()
    statement = HotRead.statement

    def counted(self: HotRead, *args: Any, **kwargs: Any) -> Any:
        built[self.name] += 1
        return statement(self, *args, **kwargs)

    monkeypatch.setattr(HotRead, "statement", counted)
    # Act
    _ingest(route, "f2", 5, claimed=False)
    # Assert: each of the decisions' reads is built for the lock's round
    # trip and once more where it is called, where its rows are found.
    assert {name: built[name] for name in DECISION_READS} == dict.fromkeys(DECISION_READS, 2)


def test_reads_when_a_pending_fill_settles_then_read_again_after_it(route: Route) -> None:
    # Arrange: a claimed ingest leaves the leader's fill (buy 2) for its
    # answers, which never come: the next event settles it under the lock.
    _ingest(route, "f1", 0, claimed=True)
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f2", 5, claimed=True)
    # Assert: the leader's position read with the lock (flat) is read again
    # once the settled fill moved it: f2 takes the leader from 2 to 4, and
    # the followers (ratios 0.5 and 3) from their f1 targets 1 and 6 to 2 and 12.
    sql = _statements(queries)
    position = sql[4]
    assert '"journal_position"' in position
    assert sql.count(position) == 2
    received = JournalEntry.objects.get(
        event_type="leader_event.received", extra_data__event_id="f2"
    )
    assert (received.extra_data["position_before"], received.extra_data["position_after"]) == (
        2,
        4,
    )
    assert sorted(
        (o.position_before, o.qty) for o in CopyOrder.objects.filter(leader_event=result.event)
    ) == [(1, 1), (6, 6)]


def test_shape_when_same_routes_then_kept_and_when_routes_reloaded_then_worked_out_again(
    route: Route,
) -> None:
    # Arrange: the routes as the ingest loads them.
    key = route_config_key()
    routes = leader_routes(leader_id=route.leader.pk, key=key)
    # Act
    first, again = route_shape(routes, "MNQH5"), route_shape(routes, "MNQH5")
    other = route_shape(routes, "MESH5")
    route_config_bump()  # an edit saved: the routes are loaded again
    reloaded = leader_routes(leader_id=route.leader.pk, key=route_config_key())
    after = route_shape(reloaded, "MNQH5")
    # Assert: one shape per routes loaded and contract, its followers the routes'.
    assert again is first and other is not first
    assert reloaded is not routes and after is not first
    assert [f.account.name for f in after.followers] == ["Eval 25K", "Funded 150K"]
    assert after.accounts == [f.account for f in after.followers]
    assert after.group_of == {f.account_id: route.group.pk for f in after.followers}
    assert after.marked == after.account_ids == sorted(f.account_id for f in after.followers)
