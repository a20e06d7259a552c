"""Settings, driven by the environment.

No variables at all gives the *embedded default*: SQLite, the in-memory
channel layer, Celery tasks run inline and the copy engine inside the web
process. ``DATABASE_URL`` switches to PostgreSQL, ``REDIS_URL`` to the Redis
channel layer and Celery on Redis, with the engine in its own worker
(``manage.py run_copy_engine``).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from copytrade.env import envbool, envdecimal, envint, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = envbool("DEBUG", default=False)
_secret = envsecret("SECRET_KEY")
if _secret is None:
    # Embedded default: a per-install key kept beside the SQLite file, so
    # sessions survive restarts without anyone configuring a secret.
    _key_file = BASE_DIR / ".secret_key"
    if not _key_file.exists():
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    _secret = _key_file.read_text().strip()
SECRET_KEY = _secret
ALLOWED_HOSTS = [h for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    # The admin, on a site that also asks for the second factor (copytrade.admin_site).
    "copytrade.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens (POST /api/v1/auth/token/), the API's filters and its OpenAPI
    # schema with Swagger UI served from this site (copytrade/api).
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "accounts",
    "routing",
    "journal",
    "pilots",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header and its per-request nonce (settings/csp.py).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Sets request.user.otp_device / is_verified() from the session (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as django-axes asks: answers a locked-out login with its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "copytrade.urls"
ASGI_APPLICATION = "copytrade.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # {{ csp_nonce }} for the scripts and styles the policy allows.
                "django.template.context_processors.csp",
                "routing.context_processors.engine_health",
            ],
            # {{ x|money }}, {{ x|price:tick }}…: one number style on every page.
            "builtins": ["copytrade.core.number_filters"],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL")
REDIS_URL = envstr("REDIS_URL")

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by the server, not quoted into the statement's
        # text by Python: about 60 us less per statement measured here, and
        # the copy path runs two dozen per leader event. Statements stay
        # unprepared (Django's default): with psycopg's prepare_threshold a
        # plan made for any values served the broker answers' locked read of
        # 1000 orders once 1- and 20-follower events had primed it, 20 ->
        # 98 ms a statement and growing with the table (bench_engine, the
        # PostgreSQL server's statement log).
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # The embedded engine writes from a thread pool while pages read;
            # WAL plus a busy timeout keeps them from tripping over each other.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout, the same as the
                # layer's 5 s blocking pop: idle consumers would time out.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": envstr("CHANNEL_PREFIX", "copytrade"),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # RedBeat keeps the beat schedule in Redis and holds a Redis lock while it
    # runs, so a second beat (a redeploy, a standby) waits instead of sending
    # every scheduled task twice.
    CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True

# No broker, no beat process: the web process runs beat's schedule itself
# (copytrade.embedded_beat). A deployment with Redis runs celery beat.
EMBEDDED_BEAT = envbool("EMBEDDED_BEAT", default=not REDIS_URL)

CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_IGNORE_RESULT = True
# Beat reads crontab entries in this zone: the session jobs run at 17:00
# America/Chicago whatever the DST offset (copytrade/celery.py). Messages and
# the database stay in UTC.
CELERY_TIMEZONE = "America/Chicago"
# Beat wakes at least every minute; RedBeat's lock lives 5 x this (5 minutes),
# so a standby beat takes over within 5 minutes of the active one dying.
CELERY_BEAT_MAX_LOOP_INTERVAL = 60

# The copy engine runs inside the web process unless a separate worker
# (manage.py run_copy_engine) is deployed; a Redis deployment has one.
ENGINE_EMBEDDED = envbool("ENGINE_EMBEDDED", default=not REDIS_URL)
# Demo: seconds between leader fills when the demo export is streamed.
DEMO_FILL_INTERVAL_SECONDS = envint("DEMO_FILL_INTERVAL_MS", 1500) / 1000
# Paper broker: slippage applied to follower market orders, in ticks.
PAPER_SLIPPAGE_TICKS = envint("PAPER_SLIPPAGE_TICKS", 1)
# Price collar (issue 10, defect 8): a leader fill more than this percentage
# away from the contract's last mark is not copied (every follower decision
# BLOCKED, reason journaled), as CME Globex price banding refuses orders
# outside a band around a reference price (CME Group Client Systems Wiki,
# "Price Banding"; CME Rule 589 dynamic circuit breakers: 7 % for the equity
# index futures). Percent of the mark, > 0; default 5.
PRICE_COLLAR_PCT = envdecimal("PRICE_COLLAR_PCT", Decimal(5))
if PRICE_COLLAR_PCT <= 0:
    raise ImproperlyConfigured(f"PRICE_COLLAR_PCT must be > 0 percent, got {PRICE_COLLAR_PCT}")
# Where the demo looks for real exports (absent on a bare install: the demo
# then streams a simulated session and the page says so).
SHARED_DATA_DIR = Path(envstr("SHARED_DATA_DIR", str(BASE_DIR.parent / "shared" / "data")))

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out login name and address before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Money: one precision for every amount column (Saleor's DEFAULT_MAX_DIGITS).
AMOUNT_MAX_DIGITS = 20
AMOUNT_DECIMAL_PLACES = 4
PRICE_MAX_DIGITS = 20
PRICE_DECIMAL_PLACES = 6

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# REST API v1 (copytrade/api) request rates, DRF's "<count>/<second|minute|hour|day>":
# per user for authenticated calls, per client address for anonymous ones
# and for token requests (password guessing is also locked out by axes).
API_THROTTLE_RATES = {
    "user": envstr("API_THROTTLE_USER", "1000/hour"),
    "anon": envstr("API_THROTTLE_ANON", "60/hour"),
    "token": envstr("API_THROTTLE_TOKEN", "20/hour"),
}

# The OpenAPI 3 schema (/api/v1/schema/) and its Swagger UI (/api/v1/docs/),
# whose files come from drf-spectacular-sidecar: no CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Copytrade API",
    "DESCRIPTION": "Read your accounts, routes, orders and journal; pause, resume, set "
    "limits and levels, and flatten. Token or session authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Only the REST API: the pages' own JSON views are not part of it.
    "PREPROCESSING_HOOKS": ["copytrade.api.schema.api_v1_only"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Uploads (issue 10, defect 9). A form body without files is held in memory
# whole, so it stays small (Django's default, 2.5 MB); an uploaded file
# larger than FILE_UPLOAD_MAX_MEMORY_SIZE is spooled to a temporary file (the
# export upload always is: routing.uploads).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Largest broker export accepted, in bytes (default 20 MB): a larger file is
# refused before anything is stored, its bytes dropped as they arrive.
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
# Most data rows read from one export (default 200,000: a year of a busy
# trader's fills). The file is refused at the first row past the cap.
UPLOAD_MAX_ROWS = envint("UPLOAD_MAX_ROWS", 200_000)
if UPLOAD_MAX_BYTES <= 0 or UPLOAD_MAX_ROWS <= 0:
    raise ImproperlyConfigured(
        f"UPLOAD_MAX_BYTES and UPLOAD_MAX_ROWS must be > 0, got {UPLOAD_MAX_BYTES} and "
        f"{UPLOAD_MAX_ROWS}"
    )
# Where uploads wait for the worker that reads them (deleted once read).
# With Celery workers on other machines it must be a shared directory.
UPLOAD_DIR = Path(envstr("UPLOAD_DIR", str(BASE_DIR / "media" / "uploads")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # Never below INFO, whatever LOG_LEVEL says: at DEBUG the websocket
    # library logs every frame, broker logins (credentials) included.
    # axes logs every login's bookkeeping at INFO; its failures and lockouts
    # are warnings (and journaled).
    "loggers": {"websockets": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# Sign-up, login, password reset and the e-mail that carries their links
# (django-allauth), in a module of their own as the Celery settings would be.
from copytrade.settings.auth import *  # noqa: E402, F403

# Keys that encrypt broker credentials at rest.
from copytrade.settings.credentials import *  # noqa: E402, F403

# Content Security Policy: scripts and styles from this site or with the nonce.
from copytrade.settings.csp import *  # noqa: E402, F403

# TLS: redirects, Secure cookies, HSTS (HTTPS=true behind TLS).
from copytrade.settings.security import *  # noqa: E402, F403
