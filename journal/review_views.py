"""Session review pages: write or edit the note for a trading date (the
whole day or one group) and download every note as CSV. Owners only: the
group list offers the user's own groups, another user's group id is
refused on the field, and the CSV holds the user's notes alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.csv_export import csv_download, csv_lines, stamped
from journal.models import SessionReview
from journal.selectors import session_review_for, session_reviews_for_user
from journal.session_reviews import session_review_save
from routing.engine.sessions import trading_date
from routing.selectors import groups_for_user

REVIEW_CSV_COLUMNS = (
    "trading_date",
    "group_id",
    "group",
    "went_well",
    "to_change",
    "updated_at_utc",
)


def current_trading_date() -> date:
    """The CME trading date of the session open now (America/Chicago, 17:00 to 16:00)."""
    return trading_date(timezone.now())


class SessionReviewForm(forms.Form):
    """The note for one trading date, about the whole day or one group."""

    trading_date = forms.DateField(
        label="Trading date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The CME session's date (17:00 to 16:00 Chicago time, dated by its close).",
    )
    group = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="About", widget=forms.Select
    )
    went_well = forms.CharField(
        required=False,
        max_length=SessionReview.TEXT_MAX,
        label="What went well",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    to_change = forms.CharField(
        required=False,
        max_length=SessionReview.TEXT_MAX,
        label="What to change",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Leave both empty to remove the note.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "The whole day (all groups)")] + [  # type: ignore[attr-defined]
            (g.pk, g.name) for g in groups_for_user(user)
        ]


def _journal_url(day: date, group_id: int | None) -> str:
    """The journal page showing ``day`` (and the group), at its reviews."""
    query = {"since": day.isoformat(), "until": day.isoformat()}
    if group_id is not None:
        query["group"] = str(group_id)
    return f"{reverse('journal')}?{urlencode(query)}#reviews"


@login_required
@require_http_methods(["GET", "POST"])
def session_review_edit(request: HttpRequest) -> HttpResponse:
    """GET the note for ``?date=`` (default: the current trading date) and
    ``?group=`` (default: the whole day), filled when one exists; POST saves
    it through ``session_review_save`` (journaled) and shows that day on the
    journal. Bad input: 400 with the field's error."""
    user: User = request.user  # type: ignore[assignment]
    if request.method != "POST":
        form = SessionReviewForm(
            {
                "trading_date": request.GET.get("date") or current_trading_date().isoformat(),
                "group": request.GET.get("group", ""),
            },
            user=user,
        )
        day, group_id = current_trading_date(), None
        if form.is_valid():
            day, group_id = form.cleaned_data["trading_date"], form.cleaned_data["group"]
        review = session_review_for(user=user, trading_date=day, group_id=group_id)
        form = SessionReviewForm(
            initial={
                "trading_date": day,
                "group": group_id,
                "went_well": review.went_well if review else "",
                "to_change": review.to_change if review else "",
            },
            user=user,
        )
        return _render(request, form, review is not None)
    form = SessionReviewForm(request.POST, user=user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            changed = session_review_save(
                owner=user,
                trading_date=data["trading_date"],
                group_id=data["group"],
                went_well=data["went_well"],
                to_change=data["to_change"],
            )
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except IntegrityError:
            form.add_error(None, "Another save of this note got there first; submit again.")
        else:
            day = data["trading_date"].isoformat()
            if changed:
                messages.success(request, f"Saved the session review of {day}.")
            else:
                messages.info(request, f"Nothing changed in the session review of {day}.")
            return redirect(_journal_url(data["trading_date"], data["group"]))
    return _render(request, form, exists=False, status=400)


def _render(
    request: HttpRequest, form: SessionReviewForm, exists: bool, status: int = 200
) -> HttpResponse:
    context = {"form": form, "exists": exists, "today": current_trading_date()}
    return render(request, "journal/review_form.html", context, status=status)


def _review_rows(reviews: list[SessionReview]) -> Iterator[tuple[Any, ...]]:
    for r in reviews:
        yield (
            r.trading_date.isoformat(),
            r.group_id,
            r.group_name if r.group_id is not None else "(whole day)",
            r.went_well,
            r.to_change,
            r.updated_at.astimezone(UTC).isoformat(),
        )


class _ReviewRange(forms.Form):
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)


@login_required
def session_review_export(request: HttpRequest) -> StreamingHttpResponse | HttpResponse:
    """GET the user's session reviews as CSV (``REVIEW_CSV_COLUMNS``, newest
    trading date first), trading dates ``since`` to ``until`` when given;
    cells a spreadsheet would run as a formula are prefixed with ``'``. Bad
    dates: 400 with the errors."""
    user: User = request.user  # type: ignore[assignment]
    dates = _ReviewRange(request.GET)
    if not dates.is_valid():
        return HttpResponse(dates.errors.as_text(), status=400, content_type="text/plain")
    reviews = session_reviews_for_user(
        user=user, since=dates.cleaned_data["since"], until=dates.cleaned_data["until"]
    )
    return csv_download(
        csv_lines(REVIEW_CSV_COLUMNS, _review_rows(reviews)), stamped("session-reviews")
    )
