"""Emergency flatten in the dashboard: a confirmation, then the press; per
group and for all of the user's groups; incidents on the group page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.models import CopyGroup, EngineWorkerHeartbeat, FlattenRequest, Incident
from routing.services.copy_groups import copy_group_create

pytestmark = pytest.mark.django_db


def _client(user: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _level(group: CopyGroup) -> int:
    group.refresh_from_db()
    return group.level


def test_confirmation_says_what_happens_and_changes_nothing(route: Route) -> None:
    Position.objects.create(account=route.large, symbol="MNQH6", qty=12, avg_price=Decimal(21000))
    url = reverse("group_flatten", args=[route.group.pk])

    page = _client(route.owner).get(url).content.decode()

    assert "Emergency flatten Evals?" in page
    assert "Refuses new entries at once" in page
    assert "Cancels working follower orders" in page
    assert "Closes every follower position at market" in page
    assert "+12 MNQH6 @ 21000" in page
    assert 'data-testid="flatten-now"' in page
    assert FlattenRequest.objects.count() == 0
    assert _level(route.group) == 3


def _engine_running() -> None:
    now = timezone.now()
    EngineWorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, started_at=now, seen_at=now
    )


def test_press_locks_queues_and_journals_then_twice_is_safe(route: Route) -> None:
    _engine_running()
    client = _client(route.owner)
    url = reverse("group_flatten", args=[route.group.pk])

    response = client.post(url, follow=True)
    assert response.redirect_chain[0] == (reverse("group_detail", args=[route.group.pk]), 302)
    page = response.content.decode()
    assert "new entries are refused (level 4 Locked)" in page
    # The group page says it is under way, until the outcome replaces it.
    assert 'class="flatten-status in_progress"' in page
    assert "of Evals (by alice): in progress; entries are refused" in page
    again = client.post(url, follow=True)
    assert "already under way" in again.content.decode()

    request = FlattenRequest.objects.get()
    assert (request.status, request.group, request.requested_by) == (
        "pending",
        route.group,
        "alice",
    )
    assert _level(route.group) == 4
    presses = JournalEntry.objects.filter(event_type=EventType.FLATTEN_REQUESTED)
    assert presses.count() == 2
    assert set(presses.values_list("actor_label", flat=True)) == {"alice"}
    # The confirmation now says one is under way.
    page = client.get(url).content.decode()
    assert 'data-testid="flatten-pending"' in page


def test_press_without_a_running_engine_says_pending_at_once(route: Route) -> None:
    # No engine heartbeat: the engine is down (never started, or stopped).
    client = _client(route.owner)

    response = client.post(reverse("group_flatten", args=[route.group.pk]), follow=True)

    page = response.content.decode()
    assert "pending — the copy engine is not running (down)" in page
    assert 'class="flatten-status waiting"' in page
    assert "pending; the copy engine is not running (down)" in page
    # The lock is not waiting for the engine: entries are refused now.
    assert _level(route.group) == 4
    snapshot = client.get(f"/api/groups/{route.group.pk}/snapshot/").json()
    assert snapshot["flatten"]["state"] == "waiting"


def test_dashboard_shows_the_latest_flatten_of_all_groups(route: Route) -> None:
    second = copy_group_create(
        owner=route.owner,
        name="Second",
        leader=broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000)),
    )
    assert second.pk
    FlattenRequest.objects.create(
        owner=route.owner,
        requested_by="alice",
        status=FlattenRequest.Status.FAILED,
        detail="Funded 150K NOT flat: still holds +12 MNQH6",
        finished_at=timezone.now(),
    )

    page = _client(route.owner).get(reverse("dashboard")).content.decode()

    assert 'class="flatten-status failed"' in page
    assert "of all your groups (by alice) FAILED: Funded 150K NOT flat" in page


def test_other_users_get_404_and_nothing_changes(route: Route, bob: User) -> None:
    client = _client(bob)
    url = reverse("group_flatten", args=[route.group.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert FlattenRequest.objects.count() == 0
    assert _level(route.group) == 3


def test_anonymous_is_sent_to_login(route: Route) -> None:
    response = Client().post(reverse("flatten_all"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert FlattenRequest.objects.count() == 0


def test_flatten_all_from_the_dashboard(route: Route) -> None:
    leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    other = copy_group_create(owner=route.owner, name="PAs", leader=leader)
    client = _client(route.owner)

    dashboard = client.get(reverse("dashboard")).content.decode()
    assert reverse("flatten_all") in dashboard
    confirm = client.get(reverse("flatten_all")).content.decode()
    assert "Emergency flatten all your groups?" in confirm
    assert "2 groups go" in confirm

    response = client.post(reverse("flatten_all"))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    request = FlattenRequest.objects.get()
    assert request.group is None
    assert (_level(route.group), _level(other)) == (4, 4)


def test_flatten_all_without_groups_says_so(bob: User) -> None:
    client = _client(bob)
    assert "nothing to flatten" in client.get(reverse("flatten_all")).content.decode()
    response = client.post(reverse("flatten_all"), follow=True)
    assert "you have no copy groups to flatten" in response.content.decode()
    assert FlattenRequest.objects.count() == 0


def test_group_page_has_the_button_and_lists_incidents(route: Route) -> None:
    Incident.objects.create(
        group=route.group,
        kind=Incident.Kind.SLIPPAGE,
        detail="slipped 6 ticks > max 4 on MNQH6: Eval 25K buy 2 @ avg 21001.5 vs leader 21000",
        account=route.small,
        occurred_at=timezone.now(),
    )
    page = _client(route.owner).get(reverse("group_detail", args=[route.group.pk])).content
    text = page.decode()
    assert reverse("group_flatten", args=[route.group.pk]) in text
    assert 'data-testid="incident"' in text
    assert "slipped 6 ticks &gt; max 4 on MNQH6" in text
    assert "Slippage" in text
