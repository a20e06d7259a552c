"""Read endpoints: each lists only the requesting user's rows, opens its
own row, answers 404 for another user's and refuses an anonymous call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from journal.models import EventType, JournalEntry
from tests.api.conftest import Rows

pytestmark = pytest.mark.django_db

# endpoint -> the row of Rows it lists
ENDPOINTS: dict[str, Callable[[Rows], int]] = {
    "accounts": lambda r: r.account.pk,
    "logins": lambda r: r.login.pk,
    "groups": lambda r: r.group.pk,
    "followers": lambda r: r.follower.pk,
    "risk-limits": lambda r: r.risk_limit.pk,
    "copy-orders": lambda r: r.copy_order.pk,
    "positions": lambda r: r.position.pk,
    "fills": lambda r: r.fill.pk,
    "journal": lambda r: r.entry.pk,
    "trades": lambda r: r.trade.pk,
}


def _ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_list_and_detail_when_own_rows_then_shown(
    endpoint: str, api: APIClient, alice_rows: Rows, bob_rows: Rows
) -> None:
    own, other = ENDPOINTS[endpoint](alice_rows), ENDPOINTS[endpoint](bob_rows)

    listed = api.get(f"/api/v1/{endpoint}/")
    detail = api.get(f"/api/v1/{endpoint}/{own}/")

    assert listed.status_code == 200, listed.content
    assert own in _ids(listed)
    assert other not in _ids(listed)
    assert set(listed.json()) == {"count", "next", "previous", "results"}
    assert detail.status_code == 200
    assert detail.json()["id"] == own


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_detail_when_another_users_row_then_404(
    endpoint: str, api: APIClient, bob_rows: Rows
) -> None:
    response = api.get(f"/api/v1/{endpoint}/{ENDPOINTS[endpoint](bob_rows)}/")

    assert response.status_code == 404


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "pilots", "subscriptions"])
def test_anonymous_call_then_401(endpoint: str, alice_rows: Rows) -> None:
    response = APIClient().get(f"/api/v1/{endpoint}/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_accounts_when_listed_then_no_credential_appears(api: APIClient, alice_rows: Rows) -> None:
    account = api.get(f"/api/v1/accounts/{alice_rows.account.pk}/").json()
    login = api.get(f"/api/v1/logins/{alice_rows.login.pk}/").json()

    assert account["login"] == login
    assert set(login) == {
        "id",
        "platform",
        "label",
        "identity",
        "connection_state",
        "connection_since",
        "budget_used",
        "budget_limit",
    }
    everything = str(api.get("/api/v1/accounts/").content) + str(api.get("/api/v1/logins/").content)
    assert "s3cr3t" not in everything
    assert alice_rows.login.secret not in everything


def test_session_authentication_when_logged_in_then_reads(alice_rows: Rows) -> None:
    client = APIClient()
    client.force_login(alice_rows.user)

    response = client.get("/api/v1/groups/")

    assert response.status_code == 200
    assert alice_rows.group.pk in _ids(response)


def test_copy_orders_when_filtered_then_only_matching(api: APIClient, alice_rows: Rows) -> None:
    order = alice_rows.copy_order
    later = (timezone.now() + timedelta(hours=1)).isoformat()

    by_status = api.get("/api/v1/copy-orders/", {"status": "filled"})
    other_status = api.get("/api/v1/copy-orders/", {"status": "rejected"})
    by_group = api.get("/api/v1/copy-orders/", {"group": alice_rows.group.pk})
    by_account = api.get("/api/v1/copy-orders/", {"account": alice_rows.account.pk + 10_000})
    after = api.get("/api/v1/copy-orders/", {"created_after": later})
    before = api.get("/api/v1/copy-orders/", {"created_before": later})

    assert _ids(by_status) == {order.pk}
    assert _ids(other_status) == set()
    assert _ids(by_group) == {order.pk}
    assert by_account.status_code == 400  # an account that is not a choice
    assert _ids(after) == set()
    assert _ids(before) == {order.pk}


def test_copy_orders_when_bad_filter_then_400_with_field(api: APIClient, alice_rows: Rows) -> None:
    response = api.get("/api/v1/copy-orders/", {"status": "lost", "created_after": "yesterday"})

    assert response.status_code == 400
    assert set(response.json()) == {"status", "created_after"}


def test_journal_when_filtered_then_only_matching(api: APIClient, alice_rows: Rows) -> None:
    entry = alice_rows.entry

    by_type = api.get("/api/v1/journal/", {"event_type": "copy_order.filled"})
    by_account = api.get("/api/v1/journal/", {"account": alice_rows.account.pk})
    by_group = api.get("/api/v1/journal/", {"group": alice_rows.group.pk + 10_000})
    ranged = api.get(
        "/api/v1/journal/",
        {"occurred_after": (entry.occurred_at - timedelta(seconds=1)).isoformat()},
    )

    assert entry.pk in _ids(by_type)
    assert {row["event_type"] for row in by_type.json()["results"]} == {"copy_order.filled"}
    assert entry.pk in _ids(by_account)
    assert {row["account"] for row in by_account.json()["results"]} == {alice_rows.account.pk}
    assert _ids(by_group) == set()
    assert entry.pk in _ids(ranged)


def test_journal_when_filtered_by_session_and_reason_then_only_matching(
    api: APIClient, alice_rows: Rows
) -> None:
    entry = JournalEntry.objects.create(
        occurred_at=datetime(2026, 3, 3, 22, 30, tzinfo=UTC),  # Tuesday's 16:00-17:00 CT break
        owner_id=alice_rows.user.pk,
        actor_label="risk",
        event_type=EventType.ACCOUNT_HALTED,
        account_id=alice_rows.account.pk,
        message="halted on its daily loss",
        extra_data={"code": "daily_loss"},
    )

    tuesday = api.get("/api/v1/journal/", {"session": "2026-03-03"})
    wednesday = api.get("/api/v1/journal/", {"session": "2026-03-04"})
    by_code = api.get("/api/v1/journal/", {"code": "daily_loss"})
    other_code = api.get("/api/v1/journal/", {"code": "drawdown"})
    bad = api.get("/api/v1/journal/", {"code": "no_such_code", "session": "tuesday"})

    assert _ids(tuesday) == {entry.pk} and _ids(wednesday) == set()
    assert _ids(by_code) == {entry.pk} and _ids(other_code) == set()
    assert bad.status_code == 400 and set(bad.json()) == {"code", "session"}


def test_list_when_paged_then_page_size_and_next(api: APIClient, alice_rows: Rows) -> None:
    first = api.get("/api/v1/accounts/", {"page_size": 1})
    second = api.get("/api/v1/accounts/", {"page_size": 1, "page": 2})

    body = first.json()
    assert body["count"] == 3  # Lead, Eval 25K, Funded 150K
    assert len(body["results"]) == 1
    assert "page=2" in body["next"]
    assert second.json()["results"][0]["id"] != body["results"][0]["id"]


def test_list_when_ordered_then_in_that_order(api: APIClient, alice_rows: Rows) -> None:
    names = [
        a["name"] for a in api.get("/api/v1/accounts/", {"ordering": "-name"}).json()["results"]
    ]

    assert names == sorted(names, reverse=True)


def test_groups_when_pilot_route_then_leader_hidden(api: APIClient, alice_rows: Rows) -> None:
    group = alice_rows.group
    group.pilot_route = True
    group.save(update_fields=["pilot_route"])

    body = api.get(f"/api/v1/groups/{group.pk}/").json()

    assert body["leader"] is None
    assert body["leader_label"] == "a published pilot"
