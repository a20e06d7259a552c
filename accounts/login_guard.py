"""Login throttling and lockout (django-axes), and their journal rows.

django-axes records every failed login (``AccessAttempt`` /
``AccessFailureLog``, listed in the admin) and, after
``AXES_FAILURE_LIMIT`` failures of one login name from one address within
the cool-off, refuses that pair — the right password included — until the
cool-off ends (OWASP ASVS 2.2.1: anti-automation against credential
stuffing and brute force). allauth's own rate limits stay on in front of it.

Each failure on an existing user, and each lockout, is also written to that
user's journal with when and from where, so a trader sees attempts on their
account beside their trading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Q
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from journal.models import EventType, JournalEntry
from journal.services import journal_record

# The forms' login field: allauth's (username or e-mail), then the admin's.
_LOGIN_FIELDS = ("login", "username")


def login_name(request: HttpRequest | None, credentials: Mapping[str, Any] | None) -> str:
    """The login name an attempt was made with, as axes counts attempts:
    the username or e-mail address given (allauth passes both keys), an
    address lower-cased so changing its case does not reset the count."""
    given = credentials or {}
    value = given.get("username") or given.get("email") or ""
    if not value and request is not None:
        data = getattr(request, "POST", {})
        value = next((data.get(f) for f in _LOGIN_FIELDS if data.get(f)), "")
    value = str(value).strip()
    return value.lower() if "@" in value else value


def _user_named(name: str) -> User | None:
    if not name:
        return None
    return User.objects.filter(Q(username=name) | Q(email__iexact=name)).order_by("pk").first()


def request_origin(request: HttpRequest | None) -> dict[str, str]:
    """Where a request came from, for the journal: ``{"ip_address",
    "user_agent"}`` (axes' reading of the client address, the one its
    lockouts count by; the browser's user agent, 255 characters at most),
    both empty without a request."""
    if request is None:
        return {"ip_address": "", "user_agent": ""}
    return {
        "ip_address": get_client_ip_address(request) or "",
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
    }


@receiver(user_login_failed, dispatch_uid="accounts.login_failed_journal")
def login_failed_journal(
    sender: object,
    credentials: Mapping[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
) -> None:
    """Journal a failed login on an existing user (unknown names are in axes' log only).
    A wrong password on the re-authentication page is journaled by
    :mod:`accounts.reauth` as such (axes still counts it towards the lockout)."""
    if request is not None and getattr(request, "copytrade_reauthenticating", False):
        return
    user = _user_named(login_name(request, credentials))
    if user is None:
        return
    where = request_origin(request)
    address = where["ip_address"] or "an unknown address"
    journal_record(
        owner_id=user.pk,
        event_type=EventType.LOGIN_FAILED,
        actor_label=address,
        message=f"Failed login for {user.username} from {address}",
        extra_data=where,
    )


@receiver(user_locked_out, dispatch_uid="accounts.locked_out_journal")
def locked_out_journal(
    sender: object,
    request: HttpRequest | None = None,
    username: str | None = None,
    ip_address: str | None = None,
    **kwargs: Any,
) -> None:
    """Journal a lockout of an existing user's login name, once per lock
    (axes signals it again for every attempt refused while locked; those
    are journaled as failed logins)."""
    user = _user_named(username or "")
    if user is None:
        return
    where = request_origin(request)
    address = ip_address or where["ip_address"] or "an unknown address"
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    if JournalEntry.objects.filter(
        owner_id=user.pk,
        event_type=EventType.LOGIN_LOCKED_OUT,
        actor_label=address,
        occurred_at__gte=since,
    ).exists():
        return
    journal_record(
        owner_id=user.pk,
        event_type=EventType.LOGIN_LOCKED_OUT,
        actor_label=address,
        message=(
            f"Login for {user.username} locked from {address} after repeated failures; "
            "it opens again after the cool-off"
        ),
        extra_data={**where, "ip_address": address},
    )
