"""``POST /api/v1/webhooks/tradingview/<token>/``: a TradingView alert.

Only POST with a JSON body of at most ``MAX_BODY_BYTES``; CSRF-exempt (the
sender is TradingView, not a browser session: the secret in the body
authenticates it). At most ``RATE_LIMIT`` requests per group per
``RATE_WINDOW_SECONDS`` (Django's cache: per process with the default
local-memory cache, shared across processes with a shared cache).
Answers: 200 accepted / duplicate / flat, 400 with field errors, 403 bad
secret, 404 unknown or disabled webhook, 405, 413, 415, 429.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers

from routing.models import GroupWebhook
from routing.webhooks.alerts import AlertRefused, alert_apply, alert_journal
from routing.webhooks.settings import webhook_secret_matches

MAX_BODY_BYTES = 4096
RATE_LIMIT = 30
RATE_WINDOW_SECONDS = 60
_JOURNALED = ("symbol", "action", "quantity", "order_type", "price", "alert_id")


class AlertSerializer(serializers.Serializer):
    """The alert's JSON fields; ``quantity`` whole contracts (TradingView's
    ``"2.0"`` reads as 2), ``price`` in price points."""

    secret = serializers.CharField(max_length=200, trim_whitespace=False)
    symbol = serializers.CharField(max_length=40)
    action = serializers.ChoiceField(choices=["buy", "sell", "exit"])
    quantity = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, allow_null=True, default=None
    )
    order_type = serializers.ChoiceField(choices=["market", "limit"])
    price = serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        required=False,
        allow_null=True,
        default=None,
        coerce_to_string=False,
    )
    alert_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:\-]{1,80}$",
        max_length=80,
        error_messages={"invalid": "letters, digits and _ . : - only, at most 80"},
    )

    def validate_price(self, value: Any) -> Any:
        if value is not None and value <= 0:
            raise serializers.ValidationError("must be above 0")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] != "exit" and attrs.get("quantity") is None:
            raise serializers.ValidationError({"quantity": ["required for a buy or sell"]})
        return attrs


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"status": "refused", "detail": message, **extra}, status=status)


def _rate_limited(webhook: GroupWebhook) -> bool:
    key = f"webhook-rate:{webhook.pk}:{int(timezone.now().timestamp()) // RATE_WINDOW_SECONDS}"
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS * 2)
    return cache.incr(key) > RATE_LIMIT


@csrf_exempt
@require_POST
def tradingview_alert(request: HttpRequest, token: str) -> JsonResponse:
    """Parse, authenticate and apply one alert (:mod:`routing.webhooks.alerts`)."""
    webhook = GroupWebhook.objects.select_related("group").filter(token=token, enabled=True).first()
    if webhook is None:
        return _error(404, "no enabled webhook at this address")
    if _rate_limited(webhook):
        return _error(429, f"more than {RATE_LIMIT} alerts in {RATE_WINDOW_SECONDS} s")
    at = timezone.now()
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return _refuse(webhook, {}, 413, f"body larger than {MAX_BODY_BYTES} bytes", at)
    if request.content_type not in ("application/json", "text/plain"):
        # TradingView sends a JSON message as text/plain.
        return _refuse(webhook, {}, 415, "send the alert as JSON", at)
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _refuse(webhook, {}, 400, f"malformed JSON: {exc}", at)
    if not isinstance(body, dict):
        return _refuse(webhook, {}, 400, "malformed JSON: expected an object", at)
    seen = {k: body[k] for k in _JOURNALED if k in body}
    serializer = AlertSerializer(data=body)
    if not serializer.is_valid():
        return _refuse(webhook, seen, 400, "invalid fields", at, errors=serializer.errors)
    if not webhook_secret_matches(webhook, serializer.validated_data["secret"]):
        return _refuse(webhook, seen, 403, "bad secret", at)
    alert = serializer.validated_data
    try:
        outcome = alert_apply(webhook=webhook, alert=alert, at=at)
    except AlertRefused as exc:
        errors = {exc.field: [exc.message]} if exc.field else None
        return _refuse(webhook, seen, exc.status, exc.message, at, errors=errors)
    alert_journal(
        webhook=webhook, alert=seen, status=outcome.status, message=outcome.message, at=at
    )
    return JsonResponse(
        {"status": outcome.status, "detail": outcome.message, "event_id": outcome.event_id}
    )


def _errors_text(errors: Any) -> str:
    """``{"quantity": ["must be above 0"]}`` -> ``"quantity: must be above 0"``."""
    return "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in errors.items())


def _refuse(
    webhook: GroupWebhook,
    seen: dict[str, Any],
    status: int,
    message: str,
    at: datetime,
    *,
    errors: Any = None,
) -> JsonResponse:
    alert_journal(
        webhook=webhook,
        alert=seen,
        status="forbidden" if status == 403 else "refused",
        message=f"{status} {message}" + (f": {_errors_text(errors)}" if errors else ""),
        at=at,
    )
    extra = {"errors": errors} if errors else {}
    return _error(status, message, **extra)
