"""What tests of dangerous actions share: a client whose session counts as
recently re-authenticated (:mod:`accounts.reauth`), as allauth records it.

The re-authentication tests themselves go through the real pages
(``accounts/tests/test_reauthentication.py``); this helper is for tests of
the actions' own behaviour.
"""

from __future__ import annotations

import time

from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.internal.userkit import user_id_to_str
from django.test import Client

from accounts.models import User

# allauth's private key naming whose records the session holds.
_RECORDS_USER_SESSION_KEY = "account_authentication_methods_user"


def reauthenticated(client: Client, user: User, *, at: float | None = None) -> Client:
    """``client`` (logged in as ``user``) with a password re-authentication
    recorded at ``at`` (epoch seconds, now by default)."""
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time() if at is None else at, "reauthenticated": True}
    ]
    session[_RECORDS_USER_SESSION_KEY] = user_id_to_str(user)
    session.save()
    return client


def reauthenticated_client(user: User) -> Client:
    """A new client logged in as ``user`` and recently re-authenticated."""
    client = Client()
    client.force_login(user)
    return reauthenticated(client, user)
