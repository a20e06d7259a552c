"""The journal page: every decision and change, newest first, filterable by
event type and copy group."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from journal.models import EventType, JournalEntry
from journal.selectors import imports_for_user
from routing.selectors import groups_for_user

JOURNAL_LENGTH = 200


class JournalFilterForm(forms.Form):
    """The journal's filters (GET): an event type and one of the user's groups."""

    event_type = forms.ChoiceField(required=False, label="Event")
    # Any id (a deleted group's entries stay in the journal); the list offers live groups.
    group = forms.IntegerField(required=False, min_value=1, label="Group", widget=forms.Select)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = [("", "All events")] + [  # type: ignore[attr-defined]
            (code, f"{label} ({code})") for code, label in EventType.choices
        ]
        self.fields["group"].widget.choices = [("", "All groups")] + [  # type: ignore[attr-defined]
            (g.pk, g.name) for g in groups_for_user(user)
        ]


def _entries(*, user: User, event_type: str, group_id: int | None) -> list[JournalEntry]:
    entries = JournalEntry.objects.filter(owner_id=user.pk)
    if event_type:
        entries = entries.filter(event_type=event_type)
    if group_id is not None:
        entries = entries.filter(group_id=group_id)
    return list(entries.order_by("-occurred_at", "-id")[:JOURNAL_LENGTH])


@login_required
def journal_list(request: HttpRequest) -> HttpResponse:
    """GET the user's last 200 journal entries (each with its event type,
    actor and message), optionally of one ``event_type`` and/or one
    ``group`` (an id of the user's groups); invalid filters show the form's
    errors and no filter is applied."""
    user: User = request.user  # type: ignore[assignment]
    form = JournalFilterForm(request.GET or None, user=user)
    event_type, group_id = "", None
    if form.is_bound and form.is_valid():
        event_type = form.cleaned_data["event_type"]
        group_id = form.cleaned_data["group"]
    return render(
        request,
        "journal/list.html",
        {
            "entries": _entries(user=user, event_type=event_type, group_id=group_id),
            "filter_form": form,
            "filtered": bool(event_type or group_id is not None),
            "imports": imports_for_user(user=user)[:20],
        },
    )
