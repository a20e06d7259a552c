"""Session reviews on the journal (issue 13): the trader's note for a
trading date, for the whole day or one group; written, edited and removed
(each save journaled with the text before and after), shown on the journal
for that day, in the journal's CSV and a CSV of its own; owner only.

Trading dates are the CME session's: Thursday 2026-03-05 17:30 CT (23:30
UTC, before the DST change of 03-08) is already in Friday 2026-03-06's
session (it opened at 17:00).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry, SessionReview
from journal.review_views import REVIEW_CSV_COLUMNS
from journal.session_reviews import session_review_save

pytestmark = pytest.mark.django_db

THURSDAY_EVENING = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
FRIDAY = date(2026, 3, 6)
URL = "/journal/reviews/"


@pytest.fixture
def alice_client(route: Route) -> Client:
    client = Client()
    client.force_login(route.owner)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def _csv(response: object) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(body)))


def _saved() -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=EventType.SESSION_REVIEW_SAVED))


def _post(client: Client, **fields: object) -> object:
    data = {"trading_date": "2026-03-06", "group": "", "went_well": "", "to_change": ""}
    return client.post(URL, {**data, **{k: str(v) for k, v in fields.items()}})


def test_the_form_opens_on_the_current_trading_date(alice_client: Client) -> None:
    with time_machine.travel(THURSDAY_EVENING, tick=False):
        response = alice_client.get(URL)
    assert response.status_code == 200
    assert response.context["form"].initial["trading_date"] == FRIDAY
    assert response.context["today"] == FRIDAY


def test_writing_a_note_saves_journals_and_shows_it_on_that_day(
    route: Route, alice_client: Client
) -> None:
    # Act
    response = _post(alice_client, went_well="Waited for the open", to_change="Size down on CL")
    # Assert: stored, journaled once, back on the journal at that day.
    assert response.status_code == 302
    assert response["Location"] == "/journal/?since=2026-03-06&until=2026-03-06#reviews"
    review = SessionReview.objects.get()
    assert (review.owner, review.trading_date, review.group_id) == (route.owner, FRIDAY, None)
    (entry,) = _saved()
    assert (entry.before, entry.after, entry.group_id, entry.actor_label) == (
        None,
        {"went_well": "Waited for the open", "to_change": "Size down on CL"},
        None,
        "alice",
    )
    assert entry.message == (
        "Session review of 2026-03-06 (the whole day) written: went well: Waited for the open "
        "\u00b7 to change: Size down on CL"
    )
    page = alice_client.get(response["Location"]).content.decode()
    assert 'data-date="2026-03-06"' in page and "Size down on CL" in page
    # Another day's journal does not show it.
    other = alice_client.get("/journal/", {"since": "2026-03-09", "until": "2026-03-09"})
    assert "Size down on CL" not in other.content.decode()


def test_editing_and_removing_are_journaled_with_before_and_after(
    route: Route, alice_client: Client
) -> None:
    _post(alice_client, went_well="Patient")
    # Edit: the text changes, the note is the same row.
    _post(alice_client, went_well="Patient", to_change="Stop after two losers")
    assert SessionReview.objects.get().to_change == "Stop after two losers"
    # Saving the same text again changes nothing.
    same = _post(alice_client, went_well="Patient", to_change="Stop after two losers")
    assert same.status_code == 302
    # Both empty: removed.
    _post(alice_client)
    assert not SessionReview.objects.exists()
    written, edited, removed = _saved()
    assert (written.before, written.after) == (None, {"went_well": "Patient", "to_change": ""})
    assert (edited.before, edited.after) == (
        {"went_well": "Patient", "to_change": ""},
        {"went_well": "Patient", "to_change": "Stop after two losers"},
    )
    assert (removed.before, removed.after) == (edited.after, None)
    assert removed.message == "Session review of 2026-03-06 (the whole day) removed"


def test_one_note_for_the_day_and_one_per_group_on_the_same_date(
    route: Route, alice_client: Client
) -> None:
    _post(alice_client, went_well="Whole day")
    _post(alice_client, group=route.group.pk, to_change="Evals: tighter stops")
    reviews = {r.group_id: r for r in SessionReview.objects.all()}
    assert set(reviews) == {None, route.group.pk}
    assert reviews[route.group.pk].group_name == "Evals"
    # The journal filtered to the group shows its note and the day's.
    page = alice_client.get(
        "/journal/", {"since": "2026-03-06", "until": "2026-03-06", "group": route.group.pk}
    ).content.decode()
    assert "Whole day" in page and "Evals: tighter stops" in page
    # Opening the group's note fills the form with it.
    response = alice_client.get(URL, {"date": "2026-03-06", "group": route.group.pk})
    assert response.context["form"].initial["to_change"] == "Evals: tighter stops"
    assert response.context["exists"] is True


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({}, "went_well", "write what went well or what to change"),
        ({"trading_date": "2026-02-30", "went_well": "x"}, "trading_date", "Enter a valid date."),
        ({"went_well": "x" * 5001}, "went_well", "Ensure this value has at most 5000 characters"),
        ({"group": "999999", "went_well": "x"}, "group", "Select a valid choice."),
    ],
)
def test_bad_input_answers_400_on_the_field_and_saves_nothing(
    alice_client: Client, fields: dict, field: str, error: str
) -> None:
    response = _post(alice_client, **fields)
    assert response.status_code == 400
    assert response.context["form"].errors[field][0].startswith(error)
    assert not SessionReview.objects.exists() and not _saved()


def test_another_users_group_and_notes_stay_out_of_reach(
    route: Route, alice_client: Client, bob_client: Client, bob: User
) -> None:
    # Arrange: Alice's note on her group.
    _post(alice_client, group=route.group.pk, went_well="Alice's secret edge")
    # Bob cannot write on Alice's group (not among his choices) ...
    response = _post(bob_client, group=route.group.pk, went_well="x")
    assert response.status_code == 400
    assert "group" in response.context["form"].errors
    # ... nor through the service.
    with pytest.raises(ApplicationError, match="no such copy group of yours"):
        session_review_save(
            owner=bob, trading_date=FRIDAY, group_id=route.group.pk, went_well="x", to_change=""
        )
    # Nor read it: not on his journal, his CSVs or the form.
    assert "Alice's secret edge" not in bob_client.get("/journal/").content.decode()
    assert _csv(bob_client.get(reverse("session_review_export"))) == []
    form = bob_client.get(URL, {"date": "2026-03-06", "group": route.group.pk}).context["form"]
    assert form.initial["went_well"] == ""
    journal_csv = b"".join(bob_client.get(reverse("journal_export")).streaming_content)
    assert b"secret edge" not in journal_csv


def test_the_reviews_csv_and_the_journal_csv_hold_the_notes(
    route: Route, alice_client: Client
) -> None:
    _post(alice_client, went_well="=HYPERLINK(1)", to_change="Trade less")
    _post(alice_client, trading_date="2026-03-09", group=route.group.pk, went_well="Monday")
    rows = _csv(alice_client.get(reverse("session_review_export")))
    assert list(rows[0]) == list(REVIEW_CSV_COLUMNS)
    assert [(r["trading_date"], r["group"], r["went_well"], r["to_change"]) for r in rows] == [
        ("2026-03-09", "Evals", "Monday", ""),
        # A cell a spreadsheet would run as a formula is defused.
        ("2026-03-06", "(whole day)", "'=HYPERLINK(1)", "Trade less"),
    ]
    one_day = _csv(alice_client.get(reverse("session_review_export"), {"since": "2026-03-09"}))
    assert [r["trading_date"] for r in one_day] == ["2026-03-09"]
    assert alice_client.get(reverse("session_review_export"), {"since": "March"}).status_code == 400
    journal = _csv(
        alice_client.get(reverse("journal_export"), {"event_type": "session_review.saved"})
    )
    assert len(journal) == 2
    assert all("Session review of" in r["message"] for r in journal)
    assert '"to_change": "Trade less"' in journal[1]["after"]
