"""A refused second-factor code is journaled with who, when and from where
(issue 14), at /login/'s code page and at the admin's own login: a wrong
code after the right password says someone knows the password."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from journal.models import EventType, JournalEntry
from tests.second_factor import totp_code, totp_device_for

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.7"
PASSWORD = "carol-password-1"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts logins per IP in the cache.
    cache.clear()


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _failures(user: User) -> list[JournalEntry]:
    return list(
        JournalEntry.objects.filter(
            owner_id=user.pk, event_type=EventType.SECOND_FACTOR_FAILED
        ).order_by("pk")
    )


def test_a_wrong_code_at_the_login_is_journaled_with_the_address() -> None:
    # Arrange: the password given right from the attacker's address.
    carol = User.objects.create_user("carol", password=PASSWORD)
    device = totp_device_for(carol)
    client = Client(REMOTE_ADDR=ATTACKER)
    client.post(reverse("login"), {"login": "carol", "password": PASSWORD})
    # Act
    response = client.post(reverse("login_second_factor"), {"token": _wrong(totp_code(device))})
    # Assert: refused, and one journal row with when and from where.
    assert response.status_code == 200
    (row,) = _failures(carol)
    assert row.actor_label == ATTACKER
    assert row.extra_data["ip_address"] == ATTACKER
    assert row.extra_data["where"] == "login"
    assert row.occurred_at is not None
    assert ATTACKER in row.message


def test_the_right_code_at_the_login_journals_no_failure() -> None:
    carol = User.objects.create_user("carol", password=PASSWORD)
    device = totp_device_for(carol)
    client = Client(REMOTE_ADDR=ATTACKER)
    client.post(reverse("login"), {"login": "carol", "password": PASSWORD})
    # Act
    response = client.post(reverse("login_second_factor"), {"token": totp_code(device)})
    # Assert
    assert response.status_code == 302
    assert _failures(carol) == []


def test_a_wrong_code_at_the_admin_login_is_journaled_with_the_address(staff: User) -> None:
    device = totp_device_for(staff)
    client = Client(REMOTE_ADDR=ATTACKER)
    data = {"username": "staff", "password": "staff-password-1", "next": "/admin/"}
    # Act: the right password, a wrong code.
    response = client.post("/admin/login/", {**data, "otp_token": _wrong(totp_code(device))})
    # Assert: refused and journaled.
    assert response.status_code == 200
    (row,) = _failures(staff)
    assert row.actor_label == ATTACKER
    assert row.extra_data["ip_address"] == ATTACKER
    assert row.extra_data["where"] == "admin login"
    # A wrong password with a code is a failed login (axes'), not a second-factor failure.
    client.post("/admin/login/", {**data, "password": "wrong", "otp_token": totp_code(device)})
    assert len(_failures(staff)) == 1
    # The right code (once django-otp's delay after a wrong one is over)
    # lets staff in and journals no failure.
    device.refresh_from_db()
    device.throttle_reset()
    done = client.post("/admin/login/", {**data, "otp_token": totp_code(device)})
    assert done.status_code == 302
    assert len(_failures(staff)) == 1
