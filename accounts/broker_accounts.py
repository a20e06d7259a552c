"""Writes for broker accounts on the accounts page: add (paper, or under a
broker login), edit, enable or disable, remove. Every change is journaled
in the owner's journal in the same transaction.

:func:`accounts.services.broker_account_create` stays the plain insert
(seed data, tests); the pages come here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.services import broker_account_create
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record

NAME_TAKEN = "You already have an account with this name."
EXTERNAL_ID_TAKEN = "An account with this id at the platform is already registered."


def _account_snapshot(account: BrokerAccount) -> dict[str, Any]:
    return {
        "name": account.name,
        "platform": account.platform,
        "external_id": account.external_id,
        "kind": account.kind,
        "firm": account.firm,
        "starting_balance": account.starting_balance,
        "login_id": account.login_id,
        "enabled": account.enabled,
    }


def _account_journal(
    account: BrokerAccount,
    event_type: EventType,
    message: str,
    *,
    before: dict[str, Any] | None = None,
    removed: bool = False,
) -> None:
    owner: User = account.owner
    journal_record(
        owner_id=owner.pk,
        actor_user_id=owner.pk,
        actor_label=owner.get_username(),
        event_type=event_type,
        account_id=account.pk,
        message=message,
        before=before,
        after=None if removed else _account_snapshot(account),
    )


def _name_clean(name: str) -> str:
    name = name.strip()
    if not name:
        raise ApplicationError("A name is required.", field="name")
    return name


def _unique_error(exc: IntegrityError) -> ApplicationError:
    """The form error a unique constraint's refusal means (two submits at once)."""
    if "external_id" in str(exc):
        return ApplicationError(EXTERNAL_ID_TAKEN, field="external_id")
    return ApplicationError(NAME_TAKEN, field="name")


@transaction.atomic
def broker_account_add(
    *,
    owner: User,
    name: str,
    kind: str,
    firm: str,
    starting_balance: Decimal,
    login: BrokerLogin | None = None,
    external_id: str | None = None,
) -> BrokerAccount:
    """Add an account of ``owner``: a paper account (no ``login``; its
    external id is generated) or one under ``owner``'s ``login`` at that
    login's platform, ``external_id`` being its id at the platform.
    ``starting_balance`` dollars is its starting and current balance until
    the platform reports one. Journaled.

    Raises ``ApplicationError`` (with the field) for another user's login,
    a missing external id, a taken name or external id, a negative balance
    or an unknown kind.
    """
    name = _name_clean(name)
    if login is not None and login.owner_id != owner.pk:
        raise ApplicationError("No such login.", field="login")
    if login is not None and not (external_id or "").strip():
        raise ApplicationError("The account's id at the platform is required.", field="external_id")
    if BrokerAccount.objects.filter(owner=owner, name=name).exists():
        raise ApplicationError(NAME_TAKEN, field="name")
    platform = login.platform if login is not None else BrokerAccount.Platform.PAPER
    external_id = external_id.strip() if login is not None and external_id else None
    if (
        external_id is not None
        and BrokerAccount.objects.filter(platform=platform, external_id=external_id).exists()
    ):
        raise ApplicationError(EXTERNAL_ID_TAKEN, field="external_id")
    try:
        with transaction.atomic():
            account = broker_account_create(
                owner=owner,
                name=name,
                balance=starting_balance,
                kind=kind,
                platform=platform,
                external_id=external_id,
                firm=firm.strip(),
            )
            if login is not None:
                account.login = login
                account.save(update_fields=["login", "updated_at"])
    except IntegrityError as exc:
        raise _unique_error(exc) from None
    where = f"under {login.label}" if login is not None else "(paper)"
    _account_journal(
        account, EventType.BROKER_ACCOUNT_ADDED, f"Broker account {account.name} added {where}"
    )
    return account


def broker_account_uses(account: BrokerAccount) -> list[str]:
    """Why ``account`` cannot be deleted (empty: it can): it leads or
    follows a copy group, is published as a pilot, or has history (copy
    orders, fills, leader events) the journal and the records point to."""
    uses = []
    led = list(account.led_groups.values_list("name", flat=True))
    if led:
        uses.append(f"it leads copy group {', '.join(sorted(led))}")
    followed = list(account.memberships.values_list("group__name", flat=True))
    if followed:
        uses.append(f"it follows copy group {', '.join(sorted(followed))}")
    if BrokerAccount.objects.filter(pk=account.pk, pilot__isnull=False).exists():
        uses.append("it is published as a pilot")
    for relation, what in (
        ("copy_orders", "copy orders"),
        ("fills", "fills"),
        ("leader_events", "leader events"),
    ):
        if getattr(account, relation).exists():
            uses.append(f"it has {what}")
    return uses


