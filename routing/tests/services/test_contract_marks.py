"""The last known price of each contract on one leader's routes.

Found measuring a 1000-follower event's lock round trip: the read sent back
every marked position of the routes' accounts (a thousand rows) for one
price a contract, 0.4 ms to decode alone. On PostgreSQL it now sends each
contract's latest mark only (DISTINCT ON).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import Position
from routing.services.follower_state import contract_marks, contract_marks_ahead

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 28, 16, 0, tzinfo=UTC)


def _marked(account_id: int, symbol: str, price: str, second: int) -> None:
    """A position of ``account_id`` in ``symbol`` marked at ``price``, its
    mark ``second`` seconds after T0."""
    position = Position.objects.create(
        account_id=account_id, symbol=symbol, qty=1, avg_price=Decimal(price)
    )
    Position.objects.filter(pk=position.pk).update(
        mark_price=Decimal(price), updated_at=T0.replace(second=second)
    )


def test_each_contract_latest_mark_of_the_routes_accounts_comes_in_a_row_of_its_own(
    route: Route, bob: User
) -> None:
    # Arrange: MNQH5 marked on both followers (the large one's later), MESH5
    # on one, an unmarked M2KH5, and a later MNQH5 mark of another user's.
    other = broker_account_create(owner=bob, name="Bob", balance=Decimal(50_000))
    _marked(route.small.pk, "MNQH5", "21000.25", 1)
    _marked(route.large.pk, "MNQH5", "21001.50", 2)
    _marked(route.large.pk, "MESH5", "6010.75", 1)
    Position.objects.create(account=route.small, symbol="M2KH5", qty=1, avg_price=Decimal(2200))
    _marked(other.pk, "MNQH5", "99999", 3)
    symbols, accounts = {"MNQH5", "MESH5", "M2KH5"}, [route.small.pk, route.large.pk]
    # Act
    with CaptureQueriesContext(connection) as queries:
        marks = contract_marks(symbols, account_ids=accounts)
    read, args = contract_marks_ahead(symbols, account_ids=accounts)
    rows = read(*args)
    # Assert: one statement, one row per marked contract, the latest mark.
    assert marks == {"MNQH5": Decimal("21001.50"), "MESH5": Decimal("6010.75")}
    [sql] = [q["sql"] for q in queries.captured_queries]
    assert sql.startswith('SELECT DISTINCT ON ("journal_position"."symbol")')
    assert sorted(rows) == [("MESH5", Decimal("6010.75")), ("MNQH5", Decimal("21001.50"))]
