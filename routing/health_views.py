"""``GET /healthz/``: is what the service needs up? For load balancers and
monitors: no login, and nothing in the body but states (no hosts, errors or
versions; the reasons go to the log)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from routing.selectors import engine_status

logger = logging.getLogger(__name__)

# Seconds a Redis connect or ping may take before Redis counts as down.
REDIS_TIMEOUT = 1.0


def _database_state() -> str:
    """ "ok" when a trivial query answers, else "down"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health: database check failed", exc_info=True)
        return "down"
    return "ok"


def _redis_state() -> str:
    """ "ok" when Redis at ``REDIS_URL`` answers a PING within ``REDIS_TIMEOUT``,
    "down" when not, "not configured" without ``REDIS_URL`` (the embedded
    default, whose channel layer is in memory)."""
    if not settings.REDIS_URL:
        return "not configured"
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    try:
        client.ping()
    except (redis.RedisError, OSError):
        logger.warning("health: redis check failed", exc_info=True)
        return "down"
    finally:
        client.close()
    return "ok"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """``{"engine": {"status", "last_heartbeat", "workers"}, "database", "redis"}``;
    HTTP 200 when the database is ok, Redis ok or not configured and the
    engine running (:func:`routing.selectors.engine_status`), else 503. With
    the database down the engine cannot be read and counts as down."""
    database = _database_state()
    redis_state = _redis_state()
    engine = {"status": "down", "last_heartbeat": None, "workers": 0}
    if database == "ok":
        try:
            status = engine_status()
        except DatabaseError:
            logger.warning("health: engine status read failed", exc_info=True)
            database = "down"
        else:
            engine = {
                "status": status.status,
                "last_heartbeat": status.last_heartbeat.isoformat()
                if status.last_heartbeat
                else None,
                "workers": status.workers,
            }
    healthy = (
        database == "ok"
        and redis_state in ("ok", "not configured")
        and engine["status"] == "running"
    )
    body = {"engine": engine, "database": database, "redis": redis_state}
    return JsonResponse(body, status=200 if healthy else 503)
