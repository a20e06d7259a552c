"""Dangerous route actions need a recent re-authentication (issue 14):
leaving level 4 Locked, resuming a paused route or follower, releasing a
symbol quarantine. Safety stops never do: pause, lower levels, lock, and
emergency flatten work with a login hours old.

allauth suspends a stale POST, asks to confirm, then replays it: the action
happens once the user confirmed, without being sent again.
"""

from __future__ import annotations

import time
from datetime import date
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from routing.engine.limits import RouteLevel
from routing.models import CopyGroup, FlattenRequest, Follower, Quarantine
from routing.services.group_rules import copy_group_pause, follower_pause
from routing.services.route_levels import route_level_set, route_lock
from tests.reauth import reauthenticated
from tests.second_factor import totp_code, totp_device_for

pytestmark = pytest.mark.django_db
PASSWORD = "alice-password-1"  # conftest's alice
REAUTH_URL = "/accounts/reauthenticate/"
HOURS_AGO = time.time() - 3 * 3600


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def stale_client(route: Route) -> Client:
    """Alice, logged in, whose last re-authentication is three hours old."""
    client = Client()
    client.force_login(route.owner)
    return reauthenticated(client, route.owner, at=HOURS_AGO)


@pytest.fixture
def quarantine(route: Route) -> Quarantine:
    return Quarantine.objects.create(
        follower=route.large_follower,
        symbol="MNQH6",
        reason="entry rejected: RISK_REJECT: margin",
        trading_date=date(2026, 3, 3),
    )


def _locked(route: Route) -> CopyGroup:
    route_lock(group=route.group, reason="slippage incident", actor_label="engine")
    return route.group


def _level(group: CopyGroup) -> int:
    group.refresh_from_db()
    return group.level


def _enabled(row: CopyGroup | Follower) -> bool:
    row.refresh_from_db()
    return row.enabled


def _to_reauth(path: str) -> str:
    return f"{REAUTH_URL}?{urlencode({'next': path})}"


def _unlock_form() -> dict[str, str]:
    return {"level": "3", "reason": "incident reviewed, broker fixed"}


# -- each dangerous action: refused when stale, done once re-authenticated -----------


def test_stale_leave_level_4_is_refused_then_replayed_after_the_password(
    route: Route, stale_client: Client
) -> None:
    group = _locked(route)
    url = reverse("group_level", args=[group.pk])

    refused = stale_client.post(url, _unlock_form())

    assert refused.status_code == 302 and refused["Location"] == _to_reauth(url)
    assert _level(group) == 4
    done = stale_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})
    assert done.status_code == 302 and done["Location"] == reverse("group_budget", args=[group.pk])
    assert _level(group) == 3
    row = JournalEntry.objects.get(
        event_type=EventType.ROUTE_LEVEL_CHANGED, group_id=group.pk, actor_user_id=route.owner.pk
    )
    assert "incident reviewed" in row.message + str(row.after)


def test_stale_resume_group_is_refused_then_replayed(route: Route, stale_client: Client) -> None:
    copy_group_pause(group=route.group, actor=route.owner)
    url = reverse("group_resume", args=[route.group.pk])

    refused = stale_client.post(url)

    assert refused["Location"] == _to_reauth(url)
    assert _enabled(route.group) is False
    stale_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})
    assert _enabled(route.group) is True


def test_stale_resume_follower_is_refused_then_replayed(route: Route, stale_client: Client) -> None:
    follower = route.large_follower
    follower_pause(follower=follower, actor=route.owner)
    url = reverse("group_follower_resume", args=[route.group.pk, follower.pk])

    refused = stale_client.post(url)

    assert refused["Location"] == _to_reauth(url)
    assert _enabled(follower) is False
    stale_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})
    assert _enabled(follower) is True


def test_stale_quarantine_release_is_refused_then_replayed(
    route: Route, stale_client: Client, quarantine: Quarantine
) -> None:
    url = reverse("quarantine_release", args=[route.group.pk, quarantine.pk])

    refused = stale_client.post(url)

    assert refused["Location"] == _to_reauth(url)
    quarantine.refresh_from_db()
    assert quarantine.released_at is None
    stale_client.post(REAUTH_URL, {"password": PASSWORD, "next": url})
    quarantine.refresh_from_db()
    assert quarantine.released_at is not None


