"""The dashboard of a user with no copy groups: no demo data, a first step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from routing.models import CopyGroup

pytestmark = pytest.mark.django_db


def _dashboard(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_new_user_sees_add_first_broker_account(bob: User) -> None:
    body = _dashboard(bob)
    assert 'data-testid="first-step"' in body
    assert "Add your first broker account" in body
    assert reverse("broker_accounts") in body


def test_new_user_gets_no_demo_data(bob: User) -> None:
    _dashboard(bob)
    assert not BrokerAccount.objects.filter(owner=bob).exists()
    assert not CopyGroup.objects.filter(owner=bob).exists()


def test_user_with_accounts_but_no_group_is_told_to_create_one(bob: User) -> None:
    broker_account_create(owner=bob, name="Lead", balance=Decimal(1000))
    body = _dashboard(bob)
    assert "Add your first broker account" not in body
    step = body[body.index('data-testid="first-step"') :]
    assert step.index("Create a copy group") < step.index("</li>")
    assert reverse("group_create") in step


def test_another_users_groups_and_accounts_are_never_shown(route: Route, bob: User) -> None:
    # Arrange: alice (route.owner) has a group with three accounts; bob none.
    # Act
    body = _dashboard(bob)
    # Assert: bob sees his own first step, nothing of alice's.
    assert "Add your first broker account" in body
    # ("Lead", the leader's name, is a word of the page itself: "Leader event".)
    for name in (route.group.name, route.small.name, route.large.name):
        assert name not in body


def test_new_group_form_without_accounts_links_to_adding_one(bob: User) -> None:
    client = Client()
    client.force_login(bob)
    body = client.get(reverse("group_create")).content.decode()
    assert reverse("broker_accounts") in body


def test_new_users_journal_shows_nothing_of_another_user(route: Route, bob: User) -> None:
    # Arrange: alice's group creation and follower adds are journaled.
    client = Client()
    client.force_login(route.owner)
    assert route.group.name in client.get(reverse("journal")).content.decode()
    # Act
    client.force_login(bob)
    body = client.get(reverse("journal")).content.decode()
    # Assert
    # ("Lead", the leader's name, is a word of the page itself: "Leader event".)
    for name in (route.group.name, route.small.name, route.large.name):
        assert name not in body
