"""The broker accounts page: a user's own accounts and adding a paper one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_page_requires_login() -> None:
    response = Client().get(reverse("broker_accounts"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_add_creates_paper_account_for_user(alice: User, carol_client: Client) -> None:
    # Act
    response = carol_client.post(
        reverse("broker_accounts"),
        {"name": "Eval 50K", "kind": "evaluation", "firm": "Topstep", "balance": "50000"},
    )
    # Assert
    assert response["Location"] == reverse("broker_accounts")
    account = BrokerAccount.objects.get(owner=alice)
    assert (account.name, account.platform, account.kind, account.firm) == (
        "Eval 50K",
        "paper",
        "evaluation",
        "Topstep",
    )
    assert account.starting_balance == account.balance == Decimal(50_000)
    assert b"Eval 50K" in carol_client.get(reverse("broker_accounts")).content


def test_add_when_name_taken_then_error_and_nothing_added(
    alice: User, carol_client: Client
) -> None:
    broker_account_create(owner=alice, name="Lead", balance=Decimal(1000))
    response = carol_client.post(
        reverse("broker_accounts"), {"name": "Lead", "kind": "personal", "balance": "5"}
    )
    assert response.status_code == 200
    assert b"already have an account with this name" in response.content
    assert BrokerAccount.objects.filter(owner=alice).count() == 1


def test_add_when_negative_balance_then_refused(alice: User, carol_client: Client) -> None:
    response = carol_client.post(
        reverse("broker_accounts"), {"name": "X", "kind": "personal", "balance": "-1"}
    )
    assert response.status_code == 200
    assert not BrokerAccount.objects.filter(owner=alice).exists()


def test_same_name_as_another_users_account_is_fine(
    alice: User, bob: User, carol_client: Client
) -> None:
    broker_account_create(owner=bob, name="Lead", balance=Decimal(1000))
    response = carol_client.post(
        reverse("broker_accounts"), {"name": "Lead", "kind": "personal", "balance": "5"}
    )
    assert response.status_code == 302


def test_page_lists_only_own_accounts(alice: User, bob: User, carol_client: Client) -> None:
    broker_account_create(owner=alice, name="Alice Lead", balance=Decimal(1000))
    broker_account_create(owner=bob, name="Bob Secret Funded", balance=Decimal(1000))
    body = carol_client.get(reverse("broker_accounts")).content
    assert b"Alice Lead" in body
    assert b"Bob Secret Funded" not in body
