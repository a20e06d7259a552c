"""Broker accounts and logins (read), and an account's risk limits (read, set)."""

from __future__ import annotations

import copy

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import BrokerAccount, BrokerLogin
from copytrade.api.base import ApiMixin
from copytrade.api.serializers.accounts import BrokerAccountSerializer, BrokerLoginSerializer
from copytrade.api.serializers.routing import RiskLimitSerializer
from routing.models import RiskLimit
from routing.services.risk_limits import risk_limit_update


class BrokerAccountViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The user's broker accounts, with their login's platform, label,
    identity, connection state and budget (never a credential)."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = BrokerAccount.objects.none()
    serializer_class = BrokerAccountSerializer
    filterset_fields = ["platform", "kind", "enabled", "login"]
    ordering_fields = ["name", "id", "balance", "created_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[BrokerAccount]:
        return BrokerAccount.objects.filter(owner=self.request.user).select_related("login")

    @extend_schema(request=RiskLimitSerializer, responses=RiskLimitSerializer, tags=["risk limits"])
    @action(detail=True, methods=["get", "patch"], url_path="risk-limits")
    def risk_limits(self, request: Request, pk: str | None = None) -> Response:
        """GET the account's limits (all ``null`` when none is set); PATCH
        sets the limits given (``null`` removes one) through
        ``risk_limit_update``, as the follower limits page does (journaled;
        a refused value is a 400 on its field)."""
        account = self.get_object()
        stored = RiskLimit.objects.filter(account=account).first()
        if request.method == "GET":
            return Response(RiskLimitSerializer(stored or RiskLimit(account=account)).data)
        # The serializer writes into its instance while validating: never the stored row.
        instance = copy.copy(stored) if stored is not None else RiskLimit(account=account)
        data = RiskLimitSerializer(instance, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        risk_limit_update(account=account, actor=request.user, **data.validated_data)  # type: ignore[arg-type]
        saved = RiskLimit.objects.filter(account=account).first()
        return Response(RiskLimitSerializer(saved or RiskLimit(account=account)).data)


class BrokerLoginViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The user's broker logins: platform, label, identity, connection
    state and request budget only."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = BrokerLogin.objects.none()
    serializer_class = BrokerLoginSerializer
    filterset_fields = ["platform", "connection_state"]
    ordering_fields = ["label", "id"]
    ordering = ["label"]

    def get_queryset(self) -> QuerySet[BrokerLogin]:
        return BrokerLogin.objects.filter(owner=self.request.user).only(
            "id",
            "platform",
            "label",
            "identity",
            "connection_state",
            "connection_since",
            "budget_used",
            "budget_limit",
        )
