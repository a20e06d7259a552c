"""The session's realized PnL is read from the followers' own session fills.

``session_realized_by_account`` runs on every leader event, for every
follower of the leader. It must not read other accounts' fills (another
user's busy day would slow this user's copy path) nor the followers' fills of
earlier sessions (the cost would grow with the account's history): an index
on (account, filled_at) carrying the realized PnL answers it alone. Measured
on 2.4 M fills (400 k in the session, 200 followers with 200 each): 81 ms
through the single-column indexes, 14 ms through the covering one.

The planner is told to avoid sequential and bitmap scans, as it would on a
table of that size (on a test's few rows it would rightly scan the table),
and the rows every scan read are counted from ``EXPLAIN ANALYZE``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import Fill
from routing.engine.sessions import session_start
from routing.selectors import session_realized_by_account

AT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Friday 2026-03-06's session

pytestmark = pytest.mark.django_db


def _fills(account: BrokerAccount, prefix: str, at: datetime, n: int, pnl: Decimal) -> None:
    Fill.objects.bulk_create(
        Fill(
            account=account,
            broker_fill_id=f"{prefix}{i}",
            symbol="MNQH6",
            side="SELL",
            qty=1,
            price=Decimal(21000),
            realized_pnl=pnl,
            filled_at=at + timedelta(seconds=i),
        )
        for i in range(n)
    )


def _rows_scanned(plan: dict[str, Any]) -> int:
    """Rows every scan node of an ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan
    read: those it produced and those its filter then removed."""
    rows = 0
    if "Scan" in plan["Node Type"]:
        read = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        rows = read * plan.get("Actual Loops", 1)
    return rows + sum(_rows_scanned(child) for child in plan.get("Plans", []))


def test_realized_reads_only_the_followers_session_fills(route: Route, bob: User) -> None:
    # Arrange: 3 session fills of -10.00 for the small account, 2 of +25.00
    # for the large; 40 fills of each from the session before; 2,000 fills of
    # another user's account in this session.
    other = broker_account_create(owner=bob, name="Bob's", balance=Decimal(50_000))
    opened = session_start(AT)
    _fills(route.small, "s", opened + timedelta(hours=1), 3, Decimal("-10.00"))
    _fills(route.large, "l", opened + timedelta(hours=2), 2, Decimal("25.00"))
    _fills(route.small, "old-s", opened - timedelta(days=1), 40, Decimal(1))
    _fills(route.large, "old-l", opened - timedelta(days=1), 40, Decimal(1))
    _fills(other, "b", opened + timedelta(hours=1), 2000, Decimal(5))
    ids = [route.small.pk, route.large.pk]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE journal_fill")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # Act
        with CaptureQueriesContext(connection) as queries:
            realized = session_realized_by_account(ids, AT)
        (query,) = queries.captured_queries
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
        found = cursor.fetchone()[0]
    # The plan comes as json (parsed by the driver) or as its text.
    (plan,) = json.loads(found) if isinstance(found, str) else found
    # Assert: -30.00 and +50.00, from the 5 session fills and nothing else.
    assert realized == {route.small.pk: Decimal("-30.00"), route.large.pk: Decimal("50.00")}
    assert _rows_scanned(plan["Plan"]) == 5
