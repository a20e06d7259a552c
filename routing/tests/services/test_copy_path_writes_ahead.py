"""A leader event's writes, and its broker answers', go to the server ahead
(copytrade.core.writes_ahead): sent without waiting, checked once before
the commit, all or nothing.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5 (max 5
contracts), Funded 150K at 3. A leader buy of 2 MNQH5 makes buys of 1 and
6; a second buy of 2 makes 1 and 6 more (targets 2 and 12).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from accounts.services import broker_account_create
from conftest import Route
from journal.models import Fill, JournalEntry, Position, SessionRealized
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, ExpectedPosition, LeaderEvent
from routing.services import leader_decisions
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.follower_state import FollowerStates
from routing.services.leader_events import IngestResult, leader_event_ingest
from routing.services.order_results import event_answers_record
from routing.tests.answers import filled_answers

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
ENTRY = Decimal("21539.50")
LATER = Decimal("21549.50")  # 10 points up: $20 a contract of MNQ


def _ingest(route: Route, event_id: str, price: Decimal, at: datetime) -> IngestResult:
    fill = LeaderFill(event_id, "lead", "MNQH5", Side.BUY, 2, price, at)
    return leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)


def _filled_first_entry(route: Route) -> None:
    """The first buy, its copies filled at the leader's price (positions as
    the answers would leave them)."""
    _ingest(route, "f1", ENTRY, T0)
    for account, qty in ((route.small, 1), (route.large, 6)):
        Position.objects.update_or_create(
            account=account,
            symbol="MNQH5",
            defaults={"qty": qty, "avg_price": ENTRY, "mark_price": ENTRY},
        )


def test_event_when_ingested_then_writes_sent_between_the_checks_and_requests_keyed_by_ids(
    route: Route,
) -> None:
    # Arrange
    _filled_first_entry(route)
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f2", LATER, T0 + timedelta(seconds=5))
    # Assert: the marks (known before any decision), the session high-water
    # marks they raise, the orders, the expected positions and the journal
    # are sent between the foreign keys' switch to immediate and back.
    assert _between_the_checks([q["sql"] for q in queries.captured_queries]) == [
        'UPDATE "journal_position"',
        'UPDATE "routing_accountsession"',
        'INSERT INTO "routing_copyorder"',
        'UPDATE "routing_expectedposition"',
        'INSERT INTO "journal_journalentry"',
    ]
    stored = dict(
        CopyOrder.objects.filter(leader_event=result.event).values_list("pk", "client_order_id")
    )
    assert {pk: request.client_order_id for pk, (_, request) in result.requests.items()} == stored
    assert sorted(o.pk for o in result.orders) == sorted(stored)
    assert sorted((o.account.name, o.qty) for o in result.orders) == [
        ("Eval 25K", 1),
        ("Funded 150K", 6),
    ]
    marks = Position.objects.filter(symbol="MNQH5", account__in=[route.small, route.large])
    # 10 points x $2 x contracts: 1 -> $20, 6 -> $120.
    assert sorted(marks.values_list("mark_price", "unrealized_pnl")) == [
        (LATER, Decimal(20)),
        (LATER, Decimal(120)),
    ]
    assert sorted(ExpectedPosition.objects.values_list("qty", flat=True)) == [2, 12]


def _sent_when_states_made(
    monkeypatch: pytest.MonkeyPatch, queries: CaptureQueriesContext
) -> list[tuple[int, list[str]]]:
    """Each batch of followers' states made, as (its size, the statements
    sent before it), recorded in the returned list."""
    seen: list[tuple[int, list[str]]] = []
    made = FollowerStates.states

    def states(self: FollowerStates, followers: Any) -> Any:
        seen.append((len(followers), [q["sql"] for q in queries.captured_queries]))
        return made(self, followers)

    monkeypatch.setattr(FollowerStates, "states", states)
    return seen


def test_event_when_ingested_then_the_marks_go_ahead_before_the_followers_are_decided(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The marks' write was sent after every follower was decided, the
    server idle meanwhile (4 ms of a 1000-follower event's 55, this
    machine). It is sent, ahead, as soon as it is worked out: the server
    stores the marks while the followers' states are worked out."""
    # Arrange
    _filled_first_entry(route)
    queries = CaptureQueriesContext(connection)
    seen = _sent_when_states_made(monkeypatch, queries)
    # Act
    with queries:
        _ingest(route, "f2", LATER, T0 + timedelta(seconds=5))
    # Assert: the foreign keys' switch, then the marks, sent; nothing else
    # written yet.
    [(size, sent)] = seen
    assert size == 2
    assert sent[-2] == "SET CONSTRAINTS ALL IMMEDIATE"
    assert sent[-1].startswith('UPDATE "journal_position" SET "mark_price"')
    marks = Position.objects.filter(symbol="MNQH5", account__in=[route.small, route.large])
    assert sorted(marks.values_list("mark_price", "unrealized_pnl")) == [
        (LATER, Decimal(20)),
        (LATER, Decimal(120)),
    ]


