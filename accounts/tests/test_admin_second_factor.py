"""The Django admin needs a verified second factor (copytrade.admin_site):
no device, a device not used in this session, or a half set-up device keeps
staff out; the admin's login with the current code lets them in."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.second_factor import totp_code, totp_device_for

pytestmark = pytest.mark.django_db
PASSWORD = "staff-password-1"  # the root conftest's staff fixture
ADMIN = "/admin/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts logins per IP in the cache; every test client is 127.0.0.1.
    cache.clear()


def _admin_login(client: Client, token: str = "", **extra: str):
    data = {"username": "staff", "password": PASSWORD, "otp_token": token, "next": ADMIN}
    return client.post(ADMIN_LOGIN, data | extra)


def _logged_in_with_password_only(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_a_device_is_refused_and_told_where_to_set_one_up(staff: User) -> None:
    # Arrange: logged in with the password (as /login/ leaves a user with no device).
    client = _logged_in_with_password_only(staff)
    # Act
    response = client.get(ADMIN)
    # Assert: sent to the admin's login, which names the set-up page.
    assert response.status_code == 302
    assert response["Location"].startswith(ADMIN_LOGIN)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'id="second-factor-needed"' in page.text
    assert "this account has none" in page.text
    assert reverse("two_factor") in page.text
    # The admin's login with the password alone says the same and lets nobody in.
    refused = _admin_login(Client())
    assert refused.status_code == 200
    assert "the admin needs one" in refused.text
    assert "/profile/two-factor/" in refused.text
    assert Client().get(reverse("admin:index")).status_code == 302


def test_staff_with_a_device_not_used_in_this_session_is_refused(staff: User) -> None:
    # Arrange: a confirmed device, but the session was not verified by it.
    totp_device_for(staff)
    client = _logged_in_with_password_only(staff)
    # Act
    response = client.get(reverse("admin:pilots_plan_changelist"))
    # Assert
    assert response.status_code == 302
    assert response["Location"].startswith(ADMIN_LOGIN)
    page = client.get(ADMIN_LOGIN)
    assert "needs the code from your" in page.text
    assert 'name="otp_token"' in page.text


def test_the_admin_login_with_the_current_code_lets_staff_in(staff: User) -> None:
    device = totp_device_for(staff)
    client = Client()
    # Act
    response = _admin_login(client, totp_code(device))
    # Assert
    assert response.status_code == 302, response.text[:2000]
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("admin:pilots_plan_changelist")).status_code == 200


def test_the_admin_login_refuses_a_missing_or_wrong_code(staff: User) -> None:
    device = totp_device_for(staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    client = Client()
    # Act / Assert: no code, then a wrong one.
    missing = _admin_login(client)
    assert missing.status_code == 200
    assert "Enter the 6-digit code from your authenticator app." in missing.text
    refused = _admin_login(client, wrong)
    assert refused.status_code == 200
    assert "Wrong or expired code." in refused.text
    assert client.get(ADMIN).status_code == 302


def test_a_device_still_being_set_up_does_not_open_the_admin(staff: User) -> None:
    # Arrange: an unconfirmed device; its own id is posted with its current code.
    pending = totp_device_for(staff, confirmed=False)
    client = Client()
    # Act
    response = _admin_login(client, totp_code(pending), otp_device=pending.persistent_id)
    # Assert
    assert response.status_code == 200
    assert "the admin needs one" in response.text
    assert client.get(ADMIN).status_code == 302


def test_a_login_at_login_with_the_code_opens_the_admin_too(staff: User) -> None:
    device = totp_device_for(staff)
    client = Client()
    # Act: the site's login, password then code.
    first = client.post(reverse("login"), {"login": "staff", "password": PASSWORD})
    assert first["Location"] == reverse("login_second_factor")
    client.post(reverse("login_second_factor"), {"token": totp_code(device)})
    # Assert: the session counts as verified.
    assert client.get(ADMIN).status_code == 200


def test_staff_without_a_second_factor_are_not_verified_by_a_password_login(staff: User) -> None:
    client = Client()
    response = client.post(reverse("login"), {"login": "staff", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(ADMIN).status_code == 302
