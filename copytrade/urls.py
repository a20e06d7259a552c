from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from routing import health_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", health_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("routing.urls")),
    path("journal/", include("journal.urls")),
]
