"""Admin: the journal and the broker history, viewable, never editable
(the journal is append-only; database triggers refuse edits anyway)."""

from __future__ import annotations

from django.contrib import admin

from copytrade.admin_service import HistoryAdmin
from journal.models import Fill, JournalEntry


@admin.register(JournalEntry)
class JournalEntryAdmin(HistoryAdmin):
    list_display = ("occurred_at", "owner_id", "event_type", "actor_label", "message")
    list_filter = ("event_type",)
    search_fields = ("message", "actor_label")


@admin.register(Fill)
class FillAdmin(HistoryAdmin):
    list_display = ("filled_at", "account", "symbol", "side", "qty", "broker_fill_id")
