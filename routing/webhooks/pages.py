"""The group page's webhook settings: enable, disable, rotate the secret.

Enabling and rotating make a secret that can trade the group's followers, so
they need a recent re-authentication (``dangerous_action``); the secret is
rendered once in the answer to that POST and never again (only its hash is
kept). Disabling only stops alerts: a login suffices.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.reauth import dangerous_action
from routing.models import CopyGroup
from routing.selectors import group_for_user
from routing.webhooks.settings import (
    WebhookSecret,
    webhook_disable,
    webhook_enable,
    webhook_rotate,
)


def _group(request: HttpRequest, group_id: int) -> CopyGroup:
    group = group_for_user(user=request.user, group_id=group_id)  # type: ignore[arg-type]
    if group is None:
        raise Http404("No such copy group")
    return group


def _shown_once(request: HttpRequest, made: WebhookSecret, what: str) -> HttpResponse:
    url = request.build_absolute_uri(
        reverse("webhook_tradingview", kwargs={"token": made.webhook.token})
    )
    response = render(
        request,
        "routing/webhook_secret.html",
        {"group": made.webhook.group, "secret": made.secret, "url": url, "what": what},
    )
    response["Cache-Control"] = "no-store"  # the page holds a secret
    return response


@dangerous_action
@require_POST
def webhook_enable_view(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: turn the webhook on; the first time, show its new secret once."""
    group = _group(request, group_id)
    made = webhook_enable(group=group, actor=request.user)  # type: ignore[arg-type]
    if made is not None:
        return _shown_once(request, made, "created")
    messages.success(request, f"TradingView webhook of {group.name} is on.")
    return redirect("group_detail", group_id=group.pk)


@login_required
@require_POST
def webhook_disable_view(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: turn the webhook off (alerts refused until it is on again)."""
    group = _group(request, group_id)
    webhook_disable(group=group, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, f"TradingView webhook of {group.name} is off.")
    return redirect("group_detail", group_id=group.pk)


@dangerous_action
@require_POST
def webhook_rotate_view(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: a new secret, shown once; the old one stops working at once."""
    group = _group(request, group_id)
    made = webhook_rotate(group=group, actor=request.user)  # type: ignore[arg-type]
    if made is None:
        raise Http404("This group has no webhook")
    return _shown_once(request, made, "rotated")
