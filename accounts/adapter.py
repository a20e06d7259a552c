"""How django-allauth treats Copytrade's users (``ACCOUNT_ADAPTER``)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress

EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"
SECOND_FACTOR_STAGE = "accounts.stages.SecondFactorStage"


class AccountAdapter(DefaultAccountAdapter):
    """allauth's behaviour, with two Copytrade rules: users made by an operator
    without an address log in unconfirmed, and nobody removes their last one."""

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
