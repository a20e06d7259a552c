"""``manage.py rotate_credential_keys``: re-encrypt every broker login's
stored credentials with the first configured key.

The rotation (README, Broker logins): put the new key first in
``CREDENTIAL_KEYS`` (or the key file) and keep the old one after it;
restart; run this; then remove the old key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.credentials import CredentialKeyError, credentials_rotate
from accounts.models import BrokerLogin
from copytrade.core.bulk import bulk_set_columns


class Command(BaseCommand):
    help = "Re-encrypt every broker login's credentials with the first CREDENTIAL_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            # Locked: an edit saved meanwhile would be overwritten by its old token.
            rows = list(
                BrokerLogin.objects.select_for_update().order_by("pk").values_list("pk", "secret")
            )
            try:
                tokens = [credentials_rotate(secret) for _, secret in rows]
            except CredentialKeyError as exc:
                raise CommandError(f"Nothing re-encrypted: {exc.message}") from None
            bulk_set_columns(BrokerLogin, [pk for pk, _ in rows], {"secret": tokens})
        self.stdout.write(f"Re-encrypted {len(rows)} broker login(s) with the first key.")
