"""Write endpoints: each calls the dashboard's service (journaled the same
way), answers 400 with field errors for bad input and for a service's
refusal, 404 for another user's row, and 403 for what needs a
re-authentication (done only in the dashboard)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from journal.models import EventType, JournalEntry
from routing.engine.limits import RouteLevel
from routing.models import (
    ContractMapping,
    CopyGroup,
    ExpectedPosition,
    FlattenRequest,
    Follower,
    PositionClose,
    RiskLimit,
)
from tests.api.conftest import Rows, token_client

pytestmark = pytest.mark.django_db


def _journal(rows: Rows, event_type: str) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(owner_id=rows.user.pk, event_type=event_type))


def test_group_pause_then_paused_and_journaled(api: APIClient, alice_rows: Rows) -> None:
    first = api.post(f"/api/v1/groups/{alice_rows.group.pk}/pause/")
    again = api.post(f"/api/v1/groups/{alice_rows.group.pk}/pause/")

    assert first.status_code == 200
    assert first.json()["changed"] is True
    assert first.json()["group"]["enabled"] is False
    assert again.json()["changed"] is False
    assert CopyGroup.objects.get(pk=alice_rows.group.pk).enabled is False
    assert len(_journal(alice_rows, EventType.COPY_GROUP_PAUSED)) == 1


def test_group_resume_then_403_naming_the_dashboard(api: APIClient, alice_rows: Rows) -> None:
    api.post(f"/api/v1/groups/{alice_rows.group.pk}/pause/")

    response = api.post(f"/api/v1/groups/{alice_rows.group.pk}/resume/")

    assert response.status_code == 403
    assert "dashboard" in response.json()["detail"]
    assert CopyGroup.objects.get(pk=alice_rows.group.pk).enabled is False


def test_follower_pause_then_paused_and_resume_refused(api: APIClient, alice_rows: Rows) -> None:
    url = f"/api/v1/followers/{alice_rows.follower.pk}/"

    paused = api.post(url + "pause/")
    resumed = api.post(url + "resume/")

    assert paused.status_code == 200
    assert paused.json()["follower"]["enabled"] is False
    assert len(_journal(alice_rows, EventType.FOLLOWER_PAUSED)) == 1
    assert resumed.status_code == 403
    assert "dashboard" in resumed.json()["detail"]
    assert Follower.objects.get(pk=alice_rows.follower.pk).enabled is False


def test_follower_ratio_when_valid_then_changed_and_journaled(
    api: APIClient, alice_rows: Rows
) -> None:
    response = api.patch(
        f"/api/v1/followers/{alice_rows.follower.pk}/", {"ratio": "2.5"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["changed"] is True
    assert Follower.objects.get(pk=alice_rows.follower.pk).ratio == Decimal("2.5")
    assert len(_journal(alice_rows, EventType.FOLLOWER_CHANGED)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"ratio": "0.01"}, "ratio"), ({"ratio": "lots"}, "ratio"), ({}, "non_field_errors")],
)
def test_follower_ratio_when_bad_then_400_on_the_field(
    api: APIClient, alice_rows: Rows, body: dict[str, str], field: str
) -> None:
    response = api.patch(f"/api/v1/followers/{alice_rows.follower.pk}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Follower.objects.get(pk=alice_rows.follower.pk).ratio == Decimal("0.5")


def test_risk_limits_when_set_then_saved_and_journaled(api: APIClient, alice_rows: Rows) -> None:
    url = f"/api/v1/accounts/{alice_rows.account.pk}/risk-limits/"

    before = api.get(url).json()
    response = api.patch(url, {"daily_loss": "400", "max_position": 4}, format="json")

    assert before["daily_loss"] == "375.0000"
    assert response.status_code == 200, response.content
    limit = RiskLimit.objects.get(account=alice_rows.account)
    assert (limit.daily_loss, limit.max_position, limit.max_contracts) == (Decimal(400), 4, 5)
    assert response.json()["daily_loss"] == "400.0000"
    assert len(_journal(alice_rows, EventType.RISK_LIMIT_CHANGED)) >= 1


def test_risk_limits_when_service_refuses_then_400_with_its_field(
    api: APIClient, alice_rows: Rows
) -> None:
    url = f"/api/v1/accounts/{alice_rows.account.pk}/risk-limits/"

    refused = api.patch(url, {"daily_loss": "-5"}, format="json")
    malformed = api.patch(url, {"max_position": "many"}, format="json")

    assert refused.status_code == 400
    assert "daily_loss" in refused.json()
    assert "detail" in refused.json()
    assert malformed.status_code == 400
    assert "max_position" in malformed.json()
    assert RiskLimit.objects.get(account=alice_rows.account).daily_loss == Decimal(375)


def test_risk_limits_of_an_account_without_limits_then_created(
    api: APIClient, alice_rows: Rows
) -> None:
    leader = alice_rows.group.leader
    url = f"/api/v1/accounts/{leader.pk}/risk-limits/"

    empty = api.get(url).json()
    response = api.patch(url, {"max_contracts": 2}, format="json")

    assert empty["id"] is None
    assert empty["max_contracts"] is None
    assert response.status_code == 200
    assert RiskLimit.objects.get(account=leader).max_contracts == 2


def test_level_when_changed_then_set_and_journaled(api: APIClient, alice_rows: Rows) -> None:
    response = api.post(
        f"/api/v1/groups/{alice_rows.group.pk}/level/",
        {"level": 2, "reason": "new contract month"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["group"]["level"] == 2
    group = CopyGroup.objects.get(pk=alice_rows.group.pk)
    assert group.level == RouteLevel.REDUCED
    assert group.level_reason == "new contract month"
    assert len(_journal(alice_rows, EventType.ROUTE_LEVEL_CHANGED)) == 1


def test_level_when_leaving_locked_then_403_and_still_locked(
    api: APIClient, alice_rows: Rows
) -> None:
    url = f"/api/v1/groups/{alice_rows.group.pk}/level/"
    locked = api.post(url, {"level": 4, "reason": "incident"}, format="json")

    response = api.post(url, {"level": 3, "reason": "fixed"}, format="json")

    assert locked.status_code == 200
    assert response.status_code == 403
    assert "dashboard" in response.json()["detail"]
    assert CopyGroup.objects.get(pk=alice_rows.group.pk).level == RouteLevel.LOCKED


def test_level_when_bad_then_400_with_field(api: APIClient, alice_rows: Rows) -> None:
    response = api.post(f"/api/v1/groups/{alice_rows.group.pk}/level/", {"level": 9})

    assert response.status_code == 400
    assert "level" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "groups/{group}/pause/", None),
        ("post", "groups/{group}/level/", {"level": 1}),
        ("post", "groups/{group}/flatten/", None),
        ("post", "followers/{follower}/pause/", None),
        ("patch", "followers/{follower}/", {"ratio": "2"}),
        ("patch", "accounts/{account}/risk-limits/", {"max_contracts": 1}),
        ("post", "followers/{follower}/close-position/", {"symbol": "MNQH6", "qty": 1}),
        ("post", "followers/{follower}/untrack-position/", {"symbol": "MNQH6", "qty": 1}),
        ("get", "groups/{group}/mappings/", None),
        ("put", "groups/{group}/mappings/", {"mappings": {"NQ": "MNQ"}}),
    ],
)
def test_action_on_another_users_row_then_404_and_unchanged(
    api: APIClient, bob_rows: Rows, method: str, path: str, body: dict[str, object] | None
) -> None:
    url = "/api/v1/" + path.format(
        group=bob_rows.group.pk, follower=bob_rows.follower.pk, account=bob_rows.account.pk
    )

    response = getattr(api, method)(url, body, format="json")

    assert response.status_code == 404
    group = CopyGroup.objects.get(pk=bob_rows.group.pk)
    assert (group.enabled, group.level) == (True, RouteLevel.ACTIVE)
    assert not FlattenRequest.objects.filter(owner=bob_rows.user).exists()
    assert Follower.objects.get(pk=bob_rows.follower.pk).ratio == Decimal(1)
    assert not PositionClose.objects.exists()
    assert not ContractMapping.objects.filter(group=bob_rows.group).exists()


def test_action_when_anonymous_then_401(alice_rows: Rows) -> None:
    response = APIClient().post(f"/api/v1/groups/{alice_rows.group.pk}/flatten/")

    assert response.status_code == 401
    assert not FlattenRequest.objects.exists()


def test_flatten_then_the_pages_request_locked_at_level_4(api: APIClient, alice_rows: Rows) -> None:
    group = alice_rows.group
    page = Client()
    page.force_login(alice_rows.user)

    response = api.post(f"/api/v1/groups/{group.pk}/flatten/")
    again = api.post(f"/api/v1/groups/{group.pk}/flatten/")
    pressed_on_page = page.post(reverse("group_flatten", args=[group.pk]))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["flatten"]["created"] is True
    assert body["engine_status"] in {"running", "stale", "down"}
    pending = FlattenRequest.objects.get()
    assert (pending.pk, pending.group_id, pending.owner_id) == (
        body["flatten"]["id"],
        group.pk,
        alice_rows.user.pk,
    )
    assert pending.status == FlattenRequest.Status.PENDING
    assert pending.requested_by == "alice"
    assert CopyGroup.objects.get(pk=group.pk).level == RouteLevel.LOCKED
    # A second press, through the API or the page, finds the same pending request.
    assert again.status_code == 200
    assert again.json()["flatten"] == {**body["flatten"], "created": False}
    assert pressed_on_page.status_code == 302
    assert FlattenRequest.objects.count() == 1
    # Every press is journaled with who pressed it, the page's as the API's.
    assert len(_journal(alice_rows, EventType.FLATTEN_REQUESTED)) == 3


def test_flatten_all_then_every_group_locked_and_one_request(
    api: APIClient, alice_rows: Rows
) -> None:
    response = api.post("/api/v1/flatten/")
    again = api.post("/api/v1/flatten/")

    assert response.status_code == 202, response.content
    pending = FlattenRequest.objects.get()
    assert (pending.pk, pending.group_id) == (response.json()["flatten"]["id"], None)
    assert CopyGroup.objects.get(pk=alice_rows.group.pk).level == RouteLevel.LOCKED
    assert again.status_code == 200
    assert FlattenRequest.objects.count() == 1


def test_flatten_all_when_no_group_then_400_with_the_services_message(bob: User) -> None:
    response = token_client(bob).post("/api/v1/flatten/")

    assert response.status_code == 400
    assert response.json()["detail"]
    assert not FlattenRequest.objects.exists()


def test_risk_limits_when_nothing_given_then_unchanged(api: APIClient, alice_rows: Rows) -> None:
    leader = alice_rows.group.leader

    response = api.patch(f"/api/v1/accounts/{leader.pk}/risk-limits/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["max_contracts"] is None


def test_session_write_without_csrf_token_then_403_and_unchanged(alice_rows: Rows) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice_rows.user)

    response = client.post(f"/api/v1/groups/{alice_rows.group.pk}/pause/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert CopyGroup.objects.get(pk=alice_rows.group.pk).enabled is True


def test_close_position_then_queued_for_the_engine_and_journaled(
    api: APIClient, alice_rows: Rows
) -> None:
    url = f"/api/v1/followers/{alice_rows.follower.pk}/close-position/"

    stale = api.post(url, {"symbol": "MNQH6", "qty": 2}, format="json")
    flat = api.post(url, {"symbol": "MNQH6", "qty": 0}, format="json")
    queued = api.post(url, {"symbol": "MNQH6", "qty": 1}, format="json")
    again = api.post(url, {"symbol": "MNQH6", "qty": 1}, format="json")

    assert stale.status_code == 400 and "not the +2 your page showed" in stale.json()["detail"]
    assert flat.status_code == 400 and "qty" in flat.json()
    assert queued.status_code == 202
    close = PositionClose.objects.get(pk=queued.json()["close"])
    assert (close.account_id, close.symbol, close.seen_qty, close.status) == (
        alice_rows.account.pk,
        "MNQH6",
        1,
        PositionClose.Status.PENDING,
    )
    assert again.status_code == 400 and "already under way" in again.json()["detail"]
    [entry] = _journal(alice_rows, EventType.POSITION_CLOSE_REQUESTED)
    assert entry.actor_user_id == alice_rows.user.pk


def test_untrack_position_then_left_to_the_user_and_journaled(
    api: APIClient, alice_rows: Rows
) -> None:
    ExpectedPosition.objects.create(account=alice_rows.account, symbol="MNQH6", qty=1)
    url = f"/api/v1/followers/{alice_rows.follower.pk}/untrack-position/"

    stale = api.post(url, {"symbol": "MNQH6", "qty": -1}, format="json")
    done = api.post(url, {"symbol": "MNQH6", "qty": 1}, format="json")

    assert stale.status_code == 400 and "not the -1 your page showed" in stale.json()["detail"]
    assert done.status_code == 200 and done.json() == {"untracked": 1}
    row = ExpectedPosition.objects.get(account=alice_rows.account, symbol="MNQH6")
    assert (row.qty, row.untracked) == (0, 1)
    assert len(_journal(alice_rows, EventType.POSITION_UNTRACKED)) == 1


def test_mappings_then_replaced_and_journaled_and_bad_roots_400(
    api: APIClient, alice_rows: Rows
) -> None:
    url = f"/api/v1/groups/{alice_rows.group.pk}/mappings/"

    empty = api.get(url)
    put = api.put(url, {"mappings": {"nq": "MNQ"}}, format="json")
    same = api.put(url, {"mappings": {"NQ": "MNQ"}}, format="json")
    bad = api.put(url, {"mappings": {"NQ": "NOPE"}}, format="json")
    shape = api.put(url, {"mappings": ["NQ"]}, format="json")

    assert empty.json() == {"mappings": {}}
    assert put.json() == {"changed": True, "mappings": {"NQ": "MNQ"}}
    assert same.json() == {"changed": False, "mappings": {"NQ": "MNQ"}}
    assert bad.status_code == 400 and "NOPE" in bad.json()["mappings"][0]
    assert shape.status_code == 400 and "mappings" in shape.json()
    assert api.get(url).json() == {"mappings": {"NQ": "MNQ"}}
    assert len(_journal(alice_rows, EventType.CONTRACT_MAPPINGS_CHANGED)) == 1
