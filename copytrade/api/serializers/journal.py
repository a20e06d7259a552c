"""Positions, fills, journal entries and imported trades (money and prices
as decimal strings, quantities integer contracts, times ISO 8601 UTC)."""

from __future__ import annotations

from rest_framework import serializers

from journal.models import Fill, JournalEntry, Position, Trade


class PositionSerializer(serializers.ModelSerializer[Position]):
    """``qty`` signed contracts (+ long, - short)."""

    class Meta:
        model = Position
        fields = [
            "id",
            "account",
            "symbol",
            "qty",
            "avg_price",
            "mark_price",
            "realized_pnl",
            "unrealized_pnl",
            "updated_at",
        ]
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer[Fill]):
    class Meta:
        model = Fill
        fields = [
            "id",
            "account",
            "copy_order",
            "broker_fill_id",
            "symbol",
            "side",
            "qty",
            "price",
            "realized_pnl",
            "filled_at",
        ]
        read_only_fields = fields


class JournalEntrySerializer(serializers.ModelSerializer[JournalEntry]):
    """``group`` and ``account`` are plain ids (the journal outlives them)."""

    group = serializers.IntegerField(source="group_id", read_only=True, allow_null=True)
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "occurred_at",
            "event_type",
            "actor_label",
            "group",
            "account",
            "message",
            "before",
            "after",
            "extra_data",
        ]
        read_only_fields = fields


class TradeSerializer(serializers.ModelSerializer[Trade]):
    """A closed round trip imported from a broker export."""

    class Meta:
        model = Trade
        fields = [
            "id",
            "export_import",
            "source_format",
            "account_name",
            "external_id",
            "symbol",
            "side",
            "qty",
            "entry_price",
            "exit_price",
            "pnl",
            "fees",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields
