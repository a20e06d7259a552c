"""A group's webhook settings: enable, disable, rotate the secret.

The secret is made here, returned once to the caller (the page shows it a
single time) and only its SHA-256 digest is stored; checking an alert's
secret compares digests in constant time (``hmac.compare_digest``). A slow
password hash (PBKDF2) protects guessable passwords; this secret is 256
random bits, so a fast digest is as safe, and PBKDF2 cost a third of a
second of CPU on every alert, on the copy path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from journal.models import EventType
from journal.services import journal_record
from routing.models import CopyGroup, GroupWebhook

# 32 random bytes each, URL-safe base64 (43 characters).
TOKEN_BYTES = 32
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """A webhook and its secret in clear: shown once, never stored."""

    webhook: GroupWebhook
    secret: str


def _journal(group: CopyGroup, actor: User, message: str) -> None:
    journal_record(
        owner_id=group.owner_id,
        event_type=EventType.COPY_GROUP_CHANGED,
        actor_label=actor.get_username(),
        actor_user_id=actor.pk,
        group_id=group.pk,
        message=message,
    )


@transaction.atomic
def webhook_enable(*, group: CopyGroup, actor: User) -> WebhookSecret | None:
    """Turn ``group``'s webhook on. The first time, a token and a secret are
    made and returned (the only time the secret is readable); re-enabling a
    disabled webhook keeps its token and secret and returns ``None``, as
    does enabling an enabled one (nothing changes, nothing is journaled)."""
    existing = GroupWebhook.objects.select_for_update().filter(group=group).first()
    if existing is None:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        webhook = GroupWebhook.objects.create(
            group=group,
            token=secrets.token_urlsafe(TOKEN_BYTES),
            secret_hash=_digest(secret),
            rotated_at=timezone.now(),
        )
        _journal(group, actor, f"TradingView webhook of {group.name} created and enabled")
        return WebhookSecret(webhook, secret)
    if not existing.enabled:
        existing.enabled = True
        existing.save(update_fields=["enabled", "updated_at"])
        _journal(group, actor, f"TradingView webhook of {group.name} enabled")
    return None


@transaction.atomic
def webhook_disable(*, group: CopyGroup, actor: User) -> bool:
    """Turn ``group``'s webhook off (its alerts are refused with 404 until
    it is enabled again); returns whether it was on."""
    updated = GroupWebhook.objects.filter(group=group, enabled=True).update(
        enabled=False, updated_at=timezone.now()
    )
    if updated:
        _journal(group, actor, f"TradingView webhook of {group.name} disabled")
    return bool(updated)


@transaction.atomic
def webhook_rotate(*, group: CopyGroup, actor: User) -> WebhookSecret | None:
    """Give ``group``'s webhook a new secret (the old one stops working at
    once) and return it in clear, once; ``None`` when the group has no
    webhook. The token, hence the URL, stays."""
    webhook = GroupWebhook.objects.select_for_update().filter(group=group).first()
    if webhook is None:
        return None
    secret = secrets.token_urlsafe(SECRET_BYTES)
    webhook.secret_hash = _digest(secret)
    webhook.rotated_at = timezone.now()
    webhook.save(update_fields=["secret_hash", "rotated_at", "updated_at"])
    _journal(group, actor, f"TradingView webhook secret of {group.name} rotated")
    return WebhookSecret(webhook, secret)


def _digest(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def webhook_secret_matches(webhook: GroupWebhook, secret: str) -> bool:
    """Whether ``secret`` is ``webhook``'s (its digest, compared in constant time)."""
    return hmac.compare_digest(_digest(secret), webhook.secret_hash)
