"""The admin review desk (pilots.review, pilots.admin): the queue, the evidence, decisions.

Alice publishes her leader account "Lead" as pilot "Alice NQ" on
2025-12-01; her record is checked against the real NQ 5-minute bars of
2025-12-02 (shared/data/arielSofer_aiTradeReports/marketData_5m.json): a
buy at 25,490.00 in the 13:30 UTC bar (25,483.00-25,498.00) and a sell at
25,530.00 in the 13:40 bar (high 25,514.75, + one tick = 25,515.00), so row
2 fails the price check and the record is flagged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route, fill_stored
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from pilots.models import Pilot
from pilots.records import pilot_record_refresh
from pilots.review import equity_chart, pilot_review, pilots_to_review
from pilots.subscriptions import pilot_publish
from tests.second_factor import verified_client

pytestmark = pytest.mark.django_db

PUBLISHED = datetime(2025, 12, 1, tzinfo=UTC)
CHECKED = datetime(2025, 12, 3, tzinfo=UTC)
REVIEWED = datetime(2025, 12, 3, 9, 0, tzinfo=UTC)
BARS = "arielSofer_aiTradeReports/marketData_5m.json"


@pytest.fixture
def flagged(route: Route, shared_data: Path) -> Pilot:
    call_command("market_bars_load", str(shared_data / BARS), family="NQ", stdout=StringIO())
    pilot = pilot_publish(
        owner=route.owner,
        account=route.leader,
        display_name="Alice NQ",
        markets=["MNQ"],
        nominal_balance=Decimal(50_000),
        at=PUBLISHED,
    )
    for fill_id, side, price, minute in (
        ("b1", "buy", "25490.00", 31),
        ("s1", "sell", "25530.00", 41),
    ):
        fill_stored(
            account=route.leader,
            broker_fill_id=fill_id,
            symbol="MNQZ5",
            side=side,
            qty=1,
            price=Decimal(price),
            realized_pnl=Decimal(0),
            filled_at=datetime(2025, 12, 2, 13, minute, tzinfo=UTC),
        )
    pilot_record_refresh(pilot, at=CHECKED)
    return pilot


def _reviewed(pilot: Pilot) -> JournalEntry:
    return JournalEntry.objects.get(owner_id=pilot.owner_id, event_type=EventType.PILOT_REVIEWED)


@pytest.mark.parametrize(
    ("decision", "verb"),
    [
        ("approved", "approved"),
        ("rejected", "rejected"),
        ("info_requested", "asked for more information"),
    ],
)
def test_each_decision_is_journaled_in_the_pilots_journal_with_who_and_why(
    flagged: Pilot, staff: User, decision: str, verb: str
) -> None:
    # Act
    pilot = pilot_review(
        pilot=flagged, decision=decision, reason="  Checked the bars.  ", actor=staff, at=REVIEWED
    )
    # Assert: on the pilot's row (which the pilot's own page shows) ...
    pilot.refresh_from_db()
    assert (pilot.review, pilot.reviewed_at, pilot.review_note) == (
        decision,
        REVIEWED,
        "Checked the bars.",
    )
    # ... and in the pilot's journal, naming the staff member and the reason.
    entry = _reviewed(pilot)
    assert entry.message == f"Pilot Alice NQ {verb} by staff staff: Checked the bars."
    assert entry.actor_user_id == staff.pk
    assert entry.actor_label == "staff"
    assert entry.extra_data["staff"] == {"id": staff.pk, "username": "staff"}
    assert entry.extra_data["reason"] == "Checked the bars."
    assert entry.extra_data["flags"][0].startswith("row 2 MNQZ5: price_range failed")
    assert entry.before["review"] == "pending"
    assert entry.after["review"] == decision


def test_a_blank_reason_or_unknown_decision_is_refused(flagged: Pilot, staff: User) -> None:
    with pytest.raises(ApplicationError, match="written reason"):
        pilot_review(pilot=flagged, decision="approved", reason="   ", actor=staff, at=REVIEWED)
    with pytest.raises(ApplicationError, match="unknown decision"):
        pilot_review(pilot=flagged, decision="pending", reason="why", actor=staff, at=REVIEWED)
    flagged.refresh_from_db()
    assert flagged.review == Pilot.Review.PENDING
    assert not JournalEntry.objects.filter(event_type=EventType.PILOT_REVIEWED).exists()


def test_non_staff_and_staff_without_the_permission_are_refused(flagged: Pilot, bob: User) -> None:
    helper = User.objects.create_user("helper", password="x", is_staff=True)
    for actor in (bob, helper):
        with pytest.raises(ApplicationError, match="only staff"):
            pilot_review(pilot=flagged, decision="approved", reason="ok", actor=actor, at=REVIEWED)
    # The model permission is what makes a staff member a reviewer.
    helper.user_permissions.add(Permission.objects.get(codename="change_pilot"))
    helper = User.objects.get(pk=helper.pk)  # permissions are cached per instance
    pilot_review(pilot=flagged, decision="approved", reason="ok", actor=helper, at=REVIEWED)
    assert _reviewed(flagged).actor_label == "helper"


def test_the_queue_holds_flagged_and_pending_pilots_not_decided_ones(
    flagged: Pilot, staff: User, bob: User
) -> None:
    # Arrange: Bob's pilot has no record yet (pending); Carol's was approved.
    bobs = pilot_publish(
        owner=bob,
        account=broker_account_create(owner=bob, name="B", balance=Decimal(0)),
        display_name="Bob ES",
        markets=["ES"],
        nominal_balance=Decimal(25_000),
        at=PUBLISHED,
    )
    carol = User.objects.create_user("carol", password="x")
    carols = pilot_publish(
        owner=carol,
        account=broker_account_create(owner=carol, name="C", balance=Decimal(0)),
        display_name="Carol YM",
        markets=["YM"],
        nominal_balance=Decimal(25_000),
        at=PUBLISHED,
    )
    pilot_review(pilot=carols, decision="approved", reason="fine", actor=staff, at=REVIEWED)
    # Act / Assert: flagged first.
    assert list(pilots_to_review()) == [flagged, bobs]


def test_the_admin_queue_lists_pilots_to_review(flagged: Pilot, staff_client: Client) -> None:
    response = staff_client.get(reverse("admin:pilots_pilot_changelist"))
    assert response.status_code == 200
    assert "Alice NQ" in response.text
    assert "To review" in response.text


def test_the_change_page_shows_the_evidence(flagged: Pilot, staff_client: Client) -> None:
    response = staff_client.get(reverse("admin:pilots_pilot_change", args=[flagged.pk]))
    assert response.status_code == 200
    page = response.text
    # The failed check with its row and reason, the anomaly table, statistics,
    # why it is not listed, the equity chart and the review form.
    assert "price 25530.00 is outside the NQ 5-minute bar" in page
    assert "<td>price_range</td>" in page
    assert 'id="review-anomalies"' in page
    assert "Profit factor" in page
    assert "calendar days of verified history; listing needs 30" in page
    assert "<polyline points=" in page
    assert 'name="reason"' in page
    assert "<script" not in page.split('id="review-evidence"')[1]


def test_approving_from_the_admin_records_the_decision(
    flagged: Pilot, staff_client: Client
) -> None:
    url = reverse("admin:pilots_pilot_review", args=[flagged.pk])
    response = staff_client.post(url, {"decision": "approved", "reason": "Bars re-checked."})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:pilots_pilot_changelist")
    flagged.refresh_from_db()
    assert (flagged.review, flagged.review_note) == ("approved", "Bars re-checked.")
    assert _reviewed(flagged).actor_label == "staff"
    # Decided: the queue says so and lists it no more.
    queue = staff_client.get(reverse("admin:pilots_pilot_changelist"))
    assert "Alice NQ: Approved. The decision and reason are in the pilot" in queue.text
    assert list(queue.context["cl"].result_list) == []
    assert (
        "Alice NQ" in staff_client.get(reverse("admin:pilots_pilot_changelist") + "?queue=all").text
    )


def test_the_admin_refuses_a_decision_without_a_reason(
    flagged: Pilot, staff_client: Client
) -> None:
    url = reverse("admin:pilots_pilot_review", args=[flagged.pk])
    response = staff_client.post(url, {"decision": "rejected", "reason": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.text or "written reason" in response.text
    flagged.refresh_from_db()
    assert flagged.review == Pilot.Review.PENDING


def test_staff_without_the_permission_cannot_post_a_decision(flagged: Pilot) -> None:
    helper = User.objects.create_user("helper", password="x", is_staff=True)
    helper.user_permissions.add(Permission.objects.get(codename="view_pilot"))
    # Verified by a second factor: what stops it is the permission, not the admin's login.
    client = verified_client(helper)
    page = client.get(reverse("admin:pilots_pilot_change", args=[flagged.pk]))
    assert page.status_code == 200
    assert 'name="reason"' not in page.text
    url = reverse("admin:pilots_pilot_review", args=[flagged.pk])
    response = client.post(url, {"decision": "approved", "reason": "ok"})
    assert response.status_code == 403
    flagged.refresh_from_db()
    assert flagged.review == Pilot.Review.PENDING


def test_the_equity_chart_runs_from_zero_through_each_days_total() -> None:
    data = {
        "statistics": {
            "daily_pnl": [
                {"day": "2025-12-01", "pnl": "100.00"},
                {"day": "2025-12-02", "pnl": "-300.00"},
            ]
        }
    }
    chart = equity_chart(data, width=108, height=116)
    assert chart is not None
    # Equity 0, 100, -200 drawn 92 px wide and 100 px high inside 8 px
    # padding: x every 46 px, y 8 + (100 - equity) / 300 dollars x 100 px.
    assert chart.points == "8.0,41.3 54.0,8.0 100.0,108.0"
    assert chart.zero_y == 41.3
    assert (chart.low, chart.high) == (Decimal(-200), Decimal(100))
    assert equity_chart({"statistics": {"daily_pnl": []}}) is None
