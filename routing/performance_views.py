"""A route's performance page: measured latency and slippage per follower,
equity curves and copy variance, and the JSON the page re-reads live.

Views parse, call a selector and render (:mod:`routing.copy_quality`,
:mod:`routing.equity`). Another user's group is a 404, on the page and in
the JSON alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.core.charts import chart_library
from routing.copy_quality import copy_quality, copy_quality_payload
from routing.engine.sessions import trading_date
from routing.equity import RANGE_DAYS_MAX, group_equity, group_equity_payload
from routing.view_lookups import group_or_404

# The range links above the charts: label -> trading dates back from today.
RANGE_CHOICES = (("This session", 0), ("7 days", 6), ("30 days", 29), ("90 days", 89))


class EquityRangeForm(forms.Form):
    """``first`` and ``last`` trading dates (ISO), inclusive; each defaults
    to the current session's trading date."""

    first = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    last = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, data: Any, *, today: date) -> None:
        super().__init__(data)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        first = data.get("first") or self.today
        last = data.get("last") or self.today
        if last < first:
            self.add_error("last", f"The last trading date {last} is before the first {first}.")
        elif (last - first).days + 1 > RANGE_DAYS_MAX:
            self.add_error("first", f"A range covers at most {RANGE_DAYS_MAX} days.")
        data["first"], data["last"] = first, last
        return data


def _ranges(today: date) -> list[dict[str, str]]:
    return [
        {"label": label, "first": (today - timedelta(days=back)).isoformat()}
        for label, back in RANGE_CHOICES
    ]


@login_required
@require_GET
def group_performance(request: HttpRequest, group_id: int) -> HttpResponse:
    """``/groups/<id>/performance/?first=&last=``: this session's latency
    and slippage per follower and for the route (p50/p99), and the equity
    curves and copy variance over the trading dates asked (default: the
    current session). A bad range shows its error and no curves."""
    group = group_or_404(request, group_id)
    now = timezone.now()
    today = trading_date(now)
    form = EquityRangeForm(request.GET, today=today)
    quality = copy_quality_payload(copy_quality(group=group, at=now))
    equity = None
    if form.is_valid():
        equity = group_equity_payload(
            group_equity(
                group=group,
                first=form.cleaned_data["first"],
                last=form.cleaned_data["last"],
                at=now,
            )
        )
    context = {
        "group": group,
        "form": form,
        "today": today.isoformat(),
        "ranges": _ranges(today),
        "quality": quality,
        "equity": equity,
        "chart_library": chart_library(),
    }
    return render(request, "routing/performance.html", context)


class GroupPerformanceApi(APIView):
    """GET the route's measured latency and slippage this session
    (:func:`routing.copy_quality.copy_quality_payload`)."""

    def get(self, request: Request, group_id: int) -> Response:
        group = group_or_404(request, group_id)  # type: ignore[arg-type]
        return Response(copy_quality_payload(copy_quality(group=group, at=timezone.now())))


class GroupEquityApi(APIView):
    """GET ``?first=&last=`` (ISO trading dates, default the current
    session): the route's equity curves and copy variance
    (:func:`routing.equity.group_equity_payload`); a bad range is a 400
    with the errors by field."""

    def get(self, request: Request, group_id: int) -> Response:
        group = group_or_404(request, group_id)  # type: ignore[arg-type]
        now: datetime = timezone.now()
        form = EquityRangeForm(request.query_params, today=trading_date(now))
        if not form.is_valid():
            return Response({f: list(errors) for f, errors in form.errors.items()}, status=400)
        equity = group_equity(
            group=group, first=form.cleaned_data["first"], last=form.cleaned_data["last"], at=now
        )
        return Response(group_equity_payload(equity))
