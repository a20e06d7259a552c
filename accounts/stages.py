"""Login stages: allauth's, with Copytrade's rule for address-less users,
and the second factor for users who turned it on.

Kept apart from ``accounts.adapter``: allauth imports the adapter while its
stages module is still loading, so the adapter names this class by path.
"""

from __future__ import annotations

from typing import Any

from allauth.account import stages
from allauth.account.models import EmailAddress
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
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


def second_factor_failed_journal(*, request: HttpRequest, user: Any, where: str) -> None:
    """Journal a wrong, reused or throttled second-factor code given for
    ``user`` (whose password was right) at ``where`` (``"login"`` or
    ``"admin login"``), with when and the client address (issue 14:
    failed logins are journaled; so are failed second factors, which say
    the password is known to someone).

    The address is axes' (:func:`axes.helpers.get_client_ip_address`, the
    one :mod:`accounts.login_guard` journals failed passwords with).
    """
    # Imported here: allauth imports this module while apps are still loading.
    from accounts.login_guard import request_origin
    from journal.models import EventType
    from journal.services import journal_record

    origin = request_origin(request)
    address = origin["ip_address"]
    shown = address or "an unknown address"
    journal_record(
        owner_id=user.pk,
        event_type=EventType.SECOND_FACTOR_FAILED,
        actor_label=shown,
        message=f"Wrong second-factor code for {user.get_username()} at the {where} from {shown}",
        extra_data={**origin, "where": where},
    )
