"""The journal page: every decision and change, newest first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from journal.selectors import imports_for_user, journal_entries_for_user


@login_required
def journal_list(request: HttpRequest) -> HttpResponse:
    group_id = request.GET.get("group")
    entries = journal_entries_for_user(
        user=request.user,  # type: ignore[arg-type]
        group_id=int(group_id) if group_id and group_id.isdigit() else None,
    )
    return render(
        request,
        "journal/list.html",
        {"entries": entries, "imports": imports_for_user(user=request.user)[:20]},  # type: ignore[arg-type]
    )
