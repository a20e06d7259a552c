"""Quarantines and desyncs on the group page, and their actions (release, sync, untrack)."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from conftest import Route
from journal.models import EventType, JournalEntry
from routing.models import CopyOrder, Desync, ExpectedPosition, Quarantine
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db


def _client(user: AbstractBaseUser) -> Client:
    # Recently re-authenticated: these tests are about the actions themselves
    # (accounts.reauth's tests cover the confirmation).
    return reauthenticated_client(user)


@pytest.fixture
def quarantine(route: Route) -> Quarantine:
    return Quarantine.objects.create(
        follower=route.large_follower,
        symbol="MNQH6",
        reason="entry rejected: RISK_REJECT: margin",
        trading_date=date(2026, 3, 3),
    )


@pytest.fixture
def desync(route: Route) -> Desync:
    ExpectedPosition.objects.create(account=route.large, symbol="MNQH6", qty=12)
    return Desync.objects.create(
        follower=route.large_follower, symbol="MNQH6", expected=12, actual=0
    )


def test_group_page_lists_quarantines_and_desyncs_with_actions(
    route: Route, quarantine: Quarantine, desync: Desync
) -> None:
    page = _client(route.owner).get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "RISK_REJECT: margin" in page
    assert reverse("quarantine_release", args=[route.group.pk, quarantine.pk]) in page
    assert reverse("desync_action", args=[route.group.pk, desync.pk, "sync"]) in page
    assert reverse("desync_action", args=[route.group.pk, desync.pk, "untrack"]) in page
    assert "+12" in page


def test_release_is_journaled_with_the_user_and_safe_twice(
    route: Route, quarantine: Quarantine
) -> None:
    url = reverse("quarantine_release", args=[route.group.pk, quarantine.pk])
    client = _client(route.owner)
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    quarantine.refresh_from_db()
    assert quarantine.released_at is not None and quarantine.released_by == "alice"
    entries = JournalEntry.objects.filter(event_type=EventType.QUARANTINE_RELEASED)
    assert [(e.actor_user_id, e.actor_label) for e in entries] == [(route.owner.pk, "alice")]


def test_sync_queues_the_order_for_the_difference(route: Route, desync: Desync) -> None:
    client = _client(route.owner)
    client.post(reverse("desync_action", args=[route.group.pk, desync.pk, "sync"]))
    order = CopyOrder.objects.get(kind="sync")
    assert (order.side, order.qty, order.status, order.account_id) == (
        "buy",
        12,
        "pending",
        route.large.pk,
    )
    # Pressing again on the synced desync sends nothing more.
    response = client.post(
        reverse("desync_action", args=[route.group.pk, desync.pk, "sync"]), follow=True
    )
    assert "already synced" in response.content.decode()
    assert CopyOrder.objects.filter(kind="sync").count() == 1


def test_untrack_moves_the_difference_to_untracked(route: Route, desync: Desync) -> None:
    _client(route.owner).post(reverse("desync_action", args=[route.group.pk, desync.pk, "untrack"]))
    row = ExpectedPosition.objects.get(account=route.large, symbol="MNQH6")
    assert (row.qty, row.untracked) == (12, -12)
    assert JournalEntry.objects.filter(event_type=EventType.DESYNC_UNTRACKED).count() == 1


def test_other_users_get_404_and_nothing_changes(
    route: Route, bob: AbstractBaseUser, quarantine: Quarantine, desync: Desync
) -> None:
    client = _client(bob)
    release = reverse("quarantine_release", args=[route.group.pk, quarantine.pk])
    sync = reverse("desync_action", args=[route.group.pk, desync.pk, "sync"])
    assert client.post(release).status_code == 404
    assert client.post(sync).status_code == 404
    assert not CopyOrder.objects.exists()
    quarantine.refresh_from_db()
    assert quarantine.released_at is None


def test_unknown_action_is_404(route: Route, desync: Desync) -> None:
    url = reverse("desync_action", args=[route.group.pk, desync.pk, "delete"])
    assert _client(route.owner).post(url).status_code == 404
