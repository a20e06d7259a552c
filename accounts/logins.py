"""Writes for broker logins: connect, edit, enable or disable, remove, and
the connection states the engine worker reports.

Every change is journaled in the owner's journal in the same transaction
(who, what, the non-secret fields before and after); a credential's value
never reaches the journal, a log line or an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.credentials import credentials_decrypt, credentials_encrypt
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.platforms import credential_fields, login_identity
from copytrade.core.bulk import bulk_set_columns
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.brokers.logins import Environment, LoginState

LABEL_TAKEN = "You already have a login with this label."


def credentials_clean(
    platform: str, fields: Mapping[str, str], *, stored: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The credential fields of ``platform`` to store, from ``fields`` (the
    form's text). With ``stored`` (an edit), a blank secret field keeps its
    stored value. Optional fields left blank are left out; integers are
    stored as their canonical text.

    Raises ``ApplicationError`` naming the field: a required one blank, an
    integer that is not one or out of range, a field the platform has not.
    """
    spec = credential_fields(platform)
    known = {f.name for f in spec}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ApplicationError(f"{platform} logins have no field {unknown[0]!r}", field=unknown[0])
    clean: dict[str, str] = {}
    for f in spec:
        raw = fields.get(f.name) or ""
        # A secret is kept as typed (its spaces may be part of it); a blank
        # one is blank.
        value = (raw if raw.strip() else "") if f.secret else raw.strip()
        if not value and f.secret and stored is not None and stored.get(f.name):
            value = stored[f.name]
        if not value:
            if f.required:
                raise ApplicationError(f"{f.label} is required.", field=f.name)
            continue
        if f.kind == "int":
            try:
                number = int(value)
            except ValueError:
                raise ApplicationError(f"{f.label} must be a whole number.", field=f.name) from None
            low, high = f.min_value, f.max_value
            if (low is not None and number < low) or (high is not None and number > high):
                raise ApplicationError(
                    f"{f.label} must be between {low} and {high}, got {number}.", field=f.name
                )
            value = str(number)
        clean[f.name] = value
    return clean


def _label_clean(label: str) -> str:
    label = label.strip()
    if not label:
        raise ApplicationError("A label is required.", field="label")
    return label


def _environment_clean(environment: str) -> str:
    try:
        return Environment(environment).value
    except ValueError:
        raise ApplicationError(
            f"environment must be demo or live, got {environment!r}", field="environment"
        ) from None


def _snapshot(login: BrokerLogin) -> dict[str, Any]:
    """What the journal keeps of a login: never the secret."""
    return {
        "platform": login.platform,
        "label": login.label,
        "environment": login.environment,
        "identity": login.identity,
        "enabled": login.enabled,
    }


def _journal(
    login: BrokerLogin,
    event_type: EventType,
    message: str,
    *,
    before: dict[str, Any] | None = None,
    extra_data: dict[str, Any] | None = None,
) -> None:
    owner: User = login.owner
    journal_record(
        owner_id=owner.pk,
        actor_user_id=owner.pk,
        actor_label=owner.get_username(),
        event_type=event_type,
        message=message,
        before=before,
        after=_snapshot(login) if event_type != EventType.BROKER_LOGIN_REMOVED else None,
        extra_data={"login_id": login.pk, **(extra_data or {})},
    )


@transaction.atomic
def broker_login_create(
    *,
    owner: User,
    platform: str,
    label: str,
    environment: str,
    credentials: Mapping[str, str],
) -> BrokerLogin:
    """Store a new login of ``owner`` at ``platform`` (not paper), its
    ``credentials`` (the platform's fields, :mod:`accounts.platforms`)
    encrypted. Journaled.

    Raises ``ApplicationError`` (with the field) for a taken label, a bad
    environment or credential field, and
    :class:`accounts.credentials.CredentialKeyError` with no key (nothing
    stored).
    """
    if platform == BrokerAccount.Platform.PAPER:
        raise ApplicationError("Paper accounts need no login.", field="platform")
    clean = credentials_clean(platform, credentials)
    label = _label_clean(label)
    if BrokerLogin.objects.filter(owner=owner, label=label).exists():
        raise ApplicationError(LABEL_TAKEN, field="label")
    try:
        with transaction.atomic():
            login = BrokerLogin.objects.create(
                owner=owner,
                platform=platform,
                label=label,
                environment=_environment_clean(environment),
                identity=login_identity(platform, clean),
                secret=credentials_encrypt(clean),
            )
    except IntegrityError:
        # Two submits of one label at once: the unique constraint decides.
        raise ApplicationError(LABEL_TAKEN, field="label") from None
    _journal(
        login,
        EventType.BROKER_LOGIN_ADDED,
        f"Broker login {login.label} added ({login.get_platform_display()}, "
        f"{login.environment}, {login.identity})",
    )
    return login


def _locked(login: BrokerLogin) -> BrokerLogin:
    return (
        BrokerLogin.objects.select_for_update(of=("self",)).select_related("owner").get(pk=login.pk)
    )


