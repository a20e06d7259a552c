"""Re-authentication before dangerous actions ("sudo mode", issue 14).

Connecting or changing broker credentials, leaving route level 4 Locked,
resuming a paused route or follower and releasing a symbol quarantine each
need the password, or a current code of the user's authenticator app, given
again within the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds (300 by
default). Emergency flatten, pausing and halting never ask: a safety stop
must never be slowed.

django-allauth keeps the record and the pages: a re-authentication is an
entry ``{"method": …, "at": …, "reauthenticated": True}`` in the session
(``allauth.account.internal.flows.login.record_authentication``), its
``reauthentication_required`` decorator and middleware send a stale request
to the confirmation page and, after it, replay a suspended POST
(``resume_request``). allauth's own second-factor app is not installed, so
:class:`ReauthenticateTOTPView` takes the django-otp code and records it the
way allauth's MFA app does (``method="mfa"``, ``type="totp"``).

Broker credential forms are the exception to the replay: allauth stashes a
suspended POST in the session as plain text, and credentials are never
stored unencrypted. Their form therefore asks for the confirmation before it
is shown (GET); a POST that arrives after the window closed is not kept: the
user is sent to confirm and back to the form, with a message that nothing
was saved (:func:`credentials_reauthentication_required`).

Every re-authentication, accepted or refused, is journaled in the user's
journal with the method, the client address (django-axes' reading, which
honours ``AXES_IPWARE_PROXY_COUNT``) and the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.login import record_authentication
from allauth.account.internal.flows.reauthentication import is_reauthentication_required
from allauth.account.signals import authentication_step_completed
from allauth.account.views._reauthenticate import BaseReauthenticateView
from allauth.core.exceptions import ReauthenticationRequired
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.utils.http import urlencode

from accounts.forms import TokenForm
from accounts.login_guard import request_origin
from accounts.models import User
from accounts.selectors import totp_device_confirmed
from accounts.services import totp_token_check
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record

ViewFunc = Callable[..., HttpResponse]

# allauth's id of the method: "mfa" is one of ACCOUNT_REAUTHENTICATION_METHODS.
TOTP_METHOD = "mfa"
TOTP_METHOD_ID = "totp_reauthenticate"
# Set on a request while allauth checks a re-authentication password, so the
# failed-login receiver (accounts.login_guard) leaves the row to this module.
REAUTHENTICATING_ATTR = "copytrade_reauthenticating"

CREDENTIALS_EXPIRED_MESSAGE = (
    "Your confirmation expired before the form was sent, so nothing was saved. "
    "Confirm it is you, then enter the login again (secrets are never kept "
    "outside the encrypted store)."
)


def reauthentication_recent(request: HttpRequest) -> bool:
    """Whether the user of ``request`` re-authenticated (password or second
    factor) within the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds."""
    return not is_reauthentication_required(request, app="")


def require_reauthentication(request: HttpRequest) -> None:
    """Raise allauth's ``ReauthenticationRequired`` unless the re-authentication
    is recent: its middleware answers with the confirmation page and replays
    this POST after it. For views where only some requests are dangerous
    (leaving level 4); call it before anything changes."""
    if not reauthentication_recent(request):
        raise ReauthenticationRequired()


def dangerous_action(view: ViewFunc) -> ViewFunc:
    """Decorator: login required, then a recent re-authentication for every
    request (allauth's ``reauthentication_required``; a stale POST is
    replayed once the user confirmed)."""
    return login_required(reauthentication_required(view, app=""))


def reauthentication_url(request: HttpRequest, next_path: str) -> str:
    """The first confirmation page offered to the user (the password's, or
    the second factor's for a user without a usable password), returning to
    ``next_path``. Raises ``PermissionDenied`` when the user has neither."""
    methods = get_adapter(request).get_reauthentication_methods(request.user)
    if not methods:
        raise PermissionDenied("Re-authentication is not available for this user.")
    return f"{methods[0]['url']}?{urlencode({REDIRECT_FIELD_NAME: next_path})}"


def credentials_reauthentication_required(view: ViewFunc) -> ViewFunc:
    """Decorator for the broker credential forms: a recent re-authentication
    before the form is shown and again when it is sent. A stale POST is
    refused without being stored (it carries secrets): the user confirms and
    comes back to an empty form, told that nothing was saved."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if reauthentication_recent(request):
            return view(request, *args, **kwargs)
        if request.method != "POST":
            raise ReauthenticationRequired()
        messages.warning(request, CREDENTIALS_EXPIRED_MESSAGE)
        return HttpResponseRedirect(reauthentication_url(request, request.path))

    return login_required(wrapper)


def totp_reauthentication_method(user: User) -> dict[str, str] | None:
    """allauth's description of the second-factor confirmation
    (:class:`ReauthenticateTOTPView`) when ``user`` has a confirmed device."""
    from django.urls import reverse

    if totp_device_confirmed(user) is None:
        return None
    return {
        "id": TOTP_METHOD_ID,
        "description": "Use your authenticator app",
        "url": reverse("reauthenticate_totp"),
    }


# -- the journal ------------------------------------------------------------------------


_METHOD_LABELS = {"password": "password", TOTP_METHOD: "authenticator app code"}


def reauthentication_journal(
    *, request: HttpRequest | None, user: User, method: str, accepted: bool
) -> None:
    """One journal row in ``user``'s journal: a re-authentication by
    ``method`` ("password" or "mfa") accepted or refused, with the client
    address and browser."""
    origin = request_origin(request)
    address = origin["ip_address"] or "an unknown address"
    how = _METHOD_LABELS.get(method, method)
    journal_record(
        owner_id=user.pk,
        actor_user_id=user.pk,
        actor_label=user.get_username(),
        event_type=EventType.REAUTHENTICATED if accepted else EventType.REAUTHENTICATION_FAILED,
        message=(
            f"{user.get_username()} confirmed it is them ({how}) from {address}"
            if accepted
            else f"Re-authentication of {user.get_username()} refused (wrong {how}) from {address}"
        ),
        extra_data={**origin, "method": method},
    )


@receiver(authentication_step_completed, dispatch_uid="accounts.reauthenticated_journal")
def reauthenticated_journal(
    sender: object,
    request: HttpRequest,
    method: str,
    user: User,
    **extra: Any,
) -> None:
    """Journal each accepted re-authentication (allauth sends this signal for
    every recorded authentication step; only re-authentications are ours)."""
    if extra.get("reauthenticated"):
        reauthentication_journal(request=request, user=user, method=method, accepted=True)


# -- the second-factor confirmation page -------------------------------------------------


@method_decorator(login_required, name="dispatch")
class ReauthenticateTOTPView(BaseReauthenticateView):
    """GET the code form; POST a current code of the user's confirmed
    authenticator-app device (django-otp: throttled after wrong codes, a code
    never accepted twice). Accepted, it is recorded as allauth records a
    second-factor re-authentication, and the suspended action resumes.

    allauth's base view checks the method is offered to this user (else it
    sends them to the password page), applies its ``reauthenticate`` rate
    limit and passes ``next`` through.
    """

    reauthentication_method = TOTP_METHOD
    form_class = TokenForm
    template_name = "account/reauthenticate_totp.html"

    def form_valid(self, form: TokenForm) -> HttpResponse:
        """Check the code; record and resume, or show the refusal (journaled)."""
        user: User = self.request.user  # type: ignore[assignment]
        device = totp_device_confirmed(user)
        if device is None:  # turned off since the page was shown
            raise PermissionDenied("Two-factor authentication is off.")
        try:
            totp_token_check(device=device, token=form.cleaned_data["token"])
        except ApplicationError as exc:
            form.add_error("token", exc.message)
            reauthentication_journal(
                request=self.request, user=user, method=TOTP_METHOD, accepted=False
            )
            return self.form_invalid(form)
        record_authentication(
            self.request,
            user,
            method=TOTP_METHOD,
            type="totp",
            id=device.pk,
            reauthenticated=True,
        )
        return super().form_valid(form)  # type: ignore[no-any-return]


reauthenticate_totp = ReauthenticateTOTPView.as_view()
