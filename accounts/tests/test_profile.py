"""The profile page: name, e-mail addresses and password (allauth's pages)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.adapter import AccountAdapter
from accounts.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "corn-futures-2026"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()  # allauth's per-user limits live in the cache


@pytest.fixture
def carol() -> User:
    """A signed-up user with a confirmed address."""
    user = User.objects.create_user("carol", email="carol@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


@pytest.fixture
def carol_client(carol: User) -> Client:
    client = Client()
    client.force_login(carol)
    return client


def test_profile_requires_login() -> None:
    response = Client().get(reverse("profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_profile_shows_username_address_and_links(carol_client: Client) -> None:
    page = carol_client.get(reverse("profile"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="username">carol<' in body
    assert "carol@example.com" in body
    assert "Confirmed" in body
    assert reverse("account_email") in body
    assert reverse("account_change_password") in body


def test_profile_edit_saves_name(carol: User, carol_client: Client) -> None:
    # Act
    response = carol_client.post(reverse("profile"), {"first_name": "Carol", "last_name": "Ng"})
    # Assert
    assert response["Location"] == reverse("profile")
    carol.refresh_from_db()
    assert (carol.first_name, carol.last_name) == ("Carol", "Ng")
    assert b"Carol Ng" in carol_client.get(reverse("profile")).content


def test_profile_edit_touches_only_own_user(carol: User, carol_client: Client) -> None:
    dave = User.objects.create_user("dave", password=PASSWORD, first_name="Dave")
    carol_client.post(reverse("profile"), {"first_name": "X", "last_name": "Y", "pk": dave.pk})
    dave.refresh_from_db()
    assert dave.first_name == "Dave"


def test_password_change_saves_new_password(carol: User, carol_client: Client) -> None:
    new = "soybean-spread-2027"
    response = carol_client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.check_password(new)


def test_new_address_is_mailed_a_link_and_unconfirmed_until_then(carol_client: Client) -> None:
    # Act: add a second address on allauth's e-mail page.
    response = carol_client.post(
        reverse("account_email"), {"action_add": "", "email": "carol@work.example.com"}
    )
    # Assert
    assert response.status_code == 302
    added = EmailAddress.objects.get(email="carol@work.example.com")
    assert not added.verified
    assert mail.outbox[-1].to == ["carol@work.example.com"]


def test_last_address_cannot_be_removed(carol: User) -> None:
    # Sign-up requires an address and password reset mails it.
    only = EmailAddress.objects.get(user=carol)
    assert not AccountAdapter().can_delete_email(only)
    second = EmailAddress.objects.create(user=carol, email="c2@example.com", verified=True)
    assert AccountAdapter().can_delete_email(second)
    assert not AccountAdapter().can_delete_email(only)  # still the primary


def test_email_page_is_styled_like_the_site(carol_client: Client) -> None:
    page = carol_client.get(reverse("account_email"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "css/app.css" in body
    assert 'class="card account manage"' in body
    assert reverse("profile") in body  # the site's header and nav
