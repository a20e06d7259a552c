"""Request rates of the REST API (DRF's throttles, rates from
``settings.API_THROTTLE_RATES`` read at each request, so a deployment sets
them with ``API_THROTTLE_USER`` / ``API_THROTTLE_ANON`` / ``API_THROTTLE_TOKEN``).

Counts live in Django's cache (the local-memory cache unless ``CACHES``
says otherwise: per process, so with N server processes a client gets up
to N times the rate). Over the rate the API answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _SettingsRate:
    """Reads the rate of ``scope`` from ``settings.API_THROTTLE_RATES``."""

    scope: str

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATES[self.scope]


class ApiUserThrottle(_SettingsRate, UserRateThrottle):
    """Authenticated calls, per user (default 1000/hour)."""

    scope = "user"


class ApiAnonThrottle(_SettingsRate, AnonRateThrottle):
    """Anonymous calls, per client address (default 60/hour)."""

    scope = "anon"


class ApiTokenThrottle(_SettingsRate, SimpleRateThrottle):
    """Token requests (``POST /api/v1/auth/token/``), per client address
    (default 20/hour), whoever they name."""

    scope = "token"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
