"""The group page's webhook settings: enable, rotate, disable; the secret is
shown once; owners only."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.models import GroupWebhook
from routing.webhooks.settings import webhook_secret_matches
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(route: Route) -> Client:
    return reauthenticated_client(route.owner)


def _secret_of(page: str) -> str:
    marker = 'data-testid="webhook-secret">'
    start = page.index(marker) + len(marker)
    return page[start : page.index("</code>", start)]


def test_enable_shows_the_secret_once_then_never(route: Route, alice_client: Client) -> None:
    # Act
    response = alice_client.post(reverse("webhook_enable", args=[route.group.pk]))
    # Assert: the answer holds the secret, the URL and the alert template.
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    secret = _secret_of(page)
    webhook = GroupWebhook.objects.get(group=route.group)
    assert webhook_secret_matches(webhook, secret)
    assert f"/api/v1/webhooks/tradingview/{webhook.token}/" in page
    assert "{{strategy.order.action}}" in page and "{{ticker}}" in page
    assert "<script" not in page.split("<main", 1)[-1].split("</main>")[0]
    # The group page shows the URL, never the secret.
    group_page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert webhook.token in group_page
    assert secret not in group_page
    # Enabling again shows no secret (it is not kept).
    again = alice_client.post(reverse("webhook_enable", args=[route.group.pk]))
    assert again.status_code == 302
    assert GroupWebhook.objects.get(group=route.group).secret_hash == webhook.secret_hash
    entries = JournalEntry.objects.filter(event_type=EventType.COPY_GROUP_CHANGED)
    assert all(secret not in e.message + json.dumps(e.extra_data) for e in entries)


def test_rotate_shows_a_new_secret_and_the_old_stops_matching(
    route: Route, alice_client: Client
) -> None:
    first = _secret_of(
        alice_client.post(reverse("webhook_enable", args=[route.group.pk])).content.decode()
    )
    response = alice_client.post(reverse("webhook_rotate", args=[route.group.pk]))
    assert response.status_code == 200
    second = _secret_of(response.content.decode())
    webhook = GroupWebhook.objects.get(group=route.group)
    assert second != first
    assert webhook_secret_matches(webhook, second)
    assert not webhook_secret_matches(webhook, first)


def test_disable_then_enable_keeps_address_and_secret(route: Route, alice_client: Client) -> None:
    alice_client.post(reverse("webhook_enable", args=[route.group.pk]))
    token = GroupWebhook.objects.get(group=route.group).token
    assert alice_client.post(reverse("webhook_disable", args=[route.group.pk])).status_code == 302
    assert GroupWebhook.objects.get(group=route.group).enabled is False
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert 'data-testid="webhook-state">Off' in page
    alice_client.post(reverse("webhook_enable", args=[route.group.pk]))
    webhook = GroupWebhook.objects.get(group=route.group)
    assert (webhook.enabled, webhook.token) == (True, token)


def test_rotate_without_webhook_is_404(route: Route, alice_client: Client) -> None:
    assert alice_client.post(reverse("webhook_rotate", args=[route.group.pk])).status_code == 404


def test_other_users_get_404_and_change_nothing(route: Route, bob: User) -> None:
    bob_client = reauthenticated_client(bob)
    for name in ("webhook_enable", "webhook_rotate", "webhook_disable"):
        assert bob_client.post(reverse(name, args=[route.group.pk])).status_code == 404
    assert not GroupWebhook.objects.exists()


def test_settings_need_post(route: Route, alice_client: Client) -> None:
    assert alice_client.get(reverse("webhook_enable", args=[route.group.pk])).status_code == 405
    assert not GroupWebhook.objects.exists()
