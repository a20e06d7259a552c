from django.urls import path

from accounts import broker_views, reauth, views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/two-factor/", views.two_factor, name="two_factor"),
    path("profile/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("profile/two-factor/confirm/", views.two_factor_confirm, name="two_factor_confirm"),
    path("profile/two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("login/second-factor/", views.login_second_factor, name="login_second_factor"),
    path("reauthenticate/second-factor/", reauth.reauthenticate_totp, name="reauthenticate_totp"),
    path("broker-accounts/", broker_views.broker_accounts, name="broker_accounts"),
    path("broker-accounts/logins/new/", broker_views.login_platform, name="login_platform"),
    path(
        "broker-accounts/logins/new/<str:platform>/",
        broker_views.login_create,
        name="login_create",
    ),
    path("broker-accounts/logins/<int:login_id>/", broker_views.login_edit, name="login_edit"),
    path(
        "broker-accounts/logins/<int:login_id>/enabled/",
        broker_views.login_enabled,
        name="login_enabled",
    ),
    path(
        "broker-accounts/logins/<int:login_id>/remove/",
        broker_views.login_remove,
        name="login_remove",
    ),
    path(
        "broker-accounts/logins/<int:login_id>/accounts/new/",
        broker_views.login_account_add,
        name="login_account_add",
    ),
    path("broker-accounts/<int:account_id>/", broker_views.account_edit, name="account_edit"),
    path(
        "broker-accounts/<int:account_id>/enabled/",
        broker_views.account_enabled,
        name="account_enabled",
    ),
    path(
        "broker-accounts/<int:account_id>/remove/",
        broker_views.account_remove,
        name="account_remove",
    ),
]
