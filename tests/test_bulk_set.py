"""copytrade.core.bulk.bulk_set: many rows' columns in one UPDATE."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from copytrade.core.bulk import bulk_set
from journal.models import Position

pytestmark = pytest.mark.django_db


def _positions(n: int) -> list[Position]:
    user = User.objects.create_user("u", password="pw-123456789")
    rows = []
    for i in range(n):
        account = BrokerAccount.objects.create(owner=user, name=f"A{i}", external_id=f"a{i}")
        rows.append(Position.objects.create(account=account, symbol="MNQH6"))
    return rows


def test_it_writes_every_row_in_one_statement_exactly() -> None:
    rows = _positions(3)
    untouched = Position.objects.create(account=rows[0].account, symbol="MESH6", qty=7)
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    for i, row in enumerate(rows):
        row.qty = -i - 1
        row.avg_price = Decimal("21000.25") + i
        row.mark_price = None if i == 0 else Decimal("21001.75")
        row.unrealized_pnl = Decimal("-12.345") * (i + 1)
        row.updated_at = when
    with CaptureQueriesContext(connection) as queries:
        matched = bulk_set(rows, ["qty", "avg_price", "mark_price", "unrealized_pnl", "updated_at"])
    assert (matched, len(queries)) == (3, 1)
    stored = {p.pk: p for p in Position.objects.all()}
    assert [(stored[r.pk].qty, stored[r.pk].avg_price) for r in rows] == [
        (-1, Decimal("21000.25")),
        (-2, Decimal("21001.25")),
        (-3, Decimal("21002.25")),
    ]
    assert [stored[r.pk].mark_price for r in rows] == [
        None,
        Decimal("21001.75"),
        Decimal("21001.75"),
    ]
    assert [stored[r.pk].unrealized_pnl for r in rows] == [
        Decimal("-12.345"),
        Decimal("-24.690"),
        Decimal("-37.035"),
    ]
    assert {stored[r.pk].updated_at for r in rows} == {when}
    assert stored[untouched.pk].qty == 7  # a row not given is left alone


def test_it_refuses_unsaved_rows_and_writes_nothing_for_none() -> None:
    assert bulk_set([], ["qty"]) == 0
    with pytest.raises(ValueError, match="saved Position rows"):
        bulk_set([Position(symbol="MNQH6")], ["qty"])
