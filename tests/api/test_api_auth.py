"""Token authentication through django-axes, and the API's throttles."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from journal.models import EventType, JournalEntry
from tests.api.conftest import Rows

pytestmark = pytest.mark.django_db

PASSWORD = "alice-password-1"  # conftest's alice
TOKEN_URL = "/api/v1/auth/token/"


def _token(client: APIClient, username: str, password: str):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_token_when_right_password_then_it_authenticates(alice_rows: Rows) -> None:
    client = APIClient()

    response = _token(client, "alice", PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    groups = client.get("/api/v1/groups/")

    assert response.status_code == 200
    assert groups.status_code == 200
    assert [g["id"] for g in groups.json()["results"]] == [alice_rows.group.pk]


def test_token_when_asked_twice_then_the_same(alice: User) -> None:
    first = _token(APIClient(), "alice", PASSWORD).json()["token"]
    second = _token(APIClient(), "alice", PASSWORD).json()["token"]

    assert first == second


def test_token_when_wrong_password_then_400_and_counted_by_axes(alice: User) -> None:
    response = _token(APIClient(), "alice", "wrong-password")

    assert response.status_code == 400
    assert "token" not in response.json()
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1
    assert AccessFailureLog.objects.filter(username="alice").count() == 1
    assert JournalEntry.objects.filter(
        owner_id=alice.pk, event_type=EventType.LOGIN_FAILED
    ).exists()


def test_token_when_locked_out_then_right_password_refused_here_and_on_the_site(
    alice: User,
) -> None:
    client = APIClient()
    for attempt in range(5):
        _token(client, "alice", f"wrong-{attempt}")

    right = _token(client, "alice", PASSWORD)
    site = Client().post(reverse("login"), {"login": "alice", "password": PASSWORD})

    assert right.status_code == 429
    assert "locked" in right.json()["detail"].lower()
    assert int(right.headers["Retry-After"]) > 0
    assert "token" not in right.json()
    # One lockout: the site's login refuses the same name from the same address.
    assert site.status_code == 429


def test_token_when_fields_missing_then_400_with_field_errors(db: None) -> None:
    response = APIClient().post(TOKEN_URL, {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"password"}


def test_bad_token_then_401(alice_rows: Rows) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert client.get("/api/v1/groups/").status_code == 401


def test_user_rate_when_exceeded_then_429(api: APIClient, settings) -> None:
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "3/minute"}

    answers = [api.get("/api/v1/groups/").status_code for _ in range(4)]
    throttled = api.get("/api/v1/accounts/")

    assert answers == [200, 200, 200, 429]
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0


def test_token_rate_when_exceeded_then_429_before_any_password_check(alice: User, settings) -> None:
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "2/minute"}
    client = APIClient()

    answers = [_token(client, "alice", PASSWORD).status_code for _ in range(3)]

    assert answers == [200, 200, 429]


def test_token_when_revoked_then_refused_and_a_new_one_issued(alice: User) -> None:
    client = APIClient()
    old = _token(client, "alice", PASSWORD).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")

    revoked = client.delete(TOKEN_URL)
    after = client.get("/api/v1/groups/")
    new = _token(APIClient(), "alice", PASSWORD).json()["token"]

    assert revoked.status_code == 204
    assert after.status_code == 401
    assert new != old


def test_token_revoke_when_anonymous_then_401(db: None) -> None:
    assert APIClient().delete(TOKEN_URL).status_code == 401
