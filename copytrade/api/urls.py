"""REST API v1, included at /api/v1/ (copytrade/urls.py). The prefix
``webhooks/`` belongs to routing's webhook and is not routed here.

URL names start with ``api-`` and carry no namespace: the site's CSP test
(tests/test_csp_pages.py) reverses every named URL by its bare name."""

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
    FlattenAllApi,
    FollowerViewSet,
    RiskLimitViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", BrokerAccountViewSet, basename="api-account")
router.register("logins", BrokerLoginViewSet, basename="api-login")
router.register("groups", CopyGroupViewSet, basename="api-group")
router.register("followers", FollowerViewSet, basename="api-follower")
router.register("risk-limits", RiskLimitViewSet, basename="api-risk-limit")
router.register("copy-orders", CopyOrderViewSet, basename="api-copy-order")
router.register("positions", PositionViewSet, basename="api-position")
router.register("fills", FillViewSet, basename="api-fill")
router.register("journal", JournalEntryViewSet, basename="api-journal-entry")
router.register("trades", TradeViewSet, basename="api-trade")
router.register("subscriptions", SubscriptionViewSet, basename="api-subscription")

urlpatterns = [
    path("auth/token/", TokenCreateApi.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(), name="api-docs"),
    path("flatten/", FlattenAllApi.as_view(), name="api-flatten-all"),
    path("pilots/", PilotBoardApi.as_view(), name="api-pilot-list"),
    path("pilots/<int:pilot_id>/", PilotDetailApi.as_view(), name="api-pilot-detail"),
    path("", include(router.urls)),
]
