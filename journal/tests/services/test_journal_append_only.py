"""Journal entries are append-only, down to the database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from journal.models import EventType, JournalEntry
from journal.services import journal_record

pytestmark = pytest.mark.django_db


def _entry() -> JournalEntry:
    return journal_record(
        owner_id=1, event_type=EventType.RISK_LIMIT_CHANGED, message="limits set", actor_label="t"
    )


def test_save_existing_entry_then_refused() -> None:
    entry = _entry()
    entry.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def test_raw_update_or_delete_then_database_refuses() -> None:
    entry = _entry()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(message="rewritten")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).delete()
    assert JournalEntry.objects.get(pk=entry.pk).message == "limits set"
