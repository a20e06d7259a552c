"""Account pages: the profile, its second factor and the login's code
step (the broker accounts page is :mod:`accounts.broker_views`). Sign-up,
login, e-mail and password pages are django-allauth's (``copytrade.urls``)."""

from __future__ import annotations

import base64

from allauth.account.internal.decorators import login_stage_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts.forms import ProfileForm, TokenForm
from accounts.models import User
from accounts.qr import qr_svg
from accounts.selectors import (
    email_addresses_for_user,
    totp_device_confirmed,
    totp_device_pending,
)
from accounts.services import (
    totp_device_confirm,
    totp_device_remove,
    totp_setup_start,
    totp_token_check,
)
from accounts.stages import SecondFactorStage, second_factor_failed_journal
from copytrade.core.errors import ApplicationError


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """GET the profile; POST saves the name. E-mail and password link to
    allauth's pages, which confirm a new address before it counts."""
    user: User = request.user  # type: ignore[assignment]
    form = ProfileForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("profile")
    context = {
        "form": form,
        "emails": email_addresses_for_user(user),
        "second_factor_on": totp_device_confirmed(user) is not None,
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_http_methods(["GET"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """The second factor: off (a button to set it up), being set up (the key
    in base32 and as a QR code, and the code that confirms it) or on (the
    code that turns it off)."""
    return _two_factor_page(request, TokenForm())


def _two_factor_page(request: HttpRequest, form: TokenForm, status: int = 200) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    confirmed = totp_device_confirmed(user)
    pending = None if confirmed else totp_device_pending(user)
    context: dict[str, object] = {"form": form, "confirmed": confirmed, "pending": pending}
    if pending is not None:
        # The secret is shown only while setting up; once confirmed, never again.
        context["secret"] = base64.b32encode(pending.bin_key).decode()
        context["qr_svg"] = qr_svg(pending.config_url)
    return render(request, "accounts/two_factor.html", context, status=status)


@login_required
@require_POST
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """POST: a new key to scan (any earlier unfinished set-up is replaced)."""
    try:
        totp_setup_start(user=request.user)  # type: ignore[arg-type]
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("two_factor")


@login_required
@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    """POST a current code of the device being set up: only then it counts.
    The session counts as verified from here (the code was just given)."""
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            device = totp_device_confirm(
                user=request.user,  # type: ignore[arg-type]
                token=form.cleaned_data["token"],
                ip=request.META.get("REMOTE_ADDR"),
            )
        except ApplicationError as exc:
            form.add_error("token", exc.message)
        else:
            otp_login(request, device)
            messages.success(request, "Two-factor authentication is on.")
            return redirect("two_factor")
    return _two_factor_page(request, form, status=400)


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """POST a current code to turn the second factor off."""
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            totp_device_remove(
                user=request.user,  # type: ignore[arg-type]
                token=form.cleaned_data["token"],
                ip=request.META.get("REMOTE_ADDR"),
            )
        except ApplicationError as exc:
            form.add_error("token", exc.message)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("two_factor")
    return _two_factor_page(request, form, status=400)


@login_stage_required(stage=SecondFactorStage.key, redirect_urlname="login")
@require_http_methods(["GET", "POST"])
def login_second_factor(request: HttpRequest) -> HttpResponse:
    """The login's last step for a user whose second factor is on: the
    password was right; a current code completes the login."""
    stage = request._login_stage  # type: ignore[attr-defined]  # set by allauth's decorator
    user = stage.login.user
    device = totp_device_confirmed(user)
    if device is None:  # turned off since the password step: nothing to ask
        return stage.exit()  # type: ignore[no-any-return]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            totp_token_check(device=device, token=form.cleaned_data["token"])
        except ApplicationError as exc:
            second_factor_failed_journal(request=request, user=user, where="login")
            form.add_error("token", exc.message)
        else:
            # django-otp's user_logged_in receiver stores this device in the
            # new session, which then counts as verified (the admin needs it).
            user.otp_device = device
            return stage.exit()  # type: ignore[no-any-return]
    return render(request, "account/login_second_factor.html", {"form": form})
