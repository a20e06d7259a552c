"""Sign-up with a confirmed e-mail address, login and password reset
(django-allauth), on the real database and Django's in-memory outbox."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "corn-futures-2026"
LINK = re.compile(r"http://testserver(/\S+)")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts sign-ups, logins and mails per IP in the cache; every
    # test client is 127.0.0.1, so one test's requests must not throttle the next.
    cache.clear()


def _sign_up(client: Client, username: str = "carol", email: str = "carol@example.com"):
    data = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("account_signup"), data)


def _log_in(client: Client, login: str = "carol", password: str = PASSWORD):
    return client.post(reverse("login"), {"login": login, "password": password})


def _link(message: mail.EmailMessage) -> str:
    """The one site link in a mail, as a path."""
    match = LINK.search(message.body)
    assert match is not None, message.body
    return match.group(1)


def _confirm(client: Client, message: mail.EmailMessage) -> None:
    # The link opens a page with a Confirm button: confirming is a POST.
    url = _link(message)
    page = client.get(url)
    assert page.status_code == 200
    assert b"carol@example.com" in page.content
    client.post(url)


def test_sign_up_creates_user_with_unconfirmed_address_and_mails_link() -> None:
    # Act
    response = _sign_up(Client())
    # Assert
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(username="carol")
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == ("carol@example.com", False, True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]
    assert "/accounts/confirm-email/" in _link(mail.outbox[0])


def test_sign_up_when_done_then_not_logged_in_yet() -> None:
    client = Client()
    _sign_up(client)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_before_confirmation_is_refused_with_clear_message() -> None:
    # Arrange
    _sign_up(Client())
    mail.outbox.clear()
    client = Client()
    # Act
    response = _log_in(client)
    # Assert: sent to the "confirm your address first" page, not logged in.
    assert response["Location"] == reverse("account_email_verification_sent")
    page = client.get(response["Location"])
    assert b"You cannot log in until your e-mail address is confirmed" in page.content
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302
    # The sign-up's link went out moments ago: allauth's cooldown (one
    # confirmation mail per address per 3 minutes) sends no second one...
    assert len(mail.outbox) == 0
    # ...and once it has passed, a refused login mails a fresh link.
    cache.clear()
    _log_in(Client())
    assert len(mail.outbox) == 1
    assert "/accounts/confirm-email/" in _link(mail.outbox[0])


def test_confirmation_link_confirms_then_login_reaches_dashboard() -> None:
    # Arrange
    _sign_up(Client())
    client = Client()
    # Act
    _confirm(client, mail.outbox[0])
    response = _log_in(client)
    # Assert
    assert EmailAddress.objects.get(email="carol@example.com").verified
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert b"Add your first broker account" in page.content


def test_confirmed_user_logs_in_with_email_too() -> None:
    _sign_up(Client())
    client = Client()
    _confirm(client, mail.outbox[0])
    response = _log_in(client, login="carol@example.com")
    assert response["Location"] == reverse("dashboard")


def test_confirmation_link_when_tampered_then_nothing_confirmed() -> None:
    _sign_up(Client())
    client = Client()
    url = _link(mail.outbox[0])
    bad = url.rstrip("/")[:-3] + "xyz/"
    page = client.get(bad)
    client.post(bad)
    assert b"expired or is invalid" in page.content
    assert not EmailAddress.objects.get(email="carol@example.com").verified


def test_sign_up_without_email_is_refused() -> None:
    response = _sign_up(Client(), email="")
    assert response.status_code == 200
    assert not User.objects.filter(username="carol").exists()


def test_sign_up_with_taken_email_creates_no_second_user() -> None:
    # Arrange
    _sign_up(Client())
    cache.clear()  # past the mail cooldown for the address
    # Act: someone else tries the same address (any case).
    _sign_up(Client(), username="mallory", email="Carol@Example.com")
    # Assert: no account for mallory; the address's owner is told instead
    # (the page does not reveal that the address is taken).
    assert not User.objects.filter(username="mallory").exists()
    assert EmailAddress.objects.filter(email__iexact="carol@example.com").count() == 1
    assert len(mail.outbox) == 2
    assert mail.outbox[-1].to == ["carol@example.com"]
    assert "already" in mail.outbox[-1].body


def test_sign_up_when_closed_then_no_user(settings) -> None:
    settings.ACCOUNT_SIGNUP_ENABLED = False
    response = _sign_up(Client())
    assert not User.objects.filter(username="carol").exists()
    assert b"closed" in response.content.lower()


def test_operator_made_user_without_address_logs_in_by_username() -> None:
    # The demo and createsuperuser users have no address: nothing to confirm.
    User.objects.create_user("demo", password=PASSWORD)
    client = Client()
    response = _log_in(client, login="demo")
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_with_wrong_password_is_refused() -> None:
    User.objects.create_user("demo", password=PASSWORD)
    client = Client()
    response = _log_in(client, login="demo", password="wrong-password")
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_login_page_keeps_its_address_and_field_ids() -> None:
    page = Client().get("/login/")
    assert page.status_code == 200
    assert b'id="id_username"' in page.content
    assert b'id="id_password"' in page.content
    assert reverse("account_signup").encode() in page.content
    assert reverse("account_reset_password").encode() in page.content


def test_logout_is_a_post_to_the_old_address() -> None:
    User.objects.create_user("demo", password=PASSWORD)
    client = Client()
    _log_in(client, login="demo")
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_link_that_sets_new_password() -> None:
    # Arrange: a confirmed user.
    _sign_up(Client())
    client = Client()
    _confirm(client, mail.outbox[0])
    mail.outbox.clear()
    # Act: ask for a reset, follow the mailed link, set a new password.
    response = client.post(reverse("account_reset_password"), {"email": "carol@example.com"})
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]
    # The key moves from the link into the session, then to a set-password form.
    form_page = client.get(_link(mail.outbox[0]), follow=True)
    assert form_page.status_code == 200
    assert form_page.redirect_chain
    form_url = form_page.redirect_chain[-1][0]
    new = "soybean-spread-2027"
    done = client.post(form_url, {"password1": new, "password2": new})
    # Assert: the new password logs in, the old one no longer does.
    assert done["Location"] == reverse("account_reset_password_from_key_done")
    assert User.objects.get(username="carol").check_password(new)
    assert _log_in(Client(), password=new)["Location"] == reverse("dashboard")
    assert _log_in(Client(), password=PASSWORD).status_code == 200


def test_password_reset_for_unknown_address_reveals_nothing_and_sends_no_link() -> None:
    response = Client().post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("account_reset_password_done")
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)
