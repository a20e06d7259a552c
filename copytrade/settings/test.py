"""Test settings: the real parts. PostgreSQL and Redis on localhost by default
(``make test`` starts them when they are not running)."""

import os

from cryptography.fernet import Fernet

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/copytrade")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("ENGINE_EMBEDDED", "False")
# A fresh credential key per run (tests that need none or others override it).
os.environ.setdefault("CREDENTIAL_KEYS", Fernet.generate_key().decode())

from copytrade.settings.base import *  # noqa: F403
from copytrade.settings.base import CHANNEL_LAYERS

# Tests share one Redis server with anything else on the machine: a unique
# prefix per run keeps their channel groups apart.
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"copytrade-test-{os.getpid()}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Connections opened in sync_to_async threads must close after each call, or
# the test database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
# Named explicitly: the live-server process (channels.testing) derives its
# database from TEST.NAME, and would otherwise prefix "test_" a second time.
# COPYTRADE_TEST_DB lets two test runs on one machine use separate databases.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("COPYTRADE_TEST_DB", "test_" + DATABASES["default"]["NAME"])  # noqa: F405
}
# Serve static files from the source folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
