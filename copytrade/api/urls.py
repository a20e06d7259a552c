"""REST API v1, included at /api/v1/ (copytrade/urls.py). The prefix
``webhooks/`` belongs to routing's webhook and is not routed here."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from copytrade.api.views.accounts import BrokerAccountViewSet, BrokerLoginViewSet
from copytrade.api.views.auth import TokenCreateApi
from copytrade.api.views.docs import ApiDocsView
from copytrade.api.views.journal import (
    FillViewSet,
    JournalEntryViewSet,
    PositionViewSet,
    TradeViewSet,
)
from copytrade.api.views.pilots import PilotBoardApi, PilotDetailApi, SubscriptionViewSet
from copytrade.api.views.routing import (
    CopyGroupViewSet,
    CopyOrderViewSet,
    FollowerViewSet,
    RiskLimitViewSet,
)

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", BrokerAccountViewSet, basename="account")
router.register("logins", BrokerLoginViewSet, basename="login")
router.register("groups", CopyGroupViewSet, basename="group")
router.register("followers", FollowerViewSet, basename="follower")
router.register("risk-limits", RiskLimitViewSet, basename="risk-limit")
router.register("copy-orders", CopyOrderViewSet, basename="copy-order")
router.register("positions", PositionViewSet, basename="position")
router.register("fills", FillViewSet, basename="fill")
router.register("journal", JournalEntryViewSet, basename="journal-entry")
router.register("trades", TradeViewSet, basename="trade")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")

urlpatterns = [
    path("auth/token/", TokenCreateApi.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(), name="docs"),
    path("pilots/", PilotBoardApi.as_view(), name="pilot-list"),
    path("pilots/<int:pilot_id>/", PilotDetailApi.as_view(), name="pilot-detail"),
    path("", include(router.urls)),
]
