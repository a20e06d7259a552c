"""The journal's indexes on PostgreSQL: one index leading with the owner."""

from __future__ import annotations

import pytest
from django.db import connection

from journal.models import JournalEntry


@pytest.mark.django_db
def test_journal_has_one_index_leading_with_the_owner() -> None:
    # Every journal row is written to every index: the owner's own index
    # was covered by journal_owner_recent (journal 0021 dropped it).
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, JournalEntry._meta.db_table)
    leading = sorted(
        name
        for name, c in constraints.items()
        if c["index"] and not c["primary_key"] and c["columns"][0] == "owner_id"
    )
    assert leading == ["journal_owner_recent"]
    assert constraints["journal_owner_recent"]["columns"] == ["owner_id", "occurred_at"]
