from django.urls import path

from accounts import views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("broker-accounts/", views.broker_accounts, name="broker_accounts"),
]
