"""Positions, fills, journal entries and imported trades of the user (read)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from copytrade.api.base import ApiMixin
from copytrade.api.filters import FillFilter, JournalEntryFilter, PositionFilter, TradeFilter
from copytrade.api.serializers.journal import (
    FillSerializer,
    JournalEntrySerializer,
    PositionSerializer,
    TradeSerializer,
)
from journal.models import Fill, JournalEntry, Position, Trade


class PositionViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The journal's net position per account and contract (``?open=true``:
    only those holding contracts)."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = Position.objects.none()
    serializer_class = PositionSerializer
    filterset_class = PositionFilter
    ordering_fields = ["id", "symbol", "updated_at"]
    ordering = ["account", "symbol"]

    def get_queryset(self) -> QuerySet[Position]:
        return Position.objects.filter(account__owner=self.request.user)


class FillViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Executions on the user's accounts, newest first."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = Fill.objects.none()
    serializer_class = FillSerializer
    filterset_class = FillFilter
    ordering_fields = ["id", "filled_at"]
    ordering = ["-filled_at", "-id"]

    def get_queryset(self) -> QuerySet[Fill]:
        return Fill.objects.filter(account__owner=self.request.user)


class JournalEntryViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The user's journal (every decision and change), newest first."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = JournalEntry.objects.none()
    serializer_class = JournalEntrySerializer
    filterset_class = JournalEntryFilter
    ordering_fields = ["id", "occurred_at"]
    ordering = ["-occurred_at", "-id"]

    def get_queryset(self) -> QuerySet[JournalEntry]:
        return JournalEntry.objects.filter(owner_id=self.request.user.pk)


class TradeViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Round trips imported from the user's broker exports, newest first."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = Trade.objects.none()
    serializer_class = TradeSerializer
    filterset_class = TradeFilter
    ordering_fields = ["id", "closed_at", "pnl"]
    ordering = ["-closed_at", "-id"]

    def get_queryset(self) -> QuerySet[Trade]:
        return Trade.objects.filter(owner=self.request.user)
