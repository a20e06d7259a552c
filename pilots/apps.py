from django.apps import AppConfig


class PilotsConfig(AppConfig):
    """Pilots: records, statistics, ranking and verification (issue 11)."""

    name = "pilots"
    default_auto_field = "django.db.models.BigAutoField"
