"""How django-allauth treats Copytrade's users (``ACCOUNT_ADAPTER``)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"
SECOND_FACTOR_STAGE = "accounts.stages.SecondFactorStage"


class AccountAdapter(DefaultAccountAdapter):
    """allauth's behaviour, with Copytrade's rules: users made by an operator
    without an address log in unconfirmed, nobody removes their last one, and
    the second factor confirms a dangerous action as well as the password
    (:mod:`accounts.reauth`)."""

    def get_login_stages(self) -> list[str]:
        """allauth's stages, with its e-mail check swapped for ours, then the
        second factor last (the code is asked for once everything else passed)."""
        return [
            "accounts.stages.EmailVerificationStage" if path == EMAIL_STAGE else path
            for path in super().get_login_stages()
        ] + [SECOND_FACTOR_STAGE]

    def can_delete_email(self, email_address: EmailAddress) -> bool:
        """Never the last address: sign-up requires one, the password reset
        link goes there, and a user with none would skip confirmation."""
        others = EmailAddress.objects.filter(user_id=email_address.user_id).exclude(
            pk=email_address.pk
        )
        return others.exists() and super().can_delete_email(email_address)

    def get_reauthentication_methods(self, user: AbstractBaseUser | AnonymousUser) -> list[dict]:
        """allauth's (the password first), then the authenticator-app code for
        a user whose second factor is on (:class:`accounts.reauth.ReauthenticateTOTPView`)."""
        from accounts.reauth import totp_reauthentication_method

        methods: list[dict[str, Any]] = super().get_reauthentication_methods(user)
        if user.is_authenticated:
            totp = totp_reauthentication_method(user)  # type: ignore[arg-type]
            if totp is not None:
                methods.append(totp)
        return methods

    def reauthenticate(self, user: AbstractBaseUser, password: str) -> bool:
        """allauth's password check (django-axes and allauth's limits count a
        wrong one as a failed login), journaled as a re-authentication."""
        from accounts.reauth import REAUTHENTICATING_ATTR, reauthentication_journal

        request = context.request  # allauth's middleware sets it for every request
        if request is not None:
            setattr(request, REAUTHENTICATING_ATTR, True)
        try:
            accepted: bool = super().reauthenticate(user, password)
        finally:
            if request is not None:
                setattr(request, REAUTHENTICATING_ATTR, False)
        if not accepted:
            reauthentication_journal(
                request=request,
                user=user,  # type: ignore[arg-type]
                method="password",
                accepted=False,
            )
        return accepted
