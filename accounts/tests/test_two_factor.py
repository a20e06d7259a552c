"""Any user turns the second factor on and off on the profile
(/profile/two-factor/), and the login asks for its code once it is on."""

from __future__ import annotations

import base64

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from journal.models import EventType, JournalEntry
from tests.second_factor import totp_code, totp_device_for

pytestmark = pytest.mark.django_db
PASSWORD = "carol-password-1"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts logins per IP in the cache; every test client is 127.0.0.1.
    cache.clear()


@pytest.fixture
def carol() -> User:
    return User.objects.create_user("carol", password=PASSWORD)


@pytest.fixture
def carol_client(carol: User) -> Client:
    client = Client()
    client.force_login(carol)
    return client


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _set_up(client: Client) -> TOTPDevice:
    response = client.post(reverse("two_factor_setup"))
    assert response.status_code == 302
    return TOTPDevice.objects.get(confirmed=False)


def _second_factor_rows(user: User) -> list[str]:
    return list(
        JournalEntry.objects.filter(
            owner_id=user.pk,
            event_type__in=[EventType.SECOND_FACTOR_ENABLED, EventType.SECOND_FACTOR_DISABLED],
        )
        .order_by("pk")
        .values_list("event_type", flat=True)
    )


def test_the_profile_links_to_the_set_up(carol_client: Client) -> None:
    page = carol_client.get(reverse("profile"))
    assert "Two-factor authentication" in page.text
    assert reverse("two_factor") in page.text


def test_set_up_shows_the_key_and_a_qr_code_and_does_not_count_yet(
    carol: User, carol_client: Client
) -> None:
    # Act
    device = _set_up(carol_client)
    page = carol_client.get(reverse("two_factor"))
    # Assert: the key in base32 and an inline SVG QR code of the otpauth URL, no script.
    secret = base64.b32encode(device.bin_key).decode()
    assert f'data-testid="two-factor-secret">{secret}</code>' in page.text
    qr = page.text.split('data-testid="two-factor-qr">')[1].split("</div>")[0]
    assert qr.strip().startswith("<svg") and "<script" not in page.text
    assert device.config_url.startswith("otpauth://totp/Copytrade%3Acarol?secret=" + secret)
    # ... and it counts nowhere: the login asks for no code.
    response = Client().post(reverse("login"), {"login": "carol", "password": PASSWORD})
    assert response["Location"] == reverse("dashboard")
    assert _second_factor_rows(carol) == []


def test_confirming_with_a_wrong_code_is_refused(carol: User, carol_client: Client) -> None:
    device = _set_up(carol_client)
    # Act
    response = carol_client.post(
        reverse("two_factor_confirm"), {"token": _wrong(totp_code(device))}
    )
    # Assert
    assert response.status_code == 400
    assert "Wrong or expired code." in response.text
    device.refresh_from_db()
    assert not device.confirmed
    assert device.throttling_failure_count == 1  # kept although the change was refused
    assert _second_factor_rows(carol) == []


def test_the_right_code_confirms_it_and_journals(carol: User, carol_client: Client) -> None:
    device = _set_up(carol_client)
    # Act
    response = carol_client.post(reverse("two_factor_confirm"), {"token": totp_code(device)})
    # Assert
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    entry = JournalEntry.objects.get(owner_id=carol.pk, event_type=EventType.SECOND_FACTOR_ENABLED)
    assert entry.actor_label == "carol"
    assert entry.message == "Two-factor authentication turned on (authenticator app)"
    assert entry.extra_data == {"device_id": device.pk, "ip": "127.0.0.1"}
    page = carol_client.get(reverse("two_factor"))
    assert 'data-testid="two-factor-state">On' in page.text
    assert "two-factor-secret" not in page.text  # the key is never shown again


def test_turning_it_off_needs_a_current_code(carol: User, carol_client: Client) -> None:
    device = totp_device_for(carol)
    url = reverse("two_factor_disable")
    # Act / Assert: no code, then a wrong one, keep it on.
    assert carol_client.post(url, {}).status_code == 400
    assert carol_client.post(url, {"token": _wrong(totp_code(device))}).status_code == 400
    assert TOTPDevice.objects.filter(user=carol, confirmed=True).exists()
    assert _second_factor_rows(carol) == []


def test_turning_it_off_with_the_code_removes_it_and_journals(
    carol: User, carol_client: Client
) -> None:
    device = totp_device_for(carol)
    # Act
    response = carol_client.post(reverse("two_factor_disable"), {"token": totp_code(device)})
    # Assert
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert _second_factor_rows(carol) == [EventType.SECOND_FACTOR_DISABLED]
    entry = JournalEntry.objects.get(owner_id=carol.pk)
    assert (entry.actor_label, entry.extra_data["ip"]) == ("carol", "127.0.0.1")


def test_a_code_is_accepted_once(carol: User, carol_client: Client) -> None:
    # Confirm with this step's code, then try to turn it off with the same code.
    device = _set_up(carol_client)
    code = totp_code(device)
    carol_client.post(reverse("two_factor_confirm"), {"token": code})
    response = carol_client.post(reverse("two_factor_disable"), {"token": code})
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=carol, confirmed=True).exists()


def test_login_of_a_user_with_the_second_factor_on_asks_for_the_code(carol: User) -> None:
    device = totp_device_for(carol)
    client = Client()
    # Act: the password is right.
    response = client.post(reverse("login"), {"login": "carol", "password": PASSWORD})
    # Assert: not logged in yet; the code page is next.
    assert response["Location"] == reverse("login_second_factor")
    assert client.get(reverse("profile")).status_code == 302
    page = client.get(reverse("login_second_factor"))
    assert 'name="token"' in page.text
    # Act: the current code.
    done = client.post(reverse("login_second_factor"), {"token": totp_code(device)})
    # Assert
    assert done["Location"] == reverse("dashboard")
    assert client.get(reverse("profile")).status_code == 200


def test_login_with_a_wrong_code_is_refused(carol: User) -> None:
    device = totp_device_for(carol)
    client = Client()
    client.post(reverse("login"), {"login": "carol", "password": PASSWORD})
    # Act
    response = client.post(reverse("login_second_factor"), {"token": _wrong(totp_code(device))})
    # Assert: the code page again with the reason; still logged out.
    assert response.status_code == 200
    assert "Wrong or expired code." in response.text
    assert client.get(reverse("profile")).status_code == 302


def test_the_code_page_is_not_a_way_in_without_the_password(carol: User) -> None:
    device = totp_device_for(carol)
    client = Client()
    response = client.post(reverse("login_second_factor"), {"token": totp_code(device)})
    assert response["Location"] == reverse("login")
    assert client.get(reverse("profile")).status_code == 302
