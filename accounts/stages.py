"""Login stages: allauth's, with Copytrade's rule for address-less users,
and the second factor for users who turned it on.

Kept apart from ``accounts.adapter``: allauth imports the adapter while its
stages module is still loading, so the adapter names this class by path.
"""

from __future__ import annotations

from allauth.account import stages
from allauth.account.models import EmailAddress
from django.http import HttpResponseBase, HttpResponseRedirect
from django.urls import reverse


class EmailVerificationStage(stages.EmailVerificationStage):
    """allauth's mandatory confirmation, except for a user with no e-mail
    address on file at all.

    Sign-up always records the address (and ``can_delete_email`` keeps one), so
    only users an operator made — ``createsuperuser``, the admin,
    ``seed_demo``'s ``demo`` — have none; there is nothing for them to confirm,
    and refusing them would lock the demo and the operator out.
    """

    def handle(self) -> tuple[HttpResponseBase | None, bool]:
        """Continue the login unconfirmed for an address-less user; else allauth's check."""
        user = self.login.user
        if user is not None and not EmailAddress.objects.filter(user_id=user.pk).exists():
            return None, True
        return super().handle()  # type: ignore[no-any-return]


class SecondFactorStage(stages.LoginStage):
    """After the password (and the e-mail check): a user whose second factor
    is on gives a current code from their authenticator app before the login
    completes (``accounts.views.login_second_factor``).

    A user with no confirmed device goes straight through; a device still
    being set up does not count.
    """

    key = "copytrade_second_factor"
    urlname = "login_second_factor"

    def handle(self) -> tuple[HttpResponseBase | None, bool]:
        """Send a user with a confirmed device to the code page; else continue."""
        from accounts.selectors import totp_device_confirmed

        user = self.login.user
        if user is None or totp_device_confirmed(user) is None:
            return None, True
        return HttpResponseRedirect(reverse(self.urlname)), True
