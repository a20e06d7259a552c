"""Leaderboard, pilot profile and the subscribe button. Views parse, call a
selector or service, and render; the rules live in :mod:`pilots.subscriptions`
and the ranking in :mod:`pilots.ranking`."""

from __future__ import annotations

import calendar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from copytrade.core.charts import chart_library
from copytrade.core.errors import ApplicationError
from pilots import ranking
from pilots.board.series import chart_data
from pilots.board_selectors import (
    HISTORY_DAYS,
    SORTS,
    BoardFilters,
    leaderboard,
    pilot_for_viewer,
    pilot_profile,
)
from pilots.forms import SubscribeForm
from pilots.subscriptions import WATCH_PERIOD, subscription_start


class BoardFilterForm(forms.Form):
    """The leaderboard's query string; an unknown value falls back to the default."""

    market = forms.CharField(required=False, max_length=10)
    history = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=0,
        choices=[("", "Any history")] + [(str(d), f"{d}+ days") for d in HISTORY_DAYS],
    )
    verified = forms.BooleanField(required=False)
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in SORTS])
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])

    def filters(self) -> BoardFilters:
        """The :class:`BoardFilters` asked for (each field that did not validate: its default)."""
        self.is_valid()  # a field that fails is left out of cleaned_data: its default applies
        data = self.cleaned_data
        sort = data.get("sort") or "score"
        direction = data.get("dir")
        return BoardFilters(
            market=(data.get("market") or "").strip().upper(),
            min_days=data.get("history") or 0,
            verified_only=bool(data.get("verified")),
            sort=sort,
            descending=SORTS[sort][1] if not direction else direction == "desc",
        )


def _sort_links(request: HttpRequest, filters: BoardFilters) -> dict[str, dict[str, str]]:
    """Per sort key: the query string that sorts by it (best first; the
    current key's link flips its direction) and the arrow to show."""
    links = {}
    for key, (_, best_desc) in SORTS.items():
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = key
        current = filters.sort == key
        descending = not filters.descending if current else best_desc
        query["dir"] = "desc" if descending else "asc"
        arrow = ("\u25bc" if filters.descending else "\u25b2") if current else ""
        links[key] = {"query": query.urlencode(), "arrow": arrow}
    return links


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """``/pilots/``: listed pilots ranked (sortable, filterable, paginated),
    then the pilots not listed yet with the reasons."""
    form = BoardFilterForm(request.GET)
    filters = form.filters()
    result = leaderboard(
        filters, page=request.GET.get("page"), waiting_page=request.GET.get("waiting")
    )
    # Each section's pager keeps the filters, the sort and the other section's page.
    query_page, query_waiting = request.GET.copy(), request.GET.copy()
    query_page.pop("page", None)
    query_waiting.pop("waiting", None)
    context = {
        "board": result,
        "filters": filters,
        "form": form,
        "history_days": HISTORY_DAYS,
        "sort_links": _sort_links(request, filters),
        "query_page": query_page.urlencode(),
        "query_waiting": query_waiting.urlencode(),
        "ranking": ranking,
    }
    return render(request, "pilots/board/board.html", context)


@login_required
@require_GET
def profile(request: HttpRequest, pilot_id: int) -> HttpResponse:
    """``/pilots/<id>/``: a pilot's statistics with their intervals, equity and
    drawdown charts, monthly returns, verification and the subscribe button."""
    pilot = pilot_for_viewer(pilot_id=pilot_id, viewer=request.user)  # type: ignore[arg-type]
    if pilot is None:
        raise Http404("No such pilot")
    shown = pilot_profile(pilot=pilot, viewer=request.user)  # type: ignore[arg-type]
    context = {
        "pilot": pilot,
        "profile": shown,
        "row": shown.row,
        "chart": chart_data(shown.equity),
        "chart_library": chart_library(),
        "watch_days": WATCH_PERIOD.days,
        "month_names": list(calendar.month_abbr)[1:],
        "ranking": ranking,
    }
    return render(request, "pilots/board/profile.html", context)


@login_required
@require_POST
def subscribe(request: HttpRequest, pilot_id: int) -> HttpResponse:
    """``POST /pilots/<id>/subscribe/``: follow the pilot under the user's plan.

    A refusal (no plan, plan limit, own pilot, ...) is shown as the
    service's message on the profile; success goes to the user's
    subscriptions page when the site has one, else back to the profile.
    """
    pilot = pilot_for_viewer(pilot_id=pilot_id, viewer=request.user)  # type: ignore[arg-type]
    if pilot is None:
        raise Http404("No such pilot")
    back = reverse("pilot_profile", args=[pilot.pk])
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        messages.error(request, f"Not followed: paper balance: {problems}")
        return redirect(back)
    try:
        subscription = subscription_start(
            subscriber=request.user,  # type: ignore[arg-type]
            pilot=pilot,
            at=timezone.now(),
            watch_balance=form.cleaned_data["watch_balance"],
        )
    except ApplicationError as exc:
        messages.error(request, f"Not followed: {exc.message}.")
        return redirect(back)
    messages.success(
        request,
        f"You follow {pilot.display_name}: watching until "
        f"{timezone.localtime(subscription.watch_ends_at):%Y-%m-%d %H:%M %Z}, mirroring "
        "simulated on paper until then.",
    )
    try:
        return redirect(reverse("subscriptions"))
    except NoReverseMatch:  # the subscriptions page comes with the following pages
        return redirect(back)
