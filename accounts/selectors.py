"""Reads for users and broker accounts: every one is scoped to its owner."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BrokerAccount, User


def broker_accounts_for_user(user: User) -> list[BrokerAccount]:
    """``user``'s broker accounts by name (never another user's)."""
    return list(BrokerAccount.objects.filter(owner=user).order_by("name"))


def broker_account_exists_for_user(user: User) -> bool:
    """Whether ``user`` has any broker account yet (the dashboard's first step)."""
    return BrokerAccount.objects.filter(owner=user).exists()


def email_addresses_for_user(user: User) -> list[EmailAddress]:
    """``user``'s e-mail addresses, primary first, with their confirmed state."""
    return list(EmailAddress.objects.filter(user=user).order_by("-primary", "email"))


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    """``user``'s confirmed authenticator-app device, the only one that counts
    (at login, for the admin, to turn it off); ``None`` when it is off."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_device_pending(user: User) -> TOTPDevice | None:
    """``user``'s device being set up: shown with its key, not yet confirmed
    by a code, so it does not count anywhere."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
