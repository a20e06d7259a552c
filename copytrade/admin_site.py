"""The Django admin behind a second factor (issue 14; issue 11's review desk).

django-otp's :class:`OTPAdminSite` admits only a staff user whose session was
verified by a confirmed device (``request.user.is_verified()``), whether the
token was given at ``/login/`` (accounts.stages) or at the admin's own login.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.models import Device

from accounts.selectors import totp_device_confirmed

SETUP_HINT = (
    "This account has no second factor yet, and the admin needs one: log in at "
    "/login/, set it up under Profile → Two-factor authentication "
    "(/profile/two-factor/), then come back."
)


class SecondFactorLoginForm(OTPAdminAuthenticationForm):
    """Username, password and the current code of the user's authenticator app.

    The device is never taken from the form: django-otp would verify a posted
    device id without checking it is confirmed, and a half set-up device must
    not count. Each user has at most one confirmed TOTP device, so it is the one.
    """

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Enter the 6-digit code from your authenticator app.",
        "invalid_token": "Wrong or expired code.",
        "device_required": SETUP_HINT,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.fields["otp_token"]
        token.label = "Code from your authenticator app"
        token.widget.attrs.update({"autocomplete": "one-time-code", "inputmode": "numeric"})

    def clean_otp(self, user: Any) -> None:
        """django-otp's check, but a user without a confirmed device is told
        where to set one up (rather than asked for a code they cannot have),
        and a refused code is journaled (:func:`accounts.stages.second_factor_failed_journal`)."""
        if user is not None and totp_device_confirmed(user) is None:
            raise forms.ValidationError(SETUP_HINT, code="device_required")
        try:
            super().clean_otp(user)
        except forms.ValidationError:
            # A code was given with the right password and refused (wrong,
            # reused or throttled): journaled with the address, as at /login/.
            if user is not None and self.cleaned_data.get("otp_token") and self.request:
                # Imported here: accounts.stages imports allauth's stages,
                # which must not load while the admin site is being built.
                from accounts.stages import second_factor_failed_journal

                second_factor_failed_journal(request=self.request, user=user, where="admin login")
            raise

    def _chosen_device(self, user: Any) -> Device | None:
        return totp_device_confirmed(user)


class SecondFactorAdminSite(OTPAdminSite):
    """``admin.site``: the stock admin, admitting verified staff only."""

    login_form = SecondFactorLoginForm
    login_template = "admin/login_second_factor.html"

    def __init__(self, name: str = "admin") -> None:
        # "admin", not django-otp's "otpadmin": every reverse("admin:…") keeps working.
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The admin's login, saying why a logged-in staff user was sent here."""
        user = request.user
        context = dict(extra_context or {})
        if user.is_authenticated:
            context["second_factor_missing"] = totp_device_confirmed(user) is None  # type: ignore[arg-type]
        return super().login(request, extra_context=context)
