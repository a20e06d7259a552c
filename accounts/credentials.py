"""Broker credentials encrypted at rest (``cryptography``'s MultiFernet).

A login's credential fields (:mod:`accounts.platforms`) are stored as one
Fernet token of their JSON in :attr:`accounts.models.BrokerLogin.secret`:
AES-128-CBC with an HMAC-SHA256, so a changed or foreign token is refused
rather than misread (Fernet spec, github.com/fernet/spec). Keys come from
the settings (:mod:`copytrade.settings.credentials`): ``CREDENTIAL_KEYS``
or ``CREDENTIAL_KEY_FILE``; the first key encrypts, every key decrypts, so
a new key goes first, :func:`credentials_rotate` (the
``rotate_credential_keys`` command) re-encrypts, then the old key goes.

With no key, nothing is stored and nothing is read: every function here
raises :class:`CredentialKeyError` with the reason (fail closed). No value
of a credential, nor a key, ever appears in an error or a log line.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db.models import Count, Max, Prefetch

from accounts.models import BrokerAccount, BrokerLogin
from accounts.platforms import credential_fields
from copytrade.core.errors import ApplicationError
from routing.brokers.logins import Environment, LoginConfig

NO_KEY_MESSAGE = (
    "No credential key is configured, so broker credentials can be neither stored nor "
    "used: set CREDENTIAL_KEYS or CREDENTIAL_KEY_FILE (README, Broker logins)."
)


class CredentialKeyError(ApplicationError):
    """No usable key: none configured, a malformed one, or stored
    credentials no configured key decrypts. The message names the setting
    at fault, never a key or a credential."""


def credential_keys() -> list[str]:
    """The configured Fernet keys, the encrypting one first: the
    ``CREDENTIAL_KEYS`` setting, else the lines of ``CREDENTIAL_KEY_FILE``
    (blank lines and ``#`` comments skipped). The embedded default's key
    file is created on first use (one new key, mode 0600).

    Raises :class:`CredentialKeyError` when there is none or the file
    cannot be read.
    """
    keys: list[str] = list(getattr(settings, "CREDENTIAL_KEYS", []) or [])
    if keys:
        return keys
    path: Path | None = getattr(settings, "CREDENTIAL_KEY_FILE", None)
    if path is None:
        raise CredentialKeyError(NO_KEY_MESSAGE)
    path = Path(path)
    if not path.exists() and getattr(settings, "CREDENTIAL_KEY_FILE_CREATE", False):
        _key_file_create(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialKeyError(
            f"CREDENTIAL_KEY_FILE {str(path)!r} cannot be read ({exc.strerror}): "
            "broker credentials can be neither stored nor used."
        ) from None
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        raise CredentialKeyError(
            f"CREDENTIAL_KEY_FILE {str(path)!r} holds no key. " + NO_KEY_MESSAGE
        )
    return keys


def _key_file_create(path: Path) -> None:
    """Write a new key file at ``path``, mode 0600, unless one appears
    meanwhile: written to a private temporary file, then hard-linked into
    place (atomic, and refused when ``path`` exists), so two processes
    starting at once end up with one key, never a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credential_keys.")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, Fernet.generate_key() + b"\n")
        os.fsync(fd)
        os.close(fd)
        # Another process made it first: its key is the one.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _fernet() -> MultiFernet:
    fernets = []
    for index, key in enumerate(credential_keys(), start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # The key itself never goes into the message.
            raise CredentialKeyError(
                f"Credential key #{index} is not a Fernet key (32 url-safe base64-encoded "
                "bytes, as Fernet.generate_key() makes): check CREDENTIAL_KEYS or "
                "CREDENTIAL_KEY_FILE."
            ) from None
    return MultiFernet(fernets)


def credentials_encrypt(fields: Mapping[str, str]) -> str:
    """The token that stores ``fields`` (field name -> value, text) at rest.

    Raises :class:`CredentialKeyError` with no usable key; ``TypeError``
    for a value that is not text.
    """
    for name, value in fields.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"credential field {name!r} must map text to text")
    payload = json.dumps(dict(fields), sort_keys=True).encode()
    return _fernet().encrypt(payload).decode("ascii")


def credentials_decrypt(token: str) -> dict[str, str]:
    """The fields ``token`` (from :func:`credentials_encrypt`) stores.

    Raises :class:`CredentialKeyError` with no usable key or when no
    configured key made the token (or it was altered).
    """
    try:
        payload = _fernet().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        raise CredentialKeyError(
            "Stored broker credentials cannot be decrypted with the configured keys: "
            "was a key removed from CREDENTIAL_KEYS / CREDENTIAL_KEY_FILE before "
            "rotate_credential_keys ran? Put it back, or enter the credentials again."
        ) from None
    fields = json.loads(payload)
    return {str(name): str(value) for name, value in fields.items()}


def credentials_rotate(token: str) -> str:
    """``token`` re-encrypted with the first configured key (MultiFernet.rotate).

    Raises :class:`CredentialKeyError` as :func:`credentials_decrypt`.
    """
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise CredentialKeyError(
            "A stored broker login cannot be decrypted with the configured keys: "
            "add the key that encrypted it before rotating."
        ) from None


def credentials_public(login: BrokerLogin) -> dict[str, str]:
    """The non-secret credential fields of ``login`` (user name, app id,
    system, host and port…), to fill its edit form; the secret ones
    (:attr:`accounts.platforms.CredentialField.secret`) are left out.

    Raises :class:`CredentialKeyError` as :func:`credentials_decrypt`.
    """
    public = {f.name for f in credential_fields(login.platform) if not f.secret}
    return {k: v for k, v in credentials_decrypt(login.secret).items() if k in public}


def login_configs(*, platform: str | None = None) -> list[LoginConfig]:
    """Every enabled broker login (of ``platform`` only, when given) as the
    engine worker hands it to its platform's adapter: credentials
    decrypted, ``accounts`` the external ids of its enabled accounts
    (sorted), by login id.

    Called only by the engine worker, the one process that talks to the
    platforms: nothing else needs the credentials in clear. Raises
    :class:`CredentialKeyError` (naming the login, never a value) when a
    login's credentials cannot be decrypted: the keys are misconfigured.
    """
    logins = BrokerLogin.objects.filter(enabled=True).order_by("pk")
    if platform is not None:
        logins = logins.filter(platform=platform)
    logins = logins.prefetch_related(
        Prefetch(
            "accounts",
            queryset=BrokerAccount.objects.filter(enabled=True).only("login_id", "external_id"),
            to_attr="enabled_accounts",
        )
    )
    configs = []
    for login in logins:
        try:
            credentials = credentials_decrypt(login.secret)
        except CredentialKeyError as exc:
            raise CredentialKeyError(f"Broker login {login.pk}: {exc.message}") from None
        configs.append(
            LoginConfig(
                login_id=login.pk,
                platform=login.platform,
                environment=Environment(login.environment),
                credentials=credentials,
                accounts=tuple(sorted(a.external_id for a in login.enabled_accounts)),
            )
        )
    return configs


def login_configs_version() -> tuple[int, str, int, str]:
    """A cheap fingerprint of what :func:`login_configs` would return, for
    the engine worker to poll without decrypting anything: the number of
    logins and of accounts under a login, and the latest ``updated_at`` of
    each (ISO text, ``""`` with none). Any change of a login or of an
    account under one (added, edited, enabled, disabled, removed) changes
    it; connection reports do not (:func:`accounts.logins.login_states_record`
    leaves ``updated_at`` alone). Two reads."""
    logins = BrokerLogin.objects.aggregate(n=Count("pk"), last=Max("updated_at"))
    accounts = BrokerAccount.objects.filter(login__isnull=False).aggregate(
        n=Count("pk"), last=Max("updated_at")
    )
    return (
        logins["n"],
        logins["last"].isoformat() if logins["last"] else "",
        accounts["n"],
        accounts["last"].isoformat() if accounts["last"] else "",
    )