def test_event_when_40_followers_then_the_first_orders_go_before_the_last_states_are_made(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every follower's state (its risk checks, the halts they write) was
    worked out before the first order was sent: 7 of a 1000-follower
    event's 55 ms, the server idle. The states are made a batch at a time
    as the orders are decided: the server stores the first 32 orders while
    the other followers' states are worked out."""
    # Arrange: 38 more followers on the route (40 orders, ratios 0.5, 1,
    # 1.5, 2 in turn).
    ratios = [Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2)]
    _followers_added(route, 38, ratio_of=lambda i: ratios[i % 4])
    _ingest(route, "f0", ENTRY, T0 - timedelta(seconds=5))  # the day's sessions opened
    queries = CaptureQueriesContext(connection)
    seen = _sent_when_states_made(monkeypatch, queries)
    # Act
    with queries:
        result = _ingest(route, "f1", ENTRY, T0)
    # Assert: 32 states, their orders sent, then the other 8 states.
    assert [size for size, _ in seen] == [32, 8]
    inserted = [
        [q for q in sent if q.startswith('INSERT INTO "routing_copyorder"')] for _, sent in seen
    ]
    assert [len(batch) for batch in inserted] == [0, 1]
    by_name = dict(
        CopyOrder.objects.filter(leader_event=result.event).values_list("account__name", "qty")
    )
    assert by_name.pop("Eval 25K") == 1
    assert by_name.pop("Funded 150K") == 6
    assert by_name == {f"F{i:02d}": [1, 2, 3, 4][i % 4] for i in range(38)}