def _has_history(account: BrokerAccount) -> bool:
    return any(
        getattr(account, relation).exists()
        for relation in ("copy_orders", "fills", "leader_events")
    )


def _account_locked(account: BrokerAccount) -> BrokerAccount:
    # Only the account's row: its login (an outer join) stays unlocked.
    return (
        BrokerAccount.objects.select_for_update(of=("self",))
        .select_related("owner", "login")
        .get(pk=account.pk)
    )


@transaction.atomic
def broker_account_update(
    *,
    account: BrokerAccount,
    name: str,
    kind: str,
    firm: str,
    starting_balance: Decimal,
    external_id: str | None = None,
) -> BrokerAccount:
    """Change ``account``'s name, kind, firm, starting balance and (under a
    login) its id at the platform (``None``: unchanged). The id and the
    starting balance change only while the account has no history (its
    fills and orders belong to them); a paper account's balance follows its
    starting balance then. Journaled with the fields before and after.

    Raises ``ApplicationError`` (with the field) as
    :func:`broker_account_add`, and for a refused change.
    """
    account = _account_locked(account)
    before = _account_snapshot(account)
    name = _name_clean(name)
    if kind not in BrokerAccount.Kind.values:
        raise ApplicationError(f"unknown account kind {kind!r}", field="kind")
    if starting_balance < 0:
        raise ApplicationError(
            f"balance must be ≥ 0, got {starting_balance}", field="starting_balance"
        )
    if BrokerAccount.objects.filter(owner=account.owner, name=name).exclude(pk=account.pk).exists():
        raise ApplicationError(NAME_TAKEN, field="name")
    fields = ["name", "kind", "firm", "updated_at"]
    new_id = (external_id or "").strip() if account.login_id is not None else ""
    if external_id is not None and account.login_id is not None and not new_id:
        raise ApplicationError("The account's id at the platform is required.", field="external_id")
    history = _has_history(account)
    if new_id and new_id != account.external_id:
        if history:
            raise ApplicationError(
                "The id at the platform cannot change once the account has orders or fills: "
                "add a new account instead.",
                field="external_id",
            )
        account.external_id = new_id
        fields.append("external_id")
    if starting_balance != account.starting_balance:
        if history:
            raise ApplicationError(
                "The starting balance cannot change once the account has orders or fills.",
                field="starting_balance",
            )
        account.starting_balance = starting_balance
        fields.append("starting_balance")
        if account.login_id is None:
            account.balance = starting_balance
            fields.append("balance")
    account.name, account.kind, account.firm = name, kind, firm.strip()
    try:
        with transaction.atomic():
            account.save(update_fields=fields)
    except IntegrityError as exc:
        raise _unique_error(exc) from None
    _account_journal(
        account,
        EventType.BROKER_ACCOUNT_CHANGED,
        f"Broker account {account.name} changed",
        before=before,
    )
    return account


@transaction.atomic
def broker_account_enabled_set(*, account: BrokerAccount, enabled: bool) -> BrokerAccount:
    """Enable or disable ``account``: a disabled account is left out of the
    accounts its login serves in the engine worker. Journaled; no change,
    nothing written."""
    account = _account_locked(account)
    if account.enabled == enabled:
        return account
    before = _account_snapshot(account)
    account.enabled = enabled
    account.save(update_fields=["enabled", "updated_at"])
    _account_journal(
        account,
        EventType.BROKER_ACCOUNT_ENABLED if enabled else EventType.BROKER_ACCOUNT_DISABLED,
        f"Broker account {account.name} {'enabled' if enabled else 'disabled'}",
        before=before,
    )
    return account


@transaction.atomic
def broker_account_remove(*, account: BrokerAccount) -> None:
    """Delete ``account`` (its session rows, positions and limits with it).
    Journaled.

    Raises ``ApplicationError`` with every reason
    (:func:`broker_account_uses`) when it leads or follows a copy group, is
    a pilot, or has history: "disable it instead".
    """
    account = _account_locked(account)
    uses = broker_account_uses(account)
    if uses:
        raise ApplicationError(
            f"{account.name} cannot be removed: {'; '.join(uses)}. Disable it instead."
        )
    before = _account_snapshot(account)
    account_id = account.pk
    account.delete()
    account.pk = account_id
    _account_journal(
        account,
        EventType.BROKER_ACCOUNT_REMOVED,
        f"Broker account {account.name} removed",
        before=before,
        removed=True,
    )
