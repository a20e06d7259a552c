"""The session's realized PnL is a running total, not a sum over fills.

``session_realized_by_account`` runs on every leader event, for every
follower of the leader. Summed over the session's fills its cost grew with
the day's fills (and, through the single-column indexes, with every other
account's); it reads one row per account now
(:class:`journal.models.SessionRealized`), which
:func:`journal.fills.fills_record` moves with each fill it stores.

Friday 2026-03-06's session opened Thursday 03-05 at 17:00 CST = 23:00 UTC.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from journal.fills import FillInput, fills_record
from journal.models import Fill, SessionRealized
from routing.engine.sessions import session_start
from routing.selectors import session_realized_by_account

AT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # in Friday 2026-03-06's session
OPENED = session_start(AT)
MNQ = Decimal(2)  # dollars per point

pytestmark = pytest.mark.django_db


def _round_trips(
    account: BrokerAccount, prefix: str, at: datetime, n: int, points: Decimal
) -> list[FillInput]:
    """``n`` one-lot long round trips from 21,000 to 21,000 + ``points``."""
    fills = []
    for i in range(n):
        when = at + timedelta(minutes=i)
        for leg, side, price in (("b", "buy", Decimal(21000)), ("s", "sell", 21000 + points)):
            fills.append(
                FillInput(
                    account_id=account.pk,
                    broker_fill_id=f"{prefix}{i}{leg}",
                    symbol="MNQH6",
                    side=side,
                    qty=1,
                    price=price,
                    point_value=MNQ,
                    filled_at=when,
                )
            )
    return fills


def _rows_scanned(plan: dict[str, Any]) -> int:
    """Rows every scan node of an ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan
    read: those it produced and those its filter then removed."""
    rows = 0
    if "Scan" in plan["Node Type"]:
        read = plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)
        rows = read * plan.get("Actual Loops", 1)
    return rows + sum(_rows_scanned(child) for child in plan.get("Plans", []))


def test_realized_reads_one_row_per_account_whatever_the_fills(route: Route, bob: User) -> None:
    # Arrange: small: 3 round trips of -5 points (3 x -10.00); large: 2 of
    # +12.5 points (2 x +25.00); each also traded the session before; another
    # user's account traded 200 round trips in this session.
    other = broker_account_create(owner=bob, name="Bob's", balance=Decimal(50_000))
    fills_record(
        [
            *_round_trips(route.small, "s", OPENED + timedelta(hours=1), 3, Decimal(-5)),
            *_round_trips(route.large, "l", OPENED + timedelta(hours=2), 2, Decimal("12.5")),
            *_round_trips(route.small, "old-s", OPENED - timedelta(days=1), 20, Decimal(1)),
            *_round_trips(route.large, "old-l", OPENED - timedelta(days=1), 20, Decimal(1)),
            *_round_trips(other, "b", OPENED + timedelta(hours=1), 200, Decimal(1)),
        ]
    )
    ids = [route.small.pk, route.large.pk]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE journal_sessionrealized")
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
    # Assert: 3 x -5 pt x $2 = -30.00; 2 x +12.5 pt x $2 = +50.00, from one
    # row each (the sum over fills read the 10 session fills, 5 realizing).
    assert realized == {route.small.pk: Decimal("-30.00"), route.large.pk: Decimal("50.00")}
    assert _rows_scanned(plan["Plan"]) == 2


def test_each_fill_counts_once_in_the_session_of_its_time(route: Route) -> None:
    # Arrange: Thursday 22:30 UTC (16:30 CST) is in Thursday's session;
    # 23:30 UTC in Friday's. Round trip 1: buy Thu 22:00 @ 21,000, sell Thu
    # 22:30 @ 21,010 (+10 pt = +20.00 on Thursday); round trip 2: buy Thu
    # 23:30 @ 21,000, sell Fri 15:00 @ 20,990 (-10 pt = -20.00 on Friday).
    thursday = datetime(2026, 3, 5, tzinfo=UTC)
    legs = [
        ("t1", "buy", 21000, thursday + timedelta(hours=22)),
        ("t2", "sell", 21010, thursday + timedelta(hours=22, minutes=30)),
        ("f1", "buy", 21000, thursday + timedelta(hours=23, minutes=30)),
        ("f2", "sell", 20990, AT),
    ]
    fills = [
        FillInput(
            account_id=route.small.pk,
            broker_fill_id=fill_id,
            symbol="MNQH6",
            side=side,
            qty=1,
            price=Decimal(price),
            point_value=MNQ,
            filled_at=at,
        )
        for fill_id, side, price, at in legs
    ]
    # Act: recorded in two batches, the second repeating the first's fills.
    fills_record(fills[:2])
    fills_record(fills)
    # Assert
    rows = {
        r.trading_date.isoformat(): (r.realized_pnl, r.fills)
        for r in SessionRealized.objects.filter(account=route.small)
    }
    assert rows == {
        "2026-03-05": (Decimal("20.00"), 2),
        "2026-03-06": (Decimal("-20.00"), 2),
    }
    assert session_realized_by_account([route.small.pk], AT) == {route.small.pk: Decimal("-20.00")}
    # The totals equal the sum over the stored fills of each session.
    assert sum(f.realized_pnl for f in Fill.objects.filter(filled_at__gte=OPENED)) == Decimal(
        "-20.00"
    )


def test_the_migration_counts_the_fills_stored_before_the_totals(route: Route) -> None:
    # Arrange: fills stored without totals (as before the migration): +20.00
    # and -7.50 on Thursday's session, -20.00 on Friday's.
    thursday = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    for fill_id, pnl, at in (("a", "20.00", thursday), ("b", "-7.50", thursday), ("c", "-20", AT)):
        Fill.objects.create(
            account=route.small,
            broker_fill_id=fill_id,
            symbol="MNQH6",
            side="sell",
            qty=1,
            price=Decimal(21000),
            realized_pnl=Decimal(pnl),
            filled_at=at,
        )
    migration = importlib.import_module("journal.migrations.0010_session_realized")
    # Act
    migration.fills_to_sessions(apps, SimpleNamespace(connection=connection))
    # Assert
    rows = {
        r.trading_date.isoformat(): (r.realized_pnl, r.fills)
        for r in SessionRealized.objects.filter(account=route.small)
    }
    assert rows == {"2026-03-05": (Decimal("12.50"), 2), "2026-03-06": (Decimal("-20.00"), 1)}