def test_event_when_162_followers_then_orders_sent_in_batches_of_at_most_64(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches that doubled (32, 64, 128…) left the server the largest one
    to store after the last follower was decided: at 1000 followers 512
    orders, 20-25 ms of inserts (statement log, this machine). After the
    first 32 the batches stay at 64, so each is stored while the next is
    decided."""
    # Arrange: 160 more followers at ratio 1 (162 orders).
    _followers_added(route, 160)
    _ingest(route, "f0", ENTRY, T0 - timedelta(seconds=5))  # the day's sessions opened
    sizes: list[int] = []
    send = leader_decisions.copy_orders_send

    def sized(**kwargs: Any) -> Any:
        sizes.append(len(kwargs["decided"]))
        return send(**kwargs)

    monkeypatch.setattr(leader_decisions, "copy_orders_send", sized)
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f1", ENTRY, T0)
    # Assert: 32, 64, 64 and the 2 left, one insert each, every follower's
    # order once.
    assert sizes == [32, 64, 64, 2]
    between = _between_the_checks([q["sql"] for q in queries.captured_queries])
    assert between.count('INSERT INTO "routing_copyorder"') == 4
    orders = CopyOrder.objects.filter(leader_event=result.event)
    assert orders.values("account_id").distinct().count() == 162
    assert sorted(o.pk for o in result.orders) == sorted(orders.values_list("pk", flat=True))


def _stored() -> tuple[int, int, list[tuple[int, int]]]:
    """The copy orders and journal rows counted, and the expected positions
    (id, contracts): what an event the server refuses must leave as it was."""
    return (
        CopyOrder.objects.count(),
        JournalEntry.objects.count(),
        sorted(ExpectedPosition.objects.values_list("pk", "qty")),
    )


def test_order_when_refused_by_the_server_then_nothing_of_the_event_stays(route: Route) -> None:
    # Arrange: the first event is stored under another id, so f1 comes in
    # again as a new event whose copies carry the stored orders' client order
    # ids (made from the leader and f1): the orders' insert is refused, and
    # the server says so only once the event's writes are all sent.
    _filled_first_entry(route)
    LeaderEvent.objects.filter(external_id="f1").update(external_id="f1-earlier")
    before = _stored()
    # Act
    with pytest.raises(IntegrityError, match="uniq_copy_order_client_id"):
        _ingest(route, "f1", LATER, T0 + timedelta(seconds=5))
    # Assert: no event, order, mark, expected position or journal row of it.
    assert list(LeaderEvent.objects.values_list("external_id", flat=True)) == ["f1-earlier"]
    assert _stored() == before
    assert set(Position.objects.filter(qty__gt=0).values_list("mark_price", flat=True)) == {ENTRY}


def test_event_when_40_followers_then_orders_sent_in_batches_of_32_and_8(
    route: Route,
) -> None:
    # Arrange: a second group on the same leader; 19 more followers on the
    # first and 19 on the second make 40 orders, ratios 0.5, 1, 1.5, 2 in
    # turn (a leader buy of 2 makes 1, 2, 3, 4), the first batch spanning
    # both groups.
    second = copy_group_create(owner=route.owner, name="Second", leader=route.leader)
    ratios = [Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2)]
    _followers_added(
        route,
        38,
        group_of=lambda i: route.group if i < 19 else second,
        ratio_of=lambda i: ratios[i % 4],
    )
    # Act
    with CaptureQueriesContext(connection) as queries:
        result = _ingest(route, "f1", ENTRY, T0)
    # Assert: the day's first event opens the followers' sessions inside
    # the block (a savepoint and writes that wait for their outcome), then
    # two inserts (32 orders, then 8), before the expected positions, all
    # orders made at one instant, each at its ratio's size.
    between = _between_the_checks([q["sql"] for q in queries.captured_queries])
    assert between[0].startswith("SAVEPOINT")
    assert 'INSERT INTO "routing_accountsession"' in between
    orders_from = between.index('INSERT INTO "routing_copyorder"')
    assert between[orders_from:] == [
        'INSERT INTO "routing_copyorder"',
        'INSERT INTO "routing_copyorder"',
        'UPDATE "routing_expectedposition"',
        'INSERT INTO "journal_journalentry"',
    ]
    orders = CopyOrder.objects.filter(leader_event=result.event)
    assert orders.count() == 40
    assert orders.values("created_at").distinct().count() == 1
    assert orders.values("client_order_id").distinct().count() == 40
    by_name = dict(orders.values_list("account__name", "qty"))
    assert by_name.pop("Eval 25K") == 1
    assert by_name.pop("Funded 150K") == 6
    assert by_name == {f"F{i:02d}": [1, 2, 3, 4][i % 4] for i in range(38)}
    assert sorted(o.pk for o in result.orders) == sorted(orders.values_list("pk", flat=True))
    assert sorted(
        ExpectedPosition.objects.filter(symbol="MNQH5").values_list("qty", flat=True)
    ) == sorted([1, 6, *([1, 2, 3, 4][i % 4] for i in range(38))])


def test_batches_when_the_first_is_refused_then_nothing_of_the_event_stays(
    route: Route,
) -> None:
    # Arrange: 40 followers (batches of 32 and 8); f1 stored under another
    # id, so f1 again makes the stored orders' client order ids: the first
    # batch is refused by the server while the second is still being sent.
    _followers_added(route, 38)
    _ingest(route, "f1", ENTRY, T0)
    LeaderEvent.objects.filter(external_id="f1").update(external_id="f1-earlier")
    before = _stored()
    # Act
    with pytest.raises(IntegrityError, match="uniq_copy_order_client_id"):
        _ingest(route, "f1", LATER, T0 + timedelta(seconds=5))
    # Assert: no event, order, expected position or journal row of it, and
    # the connection takes the next event as usual.
    assert list(LeaderEvent.objects.values_list("external_id", flat=True)) == ["f1-earlier"]
    assert _stored() == before
    result = _ingest(route, "f2", LATER, T0 + timedelta(seconds=6))
    assert len(result.orders) == 40


def _followers_added(
    route: Route,
    count: int,
    *,
    group_of: Callable[[int], CopyGroup] | None = None,
    ratio_of: Callable[[int], Decimal] | None = None,
) -> None:
    """``count`` more $50K accounts F00, F01… following ``group_of(i)``
    (the route's group) at ``ratio_of(i)`` (1)."""
    for index in range(count):
        account = broker_account_create(
            owner=route.owner, name=f"F{index:02d}", balance=Decimal(50_000)
        )
        follower_add(
            group=route.group if group_of is None else group_of(index),
            account=account,
            ratio=Decimal(1) if ratio_of is None else ratio_of(index),
        )


def _between_the_checks(sql: list[str]) -> list[str]:
    start, end = (
        sql.index("SET CONSTRAINTS ALL IMMEDIATE"),
        sql.index("SET CONSTRAINTS ALL DEFERRED"),
    )
    return [s.split(" SET ")[0].split(" (")[0].split(" AS ")[0] for s in sql[start + 1 : end]]


def test_answers_when_filled_then_fills_and_orders_written_ahead_with_the_leaders_fill(
    route: Route,
) -> None:
    # Arrange: the first buy's two orders stored SENT, both filled at 21539.75.
    result = _ingest(route, "f1", ENTRY, T0)
    price, at = ENTRY + Decimal("0.25"), T0 + timedelta(seconds=1)
    answers = filled_answers(result.requests, price, at)
    assert result.leader_fill is not None
    # Act
    with CaptureQueriesContext(connection) as queries:
        event_answers_record(
            results=answers, feed={}, leader_fills={result.event.pk: result.leader_fill}
        )
    # Assert: the positions (made first: none existed), the fills (the
    # leader's first), the session totals, the orders, their journal and
    # the leader's event's flag are written between the foreign keys'
    # switch and back: nothing waits for the server after the block.
    between = _between_the_checks([q["sql"] for q in queries.captured_queries])
    assert [s for s in between if not s.startswith("SELECT")] == [
        'INSERT INTO "journal_position"',
        'UPDATE "journal_position"',
        'INSERT INTO "journal_fill"',
        'INSERT INTO "journal_sessionrealized"',
        'UPDATE "routing_copyorder"',
        'INSERT INTO "journal_journalentry"',
        'UPDATE "routing_leaderevent"',
    ]
    after = [q["sql"] for q in queries.captured_queries]
    after = after[after.index("SET CONSTRAINTS ALL DEFERRED") + 1 :]
    assert not [s for s in after if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    filled = JournalEntry.objects.filter(event_type="copy_order.filled")
    assert sorted(filled.values_list("message", flat=True)) == [
        f"Eval 25K: buy 1 MNQH5 filled @ {price}",
        f"Funded 150K: buy 6 MNQH5 filled @ {price}",
    ]
    assert sorted(CopyOrder.objects.values_list("status", "filled_qty")) == [
        ("filled", 1),
        ("filled", 6),
    ]
    assert sorted(Fill.objects.values_list("account__name", "qty", "price")) == [
        ("Eval 25K", 1, price),
        ("Funded 150K", 6, price),
        ("Lead", 2, ENTRY),
    ]
    assert sorted(Position.objects.values_list("account__name", "qty")) == [
        ("Eval 25K", 1),
        ("Funded 150K", 6),
        ("Lead", 2),
    ]
    assert SessionRealized.objects.filter(fills=1).count() == 3
    assert LeaderEvent.objects.get(pk=result.event.pk).fill_pending is False
