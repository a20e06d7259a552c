from django.urls import path

from accounts import views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/two-factor/", views.two_factor, name="two_factor"),
    path("profile/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("profile/two-factor/confirm/", views.two_factor_confirm, name="two_factor_confirm"),
    path("profile/two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("login/second-factor/", views.login_second_factor, name="login_second_factor"),
    path("broker-accounts/", views.broker_accounts, name="broker_accounts"),
]
