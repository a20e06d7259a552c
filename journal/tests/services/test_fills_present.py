"""Which of a batch's fills are stored already: one index probe per fill.

Defect (issue 9, found measuring the broker answers of a 200-follower
event): the read asked for ``account_id = ANY(accounts) AND broker_fill_id
IN (fill ids)``. PostgreSQL estimated the cross product of the two lists
(200 x 158 pairs) and scanned the whole fills table instead: 44 ms per
event's answers with 267,000 fills stored, growing with every fill a
trading day adds. The read now joins the batch's (account, fill id) pairs
to the unique index.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from journal.fill_reads import fills_stored_ahead
from journal.fills import FillInput, fills_record
from journal.models import Fill

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
ACCOUNTS = 200
STORED_PER_ACCOUNT = 1000


def _fill(account_id: int, fill_id: str, side: str = "buy") -> FillInput:
    return FillInput(
        account_id=account_id,
        broker_fill_id=fill_id,
        symbol="MNQH6",
        side=side,
        qty=1,
        price=Decimal("21000.25"),
        point_value=Decimal(2),
        filled_at=AT,
    )


def _accounts(owner: User) -> list[int]:
    BrokerAccount.objects.bulk_create(
        BrokerAccount(owner=owner, name=f"F{i}", balance=Decimal(50_000), external_id=f"F{i}")
        for i in range(ACCOUNTS)
    )
    return list(
        BrokerAccount.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True)
    )


def _old_fills(cursor: Any, table: str, ids: list[int], per_account: int) -> None:
    """``per_account`` fills of each of ``ids`` stored in ``table``, written
    by the database, then its statistics taken."""
    cursor.execute(
        f"INSERT INTO {table} (created_at, updated_at, broker_fill_id, symbol, side, "
        "qty, price, realized_pnl, filled_at, account_id) "
        "SELECT now(), now(), 'old-' || a || '-' || n, 'MNQH6', 'buy', 1, 21000, 0, now(), a "
        "FROM unnest(%s::bigint[]) AS a, generate_series(1, %s) AS n",
        [ids, per_account],
    )
    cursor.execute(f"ANALYZE {table}")


def _stored_fills_read(batch: list[FillInput]) -> str:
    """The stored-fills read :func:`fills_record` sends for ``batch`` (recorded)."""
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        fills_record(batch)
    return next(
        q["sql"]
        for q in captured
        if q["sql"].lstrip().startswith("SELECT") and "journal_fill" in q["sql"]
    )


def test_the_stored_fills_read_probes_the_index_per_fill(alice: User) -> None:
    ids = _accounts(alice)
    # Many days of stored fills (200,000), written by the database.
    with connection.cursor() as cursor:
        _old_fills(cursor, "journal_fill", ids, STORED_PER_ACCOUNT)
    read = _stored_fills_read([_fill(account_id, f"new-{account_id}") for account_id in ids[:158]])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {read}")
        plan = json.dumps(cursor.fetchone()[0])
    assert '"Seq Scan"' not in plan, plan
    assert "uniq_fill_account_broker_id" in plan, plan
    assert Fill.objects.filter(broker_fill_id__startswith="new-").count() == 158


def test_the_stored_fills_read_probes_the_index_while_the_table_is_small(alice: User) -> None:
    """Defect (issue 9, found measuring the sustained case's answers): with
    the pairs joined, a fills table of a few tens of thousands of rows (the
    first hours of a large group's trading) was read whole and hashed: the
    planner, pricing each index probe as a random read from disk, found
    the scan cheaper until about 60,000 fills. On a machine whose table is
    cached the scan took 1.6 ms at the first events of a 200-follower run
    and 19 ms per event's answers before the plan changed. Now each pair
    probes the unique index, whatever the table's size or statistics."""
    ids = _accounts(alice)
    read = _stored_fills_read([_fill(account_id, f"new-{account_id}") for account_id in ids])
    with connection.cursor() as cursor:
        # The read planned against a copy of the table holding 20,000 fills
        # and nothing else (the real one keeps other tests' dead rows, which
        # make any scan look dear), found first on the search path.
        cursor.execute("CREATE SCHEMA fills_small")
        cursor.execute(
            "CREATE TABLE fills_small.journal_fill (LIKE public.journal_fill INCLUDING ALL)"
        )
        _old_fills(cursor, "fills_small.journal_fill", ids, 100)
        cursor.execute("SET LOCAL search_path TO fills_small, public")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {read}")
        plan = json.dumps(cursor.fetchone()[0])
        cursor.execute("SET LOCAL search_path TO DEFAULT")
    assert '"Seq Scan"' not in plan, plan
    assert '"Hash Join"' not in plan, plan
    assert "fills_small" not in read  # the read names the table, not its schema
    # The copy's unique index on (account, broker fill id), named by LIKE.
    assert '"Index Name": "journal_fill_account_id_broker_fill_id_key"' in plan, plan
    assert Fill.objects.filter(broker_fill_id__startswith="new-").count() == ACCOUNTS


def test_the_read_finds_exactly_the_batch_pairs(alice: User) -> None:
    first, second = _accounts(alice)[:2]
    with transaction.atomic():
        fills_record([_fill(first, "x-1"), _fill(second, "x-2")])
    # The same fill ids on other accounts are other fills; a repeat with other
    # content is a conflict; a repeat with the same content is skipped.
    with transaction.atomic():
        recorded = fills_record(
            [
                _fill(second, "x-1"),
                _fill(first, "x-2"),
                _fill(first, "x-1", side="sell"),
                _fill(second, "x-2"),
            ]
        )
    assert [(s.fill.account_id, s.fill.broker_fill_id) for s in recorded.stored] == [
        (second, "x-1"),
        (first, "x-2"),
    ]
    assert [(c.received.account_id, c.received.broker_fill_id) for c in recorded.conflicts] == [
        (first, "x-1")
    ]
    assert Fill.objects.count() == 4


def test_the_read_sends_the_pairs_as_array_literals_and_finds_awkward_fill_ids(
    alice: User,
) -> None:
    """Found sampling a 1000-follower event's answers: the pairs went as two
    lists the driver wrote out value by value (0.8 ms per thousand). They
    go as two array literals; a broker fill id with a quote, a backslash,
    a comma, braces or the word NULL is still found as itself."""
    first, second = _accounts(alice)[:2]
    read, args = fills_stored_ahead([(first, 'q"1'), (second, "b\\2")])
    statement = read.statement(*args)
    assert statement is not None
    assert statement.params == [f"{{{first},{second}}}", '{"q\\"1","b\\\\2"}']
    awkward = ['q"1', "b\\2", "c,3", "{d4}", "NULL", "e 5"]
    batch = [_fill(account, fill_id) for account in (first, second) for fill_id in awkward]
    with transaction.atomic():
        assert len(fills_record(batch).stored) == 12
    with transaction.atomic():
        again = fills_record(batch)
    assert (again.stored, again.conflicts) == ([], [])
    assert sorted(
        Fill.objects.filter(account_id=first).values_list("broker_fill_id", flat=True)
    ) == sorted(awkward)
