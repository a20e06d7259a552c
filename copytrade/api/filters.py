"""Query filters of the REST API's lists (django-filter). Date ranges take
ISO 8601 date-times (``2026-03-02T14:30:00Z``); ``*_after`` is inclusive,
``*_before`` exclusive."""

from __future__ import annotations

from datetime import date

import django_filters as df
from django.db.models import QuerySet

from journal.models import EventType, Fill, JournalEntry, Position, Trade
from journal.selectors import entries_in_session, entries_with_reason, reason_codes
from routing.models import CopyOrder


class CopyOrderFilter(df.FilterSet):
    """``group``, ``account``, ``status`` and ``created_after`` / ``created_before``."""

    status = df.ChoiceFilter(choices=CopyOrder.Status.choices)
    created_after = df.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = df.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = CopyOrder
        fields = ["group", "account", "status", "symbol", "kind"]


class PositionFilter(df.FilterSet):
    open = df.BooleanFilter(method="_open", label="Only positions with contracts (qty != 0).")

    class Meta:
        model = Position
        fields = ["account", "symbol"]

    def _open(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.exclude(qty=0) if value else queryset.filter(qty=0)


class FillFilter(df.FilterSet):
    filled_after = df.IsoDateTimeFilter(field_name="filled_at", lookup_expr="gte")
    filled_before = df.IsoDateTimeFilter(field_name="filled_at", lookup_expr="lt")

    class Meta:
        model = Fill
        fields = ["account", "symbol", "copy_order"]


class JournalEntryFilter(df.FilterSet):
    """``account`` and ``group`` are ids (the journal keeps plain ids);
    ``session`` a trading date, ``code`` a halt's, lock's or incident's
    reason code."""

    account = df.NumberFilter(field_name="account_id")
    group = df.NumberFilter(field_name="group_id")
    event_type = df.ChoiceFilter(choices=EventType.choices)
    occurred_after = df.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = df.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    session = df.DateFilter(
        method="in_session", label="Trading date (CME session: 17:00 CT the evening before)"
    )
    code = df.ChoiceFilter(choices=reason_codes(), method="with_reason", label="Reason code")

    class Meta:
        model = JournalEntry
        fields = ["account", "group", "event_type"]

    def in_session(
        self, entries: QuerySet[JournalEntry], name: str, value: date
    ) -> QuerySet[JournalEntry]:
        return entries_in_session(entries, value)

    def with_reason(
        self, entries: QuerySet[JournalEntry], name: str, value: str
    ) -> QuerySet[JournalEntry]:
        return entries_with_reason(entries, value)


class TradeFilter(df.FilterSet):
    closed_after = df.IsoDateTimeFilter(field_name="closed_at", lookup_expr="gte")
    closed_before = df.IsoDateTimeFilter(field_name="closed_at", lookup_expr="lt")

    class Meta:
        model = Trade
        fields = ["account_name", "symbol", "source_format", "export_import"]
