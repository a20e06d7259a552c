"""The journal page: filters by event, group, account and dates, pages, and
the CSV export with the same filters (the user's own entries only; no cell a
spreadsheet would run as a formula)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from journal.models import EventType, JournalEntry
from journal.views import CSV_COLUMNS, PAGE_SIZE

pytestmark = pytest.mark.django_db


def _entry(owner: User, when: datetime, message: str, **fields: object) -> JournalEntry:
    return JournalEntry.objects.create(
        owner_id=owner.pk,
        occurred_at=when,
        actor_label=str(fields.pop("actor", "engine")),
        event_type=fields.pop("event_type", EventType.COPY_ORDER_BLOCKED),
        message=message,
        **fields,
    )


def _rows(response: object) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def client(route: Route) -> Client:
    c = Client()
    c.force_login(route.owner)
    return c


def test_filters_by_account_and_dates_both_ends_included(route: Route, client: Client) -> None:
    owner = route.owner
    _entry(owner, datetime(2026, 3, 2, 23, 59, tzinfo=UTC), "before", account_id=route.small.pk)
    _entry(owner, datetime(2026, 3, 3, 0, 0, tzinfo=UTC), "first day", account_id=route.small.pk)
    _entry(owner, datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "last day", account_id=route.small.pk)
    _entry(owner, datetime(2026, 3, 5, 0, 0, tzinfo=UTC), "after", account_id=route.small.pk)
    other = route.large.pk
    _entry(owner, datetime(2026, 3, 3, 12, 0, tzinfo=UTC), "other account", account_id=other)
    page = client.get(
        reverse("journal"),
        {"account": route.small.pk, "since": "2026-03-03", "until": "2026-03-04"},
    ).text
    assert "first day" in page and "last day" in page
    for left_out in ("before", "after", "other account"):
        assert f"<td>{left_out}</td>" not in page


def test_filters_by_trading_session(route: Route, client: Client) -> None:
    # The session of Tuesday 2026-03-03 runs from Monday 17:00 CST (23:00 UTC)
    # to Tuesday 17:00 CST; the 16:00-17:00 break belongs to it.
    owner = route.owner
    _entry(owner, datetime(2026, 3, 2, 22, 59, tzinfo=UTC), "monday session")
    _entry(owner, datetime(2026, 3, 2, 23, 0, tzinfo=UTC), "tuesday open")
    _entry(owner, datetime(2026, 3, 3, 22, 30, tzinfo=UTC), "tuesday break")
    _entry(owner, datetime(2026, 3, 3, 23, 0, tzinfo=UTC), "wednesday open")
    page = client.get(reverse("journal"), {"session": "2026-03-03"}).text
    assert "<td>tuesday open</td>" in page and "<td>tuesday break</td>" in page
    for left_out in ("monday session", "wednesday open"):
        assert f"<td>{left_out}</td>" not in page


def test_filters_by_reason_code_of_halts_locks_and_incidents(route: Route, client: Client) -> None:
    owner, when = route.owner, datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    _entry(owner, when, "halt on loss", extra_data={"code": "daily_loss"})
    _entry(owner, when, "route locked on loss", after={"level": 4, "code": "daily_loss"})
    _entry(owner, when, "incident", extra_data={"kind": "rejected_order"})
    _entry(owner, when, "drawdown halt", extra_data={"code": "drawdown"})
    page = client.get(reverse("journal"), {"code": "daily_loss"}).text
    assert "<td>halt on loss</td>" in page and "<td>route locked on loss</td>" in page
    assert "<td>incident</td>" not in page and "<td>drawdown halt</td>" not in page
    page = client.get(reverse("journal"), {"code": "rejected_order"}).text
    assert "<td>incident</td>" in page and "<td>halt on loss</td>" not in page
    assert client.get(reverse("journal_export"), {"code": "no_such_code"}).status_code == 400


def test_an_end_before_the_start_is_an_error_on_the_field(client: Client) -> None:
    page = client.get(reverse("journal"), {"since": "2026-03-04", "until": "2026-03-03"}).text
    assert "The end date is before the start date." in page


def test_pages_of_a_hundred_keep_the_filters(route: Route, client: Client) -> None:
    for n in range(PAGE_SIZE + 5):
        _entry(route.owner, datetime(2026, 3, 3, 9, 0, n % 60, tzinfo=UTC), f"entry {n}")
    first = client.get(reverse("journal"), {"event_type": EventType.COPY_ORDER_BLOCKED}).text
    assert "Page 1 of 2" in first
    assert "event_type=copy_order.blocked&amp;page=2" in first
    second = client.get(
        reverse("journal"), {"event_type": EventType.COPY_ORDER_BLOCKED, "page": 2}
    ).text
    assert "Page 2 of 2" in second
    assert second.count('class="ev-copy_orderblocked"') == 5


def test_csv_export_has_the_filtered_entries_of_this_user_only(
    route: Route, client: Client, bob: User
) -> None:
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    _entry(route.owner, when, "Eval 25K: buy MNQH6 blocked", account_id=route.small.pk,
           extra_data={"client_order_id": "ct-1"})  # fmt: skip
    _entry(route.owner, when, "Funded: not this account", account_id=route.large.pk)
    _entry(bob, when, "bob's own entry", account_id=route.small.pk)
    response = client.get(
        reverse("journal_export"),
        {"account": route.small.pk, "event_type": EventType.COPY_ORDER_BLOCKED},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="journal-')
    rows = _rows(response)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["message"] for r in rows] == ["Eval 25K: buy MNQH6 blocked"]
    assert rows[0]["occurred_at_utc"] == "2026-03-03T15:30:00+00:00"
    assert rows[0]["extra_data"] == '{"client_order_id": "ct-1"}'


def test_csv_cells_never_start_a_formula(route: Route, client: Client) -> None:
    _entry(route.owner, datetime(2026, 3, 3, tzinfo=UTC), '=HYPERLINK("http://x","y")',
           actor="@evil")  # fmt: skip
    [row] = _rows(
        client.get(reverse("journal_export"), {"event_type": EventType.COPY_ORDER_BLOCKED})
    )
    assert row["message"] == '\'=HYPERLINK("http://x","y")'
    assert row["actor"] == "'@evil"


def test_csv_export_with_bad_filters_is_400(client: Client) -> None:
    response = client.get(reverse("journal_export"), {"since": "not a date"})
    assert response.status_code == 400
    assert "since" in response.text
