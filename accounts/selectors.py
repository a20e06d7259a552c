"""Reads for users and broker accounts: every one is scoped to its owner."""

from __future__ import annotations

from allauth.account.models import EmailAddress

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
