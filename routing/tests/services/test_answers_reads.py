"""An event's broker answers read what they need in one round trip.

Defect (issue 9, found sampling the sustained case with py-spy): the
answers' locks and specs went to the server in one round trip, and the
fills' reads (which are stored already, their positions locked) in a second
one, opened inside the writes' pipeline: entering it waited for the server
first. At 200 followers that was about 3.5 % of the worker's samples.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from conftest import Route
from copytrade.core import hot_reads
from journal.models import Fill, Position
from routing.brokers.base import OrderResult
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder
from routing.services.leader_events import IngestResult, leader_event_ingest
from routing.services.order_results import event_answers_record
from routing.tests.answers import filled_answers

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)
PRICE = Decimal("21539.50")


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The SQL of every batch of hot reads sent together, in order."""
    sent: list[list[str]] = []
    together = hot_reads._run_together

    def recorded(statements: Sequence[hot_reads.Statement]) -> Any:
        if statements:
            sent.append([s.sql for s in statements])
        return together(statements)

    monkeypatch.setattr(hot_reads, "_run_together", recorded)
    return sent


def _ingested(route: Route) -> tuple[IngestResult, list[tuple[int, OrderResult]]]:
    """A leader buy of 2 ingested as the worker does it (orders stored SENT:
    1 and 6 contracts), and every order's answer, filled."""
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, PRICE, T0)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test", claimed=True)
    return result, filled_answers(result.requests, PRICE, T0)


def _known(result: IngestResult) -> dict[int, CopyOrder]:
    """The ingest's orders by id, as the worker knows them."""
    return {order.pk: order for order in result.orders}


def _positions(route: Route) -> dict[str, int]:
    return dict(
        Position.objects.filter(account__in=[route.small, route.large]).values_list(
            "account__name", "qty"
        )
    )


def test_answers_when_orders_known_then_locks_specs_and_fills_read_in_one_round_trip(
    route: Route, round_trips: list[list[str]]
) -> None:
    # Arrange: the ingest's orders (1 and 6 contracts), as the worker knows them.
    result, answers = _ingested(route)
    round_trips.clear()
    # Act
    event_answers_record(results=answers, feed={}, known=_known(result))
    # Assert: one batch of reads: leaders and orders locked, specs, the
    # stored fills and the positions locked, in that order; none after it.
    assert len(round_trips) == 1
    (batch,) = round_trips
    assert [_table(sql) for sql in batch] == [
        "accounts_brokeraccount",
        "routing_copyorder",
        "routing_contractspec",
        "journal_fill",
        "journal_position",
    ]
    assert "FOR UPDATE" in batch[0] and "FOR UPDATE" in batch[1] and "FOR UPDATE" in batch[4]
    # And the answers are recorded as before: both filled, positions moved.
    assert set(CopyOrder.objects.values_list("status", flat=True)) == {"filled"}
    assert _positions(route) == {"Eval 25K": 1, "Funded 150K": 6}


def test_answers_when_recorded_twice_then_nothing_twice(
    route: Route, round_trips: list[list[str]]
) -> None:
    # Arrange: the answers recorded once (the send's answer).
    result, answers = _ingested(route)
    known = _known(result)
    event_answers_record(results=answers, feed={}, known=known)
    round_trips.clear()
    # Act: the same answers again (the update stream's echo).
    event_answers_record(results=answers, feed={}, known=known)
    # Assert: the stored fills read ahead are found, nothing is stored again.
    assert len(round_trips) == 1
    assert Fill.objects.count() == 2
    assert _positions(route) == {"Eval 25K": 1, "Funded 150K": 6}


def test_answers_when_a_fill_has_no_spec_then_the_others_read_again_and_recorded(
    route: Route, round_trips: list[list[str]]
) -> None:
    # Arrange: the large follower's fill comes back in a contract without a
    # spec (ZBH5 is not seeded): it cannot be stored, so the fills' reads
    # differ from those sent ahead with the locks.
    result, answers = _ingested(route)
    large = next(o.pk for o in result.orders if o.account_id == route.large.pk)
    answers = [
        (order_id, _in_contract(answer, "ZBH5") if order_id == large else answer)
        for order_id, answer in answers
    ]
    round_trips.clear()
    # Act
    event_answers_record(results=answers, feed={}, known=_known(result))
    # Assert: the fills' reads ran again for the fill that is stored (a second
    # batch), and only the small follower's position moved.
    assert len(round_trips) == 2
    assert [_table(sql) for sql in round_trips[1]] == ["journal_fill", "journal_position"]
    assert list(Fill.objects.values_list("account__name", "symbol", "qty")) == [
        ("Eval 25K", "MNQH5", 1)
    ]
    assert _positions(route) == {"Eval 25K": 1}


def _in_contract(answer: OrderResult, symbol: str) -> OrderResult:
    return replace(answer, fills=tuple(replace(fill, symbol=symbol) for fill in answer.fills))


def _table(sql: str) -> str:
    """The table a hot read's statement reads from (its first ``FROM``)."""
    after = sql.split(" FROM ", 1)[1].lstrip()
    if after.startswith("UNNEST"):
        after = after.split(" JOIN LATERAL ", 1)[1].split(" FROM ", 1)[1].lstrip()
    return after.split()[0].strip('"')
