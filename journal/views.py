"""The journal page: every decision and change, newest first, filterable by
event type, copy group, account, trading session, reason code and date
range, in pages, and exported as CSV with the same filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from accounts.models import User
from accounts.selectors import broker_accounts_for_user
from journal.csv_export import csv_download, csv_lines, stamped, utc_days
from journal.models import EventType, JournalEntry
from journal.selectors import (
    entries_in_session,
    entries_with_reason,
    imports_for_user,
    reason_codes,
    session_reviews_for_user,
)
from routing.selectors import groups_for_user

PAGE_SIZE = 100
REVIEWS_SHOWN = 7  # without dates: the latest notes
CSV_COLUMNS = (
    "occurred_at_utc",
    "event_type",
    "actor",
    "group_id",
    "account_id",
    "message",
    "before",
    "after",
    "extra_data",
)


class JournalFilterForm(forms.Form):
    """The journal's filters (GET): an event type, one of the user's groups,
    one of the user's accounts, a trading session (its CME trading date:
    17:00 CT the evening before to the next open), a reason code, and a
    range of dates (UTC, both ends included)."""

    event_type = forms.ChoiceField(required=False, label="Event")
    # Any id (a deleted group's entries stay in the journal); the list offers live groups.
    group = forms.IntegerField(required=False, min_value=1, label="Group", widget=forms.Select)
    account = forms.IntegerField(required=False, min_value=1, label="Account", widget=forms.Select)
    session = forms.DateField(
        required=False,
        label="Session",
        help_text="Trading date: 17:00 CT the evening before until the next open.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    code = forms.ChoiceField(required=False, label="Reason code")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = [("", "All events")] + [  # type: ignore[attr-defined]
            (code, f"{label} ({code})") for code, label in EventType.choices
        ]
        self.fields["code"].choices = [("", "Any reason"), *reason_codes()]  # type: ignore[attr-defined]
        self.fields["group"].widget.choices = [("", "All groups")] + [  # type: ignore[attr-defined]
            (g.pk, g.name) for g in groups_for_user(user)
        ]
        self.fields["account"].widget.choices = [("", "All accounts")] + [  # type: ignore[attr-defined]
            (a.pk, a.name) for a in broker_accounts_for_user(user)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


def _entries(user: User, filters: dict[str, Any]) -> QuerySet[JournalEntry]:
    """The user's entries (never another user's) matching ``filters``, newest first."""
    entries = JournalEntry.objects.filter(owner_id=user.pk)
    if filters.get("event_type"):
        entries = entries.filter(event_type=filters["event_type"])
    if filters.get("group") is not None:
        entries = entries.filter(group_id=filters["group"])
    if filters.get("account") is not None:
        entries = entries.filter(account_id=filters["account"])
    if filters.get("session") is not None:
        entries = entries_in_session(entries, filters["session"])
    if filters.get("code"):
        entries = entries_with_reason(entries, filters["code"])
    start, end = utc_days(filters.get("since"), filters.get("until"))
    if start is not None:
        entries = entries.filter(occurred_at__gte=start)
    if end is not None:
        entries = entries.filter(occurred_at__lt=end)
    return entries.order_by("-occurred_at", "-id")


def _filters(request: HttpRequest, user: User) -> tuple[JournalFilterForm, dict[str, Any]]:
    """The bound form and the valid filters (none when the form is invalid:
    its errors show and nothing is filtered)."""
    params = request.GET.copy()
    params.pop("page", None)
    form = JournalFilterForm(params or None, user=user)
    if form.is_bound and form.is_valid():
        return form, {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
    return form, {}


@login_required
def journal_list(request: HttpRequest) -> HttpResponse:
    """GET the user's journal, newest first, ``PAGE_SIZE`` entries a page
    (``page``), filtered by ``event_type``, ``group``, ``account`` (ids of
    the user's own), ``session`` (an ISO trading date), ``code`` (a reason
    code) and ``since`` / ``until`` (ISO dates, UTC); invalid
    filters show the form's errors and no filter is applied."""
    user: User = request.user  # type: ignore[assignment]
    form, filters = _filters(request, user)
    page = Paginator(_entries(user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # With one account and both dates chosen, its ledger (orders, fills,
    # journal lines) can be downloaded too.
    ledger = ""
    if all(k in filters for k in ("account", "since", "until")):
        ledger = urlencode(
            {
                "account": filters["account"],
                "since": filters["since"].isoformat(),
                "until": filters["until"].isoformat(),
            }
        )
    return render(
        request,
        "journal/list.html",
        {
            "entries": page.object_list,
            "page": page,
            "query": query.urlencode(),
            "ledger_query": ledger,
            "filter_form": form,
            "filtered": bool(filters),
            "imports": imports_for_user(user=user)[:20],
            # The notes of the days shown (the filter's dates taken as
            # trading dates), else the latest ones.
            "reviews": session_reviews_for_user(
                user=user,
                since=filters.get("since"),
                until=filters.get("until"),
                group_id=filters.get("group"),
                limit=None if "since" in filters or "until" in filters else REVIEWS_SHOWN,
            ),
        },
    )


def _json(value: Any) -> str:
    return "" if value in (None, {}, []) else json.dumps(value, cls=DjangoJSONEncoder)


def _csv_rows(entries: QuerySet[JournalEntry]) -> Iterator[tuple[Any, ...]]:
    for e in entries.iterator(chunk_size=2000):
        yield (
            e.occurred_at.astimezone(UTC).isoformat(),
            e.event_type,
            e.actor_label,
            e.group_id,
            e.account_id,
            e.message,
            _json(e.before),
            _json(e.after),
            _json(e.extra_data),
        )


@login_required
def journal_export(request: HttpRequest) -> StreamingHttpResponse | HttpResponse:
    """GET the user's journal entries matching the page's filters as CSV
    (``CSV_COLUMNS``, UTC times, oldest last as on the page), streamed;
    cells a spreadsheet would run as a formula are prefixed with ``'``.
    Invalid filters: 400 with the errors."""
    user: User = request.user  # type: ignore[assignment]
    form, filters = _filters(request, user)
    if form.is_bound and not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    return csv_download(
        csv_lines(CSV_COLUMNS, _csv_rows(_entries(user, filters))), stamped("journal")
    )
