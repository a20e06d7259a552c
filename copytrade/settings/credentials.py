"""Keys that encrypt broker credentials at rest (:mod:`accounts.credentials`).

``CREDENTIAL_KEYS``: comma-separated Fernet keys (``Fernet.generate_key()``);
the first encrypts, every one decrypts (key rotation: README). Or
``CREDENTIAL_KEY_FILE``: a file with one key per line, first line first.
Never derived from ``SECRET_KEY``: the two rotate for different reasons.

The embedded default (no ``DATABASE_URL``, neither variable) keeps a key
file generated once per machine beside the SQLite file
(``.credential_keys``, mode 0600, git-ignored), as it keeps ``.secret_key``.
A deployment with a database server and no keys stores no credential at
all: saving or using one fails with the reason (fail closed).
"""

from __future__ import annotations

from pathlib import Path

from copytrade.env import envstr

_BASE_DIR = Path(__file__).resolve().parent.parent.parent

CREDENTIAL_KEYS = [key.strip() for key in envstr("CREDENTIAL_KEYS").split(",") if key.strip()]
_key_file = envstr("CREDENTIAL_KEY_FILE")
# Created on first use when missing: only for the embedded default's own file.
CREDENTIAL_KEY_FILE_CREATE = not _key_file and not envstr("DATABASE_URL")
CREDENTIAL_KEY_FILE: Path | None = (
    Path(_key_file)
    if _key_file
    else (_BASE_DIR / ".credential_keys" if CREDENTIAL_KEY_FILE_CREATE else None)
)
