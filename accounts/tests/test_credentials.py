"""Credentials at rest: encrypted with MultiFernet, never in clear in the
database, rotated to a new key, and refused without a key (fail closed)."""

from __future__ import annotations

import stat
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from accounts.credentials import (
    NO_KEY_MESSAGE,
    CredentialKeyError,
    credential_keys,
    credentials_decrypt,
    credentials_encrypt,
    login_configs,
)
from accounts.logins import broker_login_create
from accounts.models import BrokerLogin, User
from accounts.tests.logins_data import PROJECTX, RITHMIC, SECRETS, TRADOVATE
from tests.reauth import reauthenticated_client

NO_KEYS = {"CREDENTIAL_KEYS": [], "CREDENTIAL_KEY_FILE": None, "CREDENTIAL_KEY_FILE_CREATE": False}


def _raw_secrets() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_brokerlogin ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def test_encrypt_then_decrypt_returns_the_fields() -> None:
    token = credentials_encrypt(TRADOVATE)
    assert credentials_decrypt(token) == TRADOVATE
    assert TRADOVATE["password"] not in token


def test_decrypt_with_another_key_fails_closed_without_the_values() -> None:
    token = credentials_encrypt(PROJECTX)
    with (
        override_settings(CREDENTIAL_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(CredentialKeyError) as caught,
    ):
        credentials_decrypt(token)
    assert "cannot be decrypted" in caught.value.message
    assert PROJECTX["api_key"] not in str(caught.value)


def test_malformed_key_is_named_by_position_never_shown() -> None:
    with (
        override_settings(CREDENTIAL_KEYS=["not-a-fernet-key-value"]),
        pytest.raises(CredentialKeyError) as caught,
    ):
        credentials_encrypt(PROJECTX)
    assert "#1" in caught.value.message
    assert "not-a-fernet-key-value" not in caught.value.message


@pytest.mark.django_db
def test_database_column_never_holds_a_credential_in_clear(alice: User) -> None:
    # Arrange / Act
    for platform, label, fields in (
        ("projectx", "PX", PROJECTX),
        ("tradovate", "TV", TRADOVATE),
        ("rithmic", "RT", RITHMIC),
    ):
        broker_login_create(
            owner=alice, platform=platform, label=label, environment="demo", credentials=fields
        )
    # Assert: read with SQL, past the model
    raw = " ".join(_raw_secrets())
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_brokerlogin")
        whole_rows = repr(cursor.fetchall())
    for secret in SECRETS:
        assert secret not in raw
        assert secret not in whole_rows
    assert [credentials_decrypt(t) for t in _raw_secrets()] == [PROJECTX, TRADOVATE, RITHMIC]


@pytest.mark.django_db
def test_rotation_reencrypts_every_row_then_only_the_new_key_decrypts(alice: User) -> None:
    # Arrange: two logins under the old key
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(CREDENTIAL_KEYS=[old]):
        broker_login_create(
            owner=alice, platform="projectx", label="A", environment="demo", credentials=PROJECTX
        )
        broker_login_create(
            owner=alice, platform="rithmic", label="B", environment="live", credentials=RITHMIC
        )
    before = _raw_secrets()
    # Act: the new key first, the old one kept, then rotate
    out = StringIO()
    with override_settings(CREDENTIAL_KEYS=[new, old]):
        call_command("rotate_credential_keys", stdout=out)
    # Assert
    assert "Re-encrypted 2 broker login(s)" in out.getvalue()
    after = _raw_secrets()
    assert all(a != b for a, b in zip(after, before, strict=True))
    for token in after:
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token.encode())
    with override_settings(CREDENTIAL_KEYS=[new]):
        assert [c.credentials for c in login_configs()] == [PROJECTX, RITHMIC]


@pytest.mark.django_db
def test_rotation_without_the_old_key_changes_nothing(alice: User) -> None:
    broker_login_create(
        owner=alice, platform="projectx", label="A", environment="demo", credentials=PROJECTX
    )
    before = _raw_secrets()
    with (
        override_settings(CREDENTIAL_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(CommandError, match="Nothing re-encrypted"),
    ):
        call_command("rotate_credential_keys", stdout=StringIO())
    assert _raw_secrets() == before


@pytest.mark.django_db
def test_no_key_fails_closed_and_stores_nothing(alice: User) -> None:
    with override_settings(**NO_KEYS), pytest.raises(CredentialKeyError) as caught:
        broker_login_create(
            owner=alice, platform="projectx", label="A", environment="demo", credentials=PROJECTX
        )
    assert caught.value.message == NO_KEY_MESSAGE
    assert not BrokerLogin.objects.exists()


@pytest.mark.django_db
def test_no_key_the_connect_page_shows_the_reason(alice: User) -> None:
    client = reauthenticated_client(alice)
    with override_settings(**NO_KEYS):
        response = client.post(
            reverse("login_create", args=["projectx"]),
            {"label": "PX", "environment": "demo", **PROJECTX},
        )
    assert response.status_code == 400
    assert "No credential key is configured" in response.content.decode()
    assert PROJECTX["api_key"] not in response.content.decode()
    assert not BrokerLogin.objects.exists()


@pytest.mark.django_db
def test_no_key_login_configs_fails_closed(alice: User) -> None:
    broker_login_create(
        owner=alice, platform="projectx", label="A", environment="demo", credentials=PROJECTX
    )
    with override_settings(**NO_KEYS), pytest.raises(CredentialKeyError):
        login_configs()


def test_embedded_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / ".credential_keys"
    with override_settings(
        CREDENTIAL_KEYS=[], CREDENTIAL_KEY_FILE=path, CREDENTIAL_KEY_FILE_CREATE=True
    ):
        first = credential_keys()
        token = credentials_encrypt(PROJECTX)
        second = credential_keys()
    assert first == second and len(first) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".credential_keys"]  # no temp file left
    with override_settings(CREDENTIAL_KEYS=first):
        assert credentials_decrypt(token) == PROJECTX


def test_key_file_lines_first_encrypts_all_decrypt(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-12\n{new}\n\n{old}\n")
    old_token = Fernet(old).encrypt(b'{"username": "u", "api_key": "k"}').decode()
    with override_settings(CREDENTIAL_KEYS=[], CREDENTIAL_KEY_FILE=path):
        assert credential_keys() == [new, old]
        assert credentials_decrypt(old_token) == {"username": "u", "api_key": "k"}
        token = credentials_encrypt({"username": "u"})
    Fernet(new).decrypt(token.encode())  # raises unless the first key made it


def test_missing_key_file_outside_embedded_default_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with (
        override_settings(
            CREDENTIAL_KEYS=[], CREDENTIAL_KEY_FILE=path, CREDENTIAL_KEY_FILE_CREATE=False
        ),
        pytest.raises(CredentialKeyError, match="cannot be read"),
    ):
        credentials_encrypt(PROJECTX)
    assert not path.exists()
