"""Journal rows written from values (journal_row, journal_rows_add) are the
rows journal_entry + journal_entries_add write from model instances."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journal.models import EventType, JournalEntry
from journal.services import (
    JournalRow,
    journal_entries_add,
    journal_entry,
    journal_row,
    journal_rows_add,
)

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
COLUMNS = tuple(f.name for f in JournalEntry._meta.concrete_fields if not f.primary_key)

CASES: list[dict[str, Any]] = [
    {
        "owner_id": 7,
        "event_type": EventType.COPY_ORDER_BLOCKED,
        "group_id": 3,
        "account_id": 11,
        "actor_label": "engine",
        "occurred_at": WHEN,
        "message": 'Eval 25K: buy MNQH6 blocked: "daily loss" \\ reached, {x}',
        "extra_data": {"client_order_id": "ct-1", "price": Decimal("21000.25")},
    },
    {
        "owner_id": 8,
        "event_type": "leader_event.received",
        "actor_label": "replay",
        "actor_user_id": 8,
        "occurred_at": WHEN,
        "message": "plain",
        "before": {"qty": 1},
        "after": [1, None],
    },
    {"owner_id": 9, "event_type": EventType.SESSION_RESET, "actor_label": "t", "message": ""},
]


def _stored(pks: list[int]) -> list[tuple[Any, ...]]:
    rows = {row[0]: row[1:] for row in JournalEntry.objects.values_list("pk", *COLUMNS)}
    return [rows[pk] for pk in pks]


def test_rows_list_the_models_columns_in_order() -> None:
    assert JournalRow._fields == COLUMNS


def test_rows_store_exactly_what_entries_store_in_one_statement() -> None:
    # Arrange
    entries = [journal_entry(**case) for case in CASES]
    journal_entries_add(entries)
    # Act
    before = timezone.now()
    rows = [journal_row(**case) for case in CASES]
    with CaptureQueriesContext(connection) as queries:
        pks = journal_rows_add(rows)
    # Assert: every column alike but the default time (now, at each call).
    assert len(queries) == 1
    assert len(pks) == len(CASES)
    assert all(a > b for a, b in zip(pks, [e.pk for e in entries], strict=True))
    by_entries, by_rows = _stored([e.pk for e in entries]), _stored(pks)
    assert [r[1:] for r in by_rows] == [r[1:] for r in by_entries]
    assert [r[0] for r in by_rows[:2]] == [WHEN, WHEN]
    assert by_rows[2][0] >= before
    assert rows[0].event_type == "copy_order.blocked" == EventType.COPY_ORDER_BLOCKED.value
    assert type(rows[0].event_type) is str


def test_no_rows_write_nothing() -> None:
    assert journal_rows_add([]) == []
    assert not JournalEntry.objects.exists()
