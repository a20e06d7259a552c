from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path

from routing import health_views
from routing.webhooks import views as webhook_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", health_views.healthz, name="healthz"),
    # Above the REST API's include (api/v1/), which leaves webhooks/ to this.
    path(
        "api/v1/webhooks/tradingview/<str:token>/",
        webhook_views.tradingview_alert,
        name="webhook_tradingview",
    ),
    # allauth's login and logout at the addresses the site always had; the
    # rest of its pages (sign-up, confirm, reset, e-mail, password) under accounts/.
    path("login/", account_views.login, name="login"),
    path("logout/", account_views.logout, name="logout"),
    path("accounts/", include("allauth.account.urls")),
    path("", include("accounts.urls")),
    path("", include("routing.urls")),
    path("journal/", include("journal.urls")),
    path("", include("pilots.urls")),
    # REST API v1 and its OpenAPI schema and docs (copytrade/api).
    path("api/v1/", include("copytrade.api.urls")),
]
