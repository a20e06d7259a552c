"""Pilots as the public leaderboard shows them, and the user's own subscriptions."""

from __future__ import annotations

import pytest

from accounts.models import User
from pilots.models import Pilot
from pilots.subscriptions import subscription_start
from pilots.tests.board_records import THIRTY_FIVE, pilot_made, plan_given, record_stored, user
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady(alice: User) -> Pilot:
    """zed-owner's listed pilot "Steady" with a record, which alice follows."""
    pilot = pilot_made(user("zed-owner"), "Steady", markets=["NQ"])
    record_stored(pilot, THIRTY_FIVE)
    plan_given(alice)
    subscription_start(subscriber=alice, pilot=pilot, at=pilot.published_at)
    return pilot


def test_board_then_public_fields_only(alice: User, steady: Pilot) -> None:
    response = token_client(alice).get("/api/v1/pilots/")

    assert response.status_code == 200, response.content
    body = response.json()
    [row] = body["results"]
    assert row["id"] == steady.pk
    assert row["display_name"] == "Steady"
    assert row["markets"] == ["NQ"]
    assert row["position"] == 1
    assert row["followers"] == 1
    assert "NQ" in body["markets"]
    assert not {"owner", "account", "subscribers"} & set(row)
    # Never the owner's name or the account's.
    assert "zed-owner" not in response.content.decode()
    assert "Steady account" not in response.content.decode()


def test_board_when_filtered_or_bad_query_then_applied_or_400(alice: User, steady: Pilot) -> None:
    client = token_client(alice)

    other_market = client.get("/api/v1/pilots/", {"market": "CL"})
    waiting = client.get("/api/v1/pilots/", {"section": "waiting"})
    bad = client.get("/api/v1/pilots/", {"sort": "luck", "min_days": 7})

    assert other_market.json()["results"] == []
    assert waiting.json()["results"] == []
    assert bad.status_code == 400
    assert set(bad.json()) == {"sort", "min_days"}


def test_pilot_detail_then_row_and_rejected_pilot_404(alice: User, steady: Pilot) -> None:
    rejected = pilot_made(user("rex"), "Rex", review=Pilot.Review.REJECTED)
    client = token_client(alice)

    detail = client.get(f"/api/v1/pilots/{steady.pk}/")
    hidden = client.get(f"/api/v1/pilots/{rejected.pk}/")

    assert detail.status_code == 200
    assert detail.json()["display_name"] == "Steady"
    assert detail.json()["position"] == 1
    assert hidden.status_code == 404


def test_subscriptions_then_own_only(alice: User, bob: User, steady: Pilot) -> None:
    plan_given(bob)
    theirs = subscription_start(subscriber=bob, pilot=steady, at=steady.published_at)
    client = token_client(alice)

    listed = client.get("/api/v1/subscriptions/").json()["results"]
    other = client.get(f"/api/v1/subscriptions/{theirs.pk}/")

    assert [(s["pilot"], s["pilot_name"], s["status"]) for s in listed] == [
        (steady.pk, "Steady", "watching")
    ]
    assert other.status_code == 404
    own = client.get(f"/api/v1/subscriptions/{listed[0]['id']}/")
    assert own.status_code == 200
