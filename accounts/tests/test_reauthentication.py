"""Re-authentication before connecting or changing broker credentials
(issue 14), by password or by the second factor, and its journal rows.

The clients here log in with ``force_login`` and have never re-authenticated:
their last authentication is, for allauth's sudo window, too old.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.credentials import credentials_decrypt
from accounts.logins import broker_login_create
from accounts.models import BrokerLogin, User
from accounts.tests.logins_data import PROJECTX, SECRETS, TRADOVATE
from journal.models import EventType, JournalEntry
from tests.reauth import reauthenticated
from tests.second_factor import totp_code, totp_device_for

pytestmark = pytest.mark.django_db
PASSWORD = "dana-password-1"
REAUTH_URL = "/accounts/reauthenticate/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts re-authentications and failures per user/IP in the cache.
    cache.clear()


@pytest.fixture
def dana() -> User:
    return User.objects.create_user("dana", password=PASSWORD)


@pytest.fixture
def dana_client(dana: User) -> Client:
    client = Client(HTTP_USER_AGENT="pytest-browser")
    client.force_login(dana)
    return client


@pytest.fixture
def tv(dana: User) -> BrokerLogin:
    return broker_login_create(
        owner=dana, platform="tradovate", label="TV", environment="demo", credentials=TRADOVATE
    )


def _to_reauth(path: str) -> str:
    return f"{REAUTH_URL}?{urlencode({'next': path})}"


def _rows(event_type: EventType) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=event_type).order_by("pk"))


def test_connect_form_asks_to_reauthenticate_first(dana_client: Client) -> None:
    url = reverse("login_create", args=["projectx"])

    response = dana_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == _to_reauth(url)


def test_stale_connect_post_is_refused_and_no_secret_is_kept(
    dana: User, dana_client: Client
) -> None:
    url = reverse("login_create", args=["projectx"])

    response = dana_client.post(url, {"label": "Main", "environment": "live", **PROJECTX})

    assert response.status_code == 302 and response["Location"] == _to_reauth(url)
    assert not BrokerLogin.objects.exists()
    # allauth would stash a suspended POST in the session; this one carries a secret.
    session = Session.objects.get(session_key=dana_client.session.session_key)
    assert PROJECTX["api_key"] not in str(session.get_decoded())
    page = dana_client.get(response["Location"]).content.decode()
    assert "nothing was saved" in page


def test_password_reauthentication_opens_the_form_and_connect_works(
    dana: User, dana_client: Client
) -> None:
    url = reverse("login_create", args=["projectx"])
    page = dana_client.get(_to_reauth(url)).content.decode()
    assert "Use your authenticator app" not in page  # no second factor: password only

    response = dana_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})

    assert response.status_code == 302 and response["Location"] == url
    assert dana_client.get(url).status_code == 200
    saved = dana_client.post(url, {"label": "Main", "environment": "live", **PROJECTX})
    assert saved.status_code == 302 and saved["Location"] == reverse("broker_accounts")
    assert credentials_decrypt(BrokerLogin.objects.get(owner=dana).secret) == PROJECTX
    (row,) = _rows(EventType.REAUTHENTICATED)
    assert (row.owner_id, row.actor_user_id, row.actor_label) == (dana.pk, dana.pk, "dana")
    assert row.extra_data == {
        "method": "password",
        "ip_address": "127.0.0.1",
        "user_agent": "pytest-browser",
    }
    assert row.message == "dana confirmed it is them (password) from 127.0.0.1"


def test_wrong_password_is_refused_and_journaled_not_as_a_login(
    dana: User, dana_client: Client, tv: BrokerLogin
) -> None:
    url = reverse("login_edit", args=[tv.pk])

    response = dana_client.post(REAUTH_URL, {"password": "not-it", "next": url})

    assert response.status_code == 200
    assert "password" in response.content.decode().lower()
    assert dana_client.get(url).status_code == 302  # still not confirmed
    (row,) = _rows(EventType.REAUTHENTICATION_FAILED)
    assert row.owner_id == dana.pk
    assert row.extra_data["method"] == "password"
    assert row.extra_data["ip_address"] == "127.0.0.1"
    assert "not-it" not in str(row.extra_data) + row.message
    assert _rows(EventType.LOGIN_FAILED) == []
    assert _rows(EventType.REAUTHENTICATED) == []


def test_stale_edit_post_changes_nothing(dana_client: Client, tv: BrokerLogin) -> None:
    before = tv.secret
    url = reverse("login_edit", args=[tv.pk])

    response = dana_client.post(
        url, {"label": "Renamed", "environment": "live", **TRADOVATE, "password": "NEW-s3cr3t"}
    )

    assert response.status_code == 302 and response["Location"] == _to_reauth(url)
    tv.refresh_from_db()
    assert (tv.label, tv.environment, tv.secret) == ("TV", "demo", before)


def test_edit_works_within_the_window_and_not_after_it(
    dana: User, dana_client: Client, tv: BrokerLogin
) -> None:
    url = reverse("login_edit", args=[tv.pk])
    form = {"label": "TV", "environment": "demo", **TRADOVATE}
    with time_machine.travel(time.time(), tick=False) as clock:
        reauthenticated(dana_client, dana)
        clock.shift(settings.ACCOUNT_REAUTHENTICATION_TIMEOUT - 5)
        assert dana_client.post(url, {**form, "label": "Within"}).status_code == 302
        clock.shift(10)
        response = dana_client.post(url, {**form, "label": "After"})
    assert response["Location"] == _to_reauth(url)
    tv.refresh_from_db()
    assert tv.label == "Within"


def test_second_factor_user_reauthenticates_with_a_code(dana: User, dana_client: Client) -> None:
    device = totp_device_for(dana)
    url = reverse("login_create", args=["projectx"])
    totp_url = reverse("reauthenticate_totp")
    page = dana_client.get(_to_reauth(url)).content.decode()
    assert f"{totp_url}?next=" in page  # offered beside the password

    assert dana_client.get(f"{totp_url}?next={url}").status_code == 200
    response = dana_client.post(totp_url, {"token": totp_code(device), "next": url})

    assert response.status_code == 302 and response["Location"] == url
    saved = dana_client.post(url, {"label": "Main", "environment": "live", **PROJECTX})
    assert saved.status_code == 302 and BrokerLogin.objects.filter(owner=dana).count() == 1
    (row,) = _rows(EventType.REAUTHENTICATED)
    assert row.extra_data["method"] == "mfa"
    assert row.extra_data["ip_address"] == "127.0.0.1"
    assert "authenticator app code" in row.message


def test_wrong_code_is_refused_and_journaled(dana: User, dana_client: Client) -> None:
    device = totp_device_for(dana)
    url = reverse("login_create", args=["projectx"])
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"

    response = dana_client.post(reverse("reauthenticate_totp"), {"token": wrong, "next": url})

    assert response.status_code == 200
    assert "Wrong or expired code." in response.content.decode()
    assert dana_client.get(url).status_code == 302
    (row,) = _rows(EventType.REAUTHENTICATION_FAILED)
    assert (row.owner_id, row.extra_data["method"]) == (dana.pk, "mfa")
    assert _rows(EventType.REAUTHENTICATED) == []


def test_code_page_without_a_second_factor_sends_to_the_password(dana_client: Client) -> None:
    response = dana_client.get(reverse("reauthenticate_totp") + "?next=/broker-accounts/")

    assert response.status_code == 302
    assert response["Location"] == _to_reauth("/broker-accounts/")


def test_the_login_page_itself_stays_reachable_and_anonymous_goes_to_login(
    tv: BrokerLogin,
) -> None:
    response = Client().post(reverse("login_edit", args=[tv.pk]), {"label": "x"})

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_no_secret_on_the_reauthentication_pages(dana: User, dana_client: Client) -> None:
    totp_device_for(dana)
    for url in (REAUTH_URL, reverse("reauthenticate_totp")):
        page = dana_client.get(url).content.decode()
        assert not any(secret in page for secret in SECRETS)


def test_wrong_passwords_count_towards_the_login_lockout(dana: User, dana_client: Client) -> None:
    url = reverse("login_create", args=["projectx"])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        dana_client.post(REAUTH_URL, {"password": "guess", "next": url})

    response = dana_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})

    assert response.status_code != 302  # the right password is refused while locked
    assert dana_client.get(url).status_code == 302
    assert len(_rows(EventType.LOGIN_LOCKED_OUT)) == 1
    assert len(_rows(EventType.REAUTHENTICATION_FAILED)) >= settings.AXES_FAILURE_LIMIT
