"""Reads for the journal pages."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from journal.models import ExportImport, JournalEntry


def journal_entries_for_user(
    *, user: User, group_id: int | None = None, limit: int = 200
) -> QuerySet[JournalEntry]:
    entries = JournalEntry.objects.filter(owner_id=user.pk)
    if group_id is not None:
        entries = entries.filter(group_id=group_id)
    return entries.order_by("-occurred_at", "-id")[:limit]


def imports_for_user(*, user: User) -> QuerySet[ExportImport]:
    return ExportImport.objects.filter(owner=user).order_by("-id")