@transaction.atomic
def broker_login_update(
    *,
    login: BrokerLogin,
    label: str,
    environment: str,
    credentials: Mapping[str, str],
) -> BrokerLogin:
    """Change ``login``'s label, environment and credentials; a secret field
    left blank keeps its stored value (forms never show it back). The
    connection state goes back to ``unknown`` when the credentials or the
    environment changed (the worker reconnects). Journaled with the names
    of the changed fields, never their values.

    Raises as :func:`broker_login_create`, and
    :class:`accounts.credentials.CredentialKeyError` when the stored
    credentials cannot be decrypted (the keys must be mended first: a blank
    secret could not be kept).
    """
    login = _locked(login)
    before = _snapshot(login)
    stored = credentials_decrypt(login.secret)
    clean = credentials_clean(login.platform, credentials, stored=stored)
    label = _label_clean(label)
    if BrokerLogin.objects.filter(owner=login.owner, label=label).exclude(pk=login.pk).exists():
        raise ApplicationError(LABEL_TAKEN, field="label")
    environment = _environment_clean(environment)
    changed = sorted(
        name for name in set(clean) | set(stored) if clean.get(name) != stored.get(name)
    )
    reconnect = bool(changed) or environment != login.environment
    login.label, login.environment = label, environment
    login.identity = login_identity(login.platform, clean)
    login.secret = credentials_encrypt(clean)
    fields = ["label", "environment", "identity", "secret", "updated_at"]
    if reconnect:
        login.connection_state = BrokerLogin.ConnectionState.UNKNOWN
        login.connection_detail, login.connection_since = "", None
        fields += ["connection_state", "connection_detail", "connection_since"]
    try:
        with transaction.atomic():
            login.save(update_fields=fields)
    except IntegrityError:
        raise ApplicationError(LABEL_TAKEN, field="label") from None
    _journal(
        login,
        EventType.BROKER_LOGIN_CHANGED,
        f"Broker login {login.label} changed"
        + (f" (credentials: {', '.join(changed)})" if changed else ""),
        before=before,
        extra_data={"credential_fields_changed": changed},
    )
    return login


@transaction.atomic
def broker_login_enabled_set(*, login: BrokerLogin, enabled: bool) -> BrokerLogin:
    """Enable or disable ``login``: a disabled login is left out of the
    logins the engine worker serves (its accounts take no orders).
    Journaled; no change, nothing written."""
    login = _locked(login)
    if login.enabled == enabled:
        return login
    before = _snapshot(login)
    login.enabled = enabled
    login.save(update_fields=["enabled", "updated_at"])
    _journal(
        login,
        EventType.BROKER_LOGIN_ENABLED if enabled else EventType.BROKER_LOGIN_DISABLED,
        f"Broker login {login.label} {'enabled' if enabled else 'disabled'}",
        before=before,
    )
    return login


@transaction.atomic
def broker_login_remove(*, login: BrokerLogin) -> None:
    """Delete ``login`` and its stored credentials. Journaled.

    Raises ``ApplicationError`` while accounts use it (remove or move them
    first; the foreign key protects them too).
    """
    login = _locked(login)
    names = list(login.accounts.order_by("name").values_list("name", flat=True))
    if names:
        raise ApplicationError(
            f"{login.label} still serves {len(names)} account(s) ({', '.join(names)}): "
            "remove them first, or disable the login instead."
        )
    before = _snapshot(login)
    login_id = login.pk
    login.delete()
    login.pk = login_id
    _journal(
        login, EventType.BROKER_LOGIN_REMOVED, f"Broker login {login.label} removed", before=before
    )


def login_states_record(states: Sequence[LoginState]) -> int:
    """Store the engine worker's report of each login's connection
    (:meth:`routing.brokers.logins.LoginAdapter.login_states`): state,
    detail, since, budget used and limit, in one ``UPDATE`` whatever their
    number. A login removed meanwhile is skipped. Returns the rows written.

    Not journaled: a state is a reading, reported again on every pass. Nor
    does it touch ``updated_at``, which marks configuration changes only
    (:func:`accounts.credentials.login_configs_version`). Raises
    ``ValueError`` for a naive ``since`` or two states of one login.
    """
    if not states:
        return 0
    ids = [s.login_id for s in states]
    if len(set(ids)) != len(ids):
        raise ValueError("two states for one login in one report")
    for s in states:
        if timezone.is_naive(s.since):
            raise ValueError(f"login {s.login_id}: since must be an aware datetime")
    # A removed login's id matches no row: nothing to skip by hand.
    return bulk_set_columns(
        BrokerLogin,
        ids,
        {
            "connection_state": [s.state.value for s in states],
            "connection_detail": [s.detail for s in states],
            "connection_since": [s.since for s in states],
            "budget_used": [s.budget_used for s in states],
            "budget_limit": [s.budget_limit for s in states],
        },
    )
