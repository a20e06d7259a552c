"""The Celery app; configuration comes from Django settings (CELERY_ namespace)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copytrade.settings.base")

app = Celery("copytrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
