from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Journal rows for failed logins, lockouts and re-authentications
        # (signal receivers).
        from accounts import login_guard, reauth  # noqa: F401