def test_leaving_level_4_without_a_reason_is_refused_on_the_form_first(
    route: Route, stale_client: Client
) -> None:
    group = _locked(route)

    response = stale_client.post(reverse("group_level", args=[group.pk]), {"level": "3"})

    assert response.status_code == 200
    assert "leaving level 4 Locked needs a written reason" in response.content.decode()
    assert _level(group) == 4


def test_wrong_password_leaves_the_route_locked(route: Route, stale_client: Client) -> None:
    group = _locked(route)
    url = reverse("group_level", args=[group.pk])
    stale_client.post(url, _unlock_form())

    response = stale_client.post(REAUTH_URL, {"password": "guess", "next": url})

    assert response.status_code == 200
    assert _level(group) == 4
    row = JournalEntry.objects.get(event_type=EventType.REAUTHENTICATION_FAILED)
    assert row.owner_id == route.owner.pk and row.extra_data["ip_address"] == "127.0.0.1"


def test_second_factor_code_unlocks_level_4(route: Route, stale_client: Client) -> None:
    device = totp_device_for(route.owner)
    group = _locked(route)
    url = reverse("group_level", args=[group.pk])
    stale_client.post(url, _unlock_form())

    done = stale_client.post(
        reverse("reauthenticate_totp"), {"token": totp_code(device), "next": url}
    )

    assert done["Location"] == reverse("group_budget", args=[group.pk])
    assert _level(group) == 3
    row = JournalEntry.objects.get(event_type=EventType.REAUTHENTICATED)
    assert (row.owner_id, row.extra_data["method"]) == (route.owner.pk, "mfa")


def test_recent_reauthentication_acts_at_once(route: Route) -> None:
    group = _locked(route)
    client = Client()
    client.force_login(route.owner)
    reauthenticated(client, route.owner)

    response = client.post(reverse("group_level", args=[group.pk]), _unlock_form())

    assert response["Location"] == reverse("group_budget", args=[group.pk])
    assert _level(group) == 3


def test_level_locked_meanwhile_is_refused_by_the_service(route: Route) -> None:
    # The view saw level 3 (no confirmation asked); the engine locked the route
    # before the service ran: the service refuses to leave 4 unconfirmed.
    group = _locked(route)
    with pytest.raises(ApplicationError, match="confirm it is you"):
        route_level_set(
            group=group,
            level=RouteLevel.ACTIVE,
            actor=route.owner,
            reason="looks fine",
            unlock_confirmed=False,
        )
    assert _level(group) == 4


def test_other_users_route_is_still_404_after_reauthentication(route: Route, bob: User) -> None:
    group = _locked(route)
    client = Client()
    client.force_login(bob)
    reauthenticated(client, bob)

    assert client.post(reverse("group_level", args=[group.pk]), _unlock_form()).status_code == 404
    assert _level(group) == 4


# -- safety stops never ask -----------------------------------------------------------


def test_flatten_works_with_a_login_hours_old(route: Route, stale_client: Client) -> None:
    response = stale_client.post(reverse("group_flatten", args=[route.group.pk]))

    assert response.status_code == 302
    assert not response["Location"].startswith(REAUTH_URL)
    assert FlattenRequest.objects.filter(group=route.group).count() == 1
    assert _level(route.group) == 4  # and leaving that lock asks (above)


def test_flatten_all_works_with_a_login_hours_old(route: Route, stale_client: Client) -> None:
    response = stale_client.post(reverse("flatten_all"))

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert FlattenRequest.objects.filter(owner=route.owner, group=None).count() == 1


def test_pause_and_lowering_levels_never_ask(route: Route, stale_client: Client) -> None:
    group = route.group
    level_url = reverse("group_level", args=[group.pk])

    stale_client.post(reverse("group_pause", args=[group.pk]))
    stale_client.post(reverse("group_follower_pause", args=[group.pk, route.small_follower.pk]))
    lowered = stale_client.post(level_url, {"level": "1", "reason": ""})
    raised = stale_client.post(level_url, {"level": "3", "reason": ""})
    locked = stale_client.post(level_url, {"level": "4", "reason": "stop"})

    assert _enabled(group) is False and _enabled(route.small_follower) is False
    for response in (lowered, raised, locked):
        assert response["Location"] == reverse("group_budget", args=[group.pk])
    assert _level(group) == 4
