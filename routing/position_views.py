"""The positions panel's buttons on the group page: *Close* and *Untrack*
one follower position (``routing.services.position_actions``).

POST only, CSRF-checked, owner only: another user's group or follower is a
404. Each form carries the contract and the signed position the page
showed (``symbol``, ``qty``), so a stale page is refused, never acted on.
The outcome is a message on the group page; the close itself is carried
out by the engine worker and shows on the page when it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from copytrade.core.errors import ApplicationError
from routing.engine.bounds import MAX_CONTRACTS
from routing.models import CopyGroup, Follower
from routing.selectors import engine_status
from routing.services.position_actions import position_close_request, position_untrack
from routing.view_lookups import follower_or_404, group_or_404


class PositionForm(forms.Form):
    """The position a button acts on, as the page showed it: the contract
    code and its signed contracts (never 0)."""

    symbol = forms.RegexField(regex=r"^[A-Z0-9]{2,20}$", max_length=20)
    qty = forms.IntegerField(min_value=-MAX_CONTRACTS, max_value=MAX_CONTRACTS)

    def clean_qty(self) -> int:
        qty: int = self.cleaned_data["qty"]
        if qty == 0:
            raise forms.ValidationError("The page showed this position flat: nothing to do.")
        return qty


def _follower_or_404(request: HttpRequest, group_id: int, follower_id: int) -> Follower:
    return follower_or_404(group_or_404(request, group_id), follower_id)


def _act(
    request: HttpRequest,
    group_id: int,
    follower_id: int,
    service: Callable[..., Any],
    done: Callable[[Follower, str, int], None],
) -> HttpResponse:
    follower = _follower_or_404(request, group_id, follower_id)
    group: CopyGroup = follower.group
    form = PositionForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{follower.account.name}: {field}: {' '.join(errors)}")
    else:
        symbol, qty = form.cleaned_data["symbol"], form.cleaned_data["qty"]
        try:
            service(
                user=request.user,
                group=group,
                account_id=follower.account_id,
                symbol=symbol,
                seen_qty=qty,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            done(follower, symbol, qty)
    return redirect(reverse("group_detail", args=[group.pk]) + "#positions")


@login_required
@require_POST
def position_close_view(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """POST ``symbol`` and ``qty``: close that follower position at market
    (:func:`~routing.services.position_actions.position_close_request`)."""

    def done(follower: Follower, symbol: str, qty: int) -> None:
        engine = engine_status()
        text = f"{follower.account.name}: closing {qty:+d} {symbol} at market"
        if engine.status == "running":
            messages.success(request, f"{text}; this page shows it when it is flat.")
        else:
            messages.warning(
                request,
                f"{text}: pending — the copy engine is not running ({engine.status}); the "
                "position closes only when the engine runs.",
            )

    return _act(request, group_id, follower_id, position_close_request, done)


@login_required
@require_POST
def position_untrack_view(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """POST ``symbol`` and ``qty``: leave that follower position to the user
    (:func:`~routing.services.position_actions.position_untrack`)."""

    def done(follower: Follower, symbol: str, qty: int) -> None:
        messages.success(
            request,
            f"{follower.account.name}: {qty:+d} {symbol} untracked: left to you; copying no "
            "longer exits or resizes it.",
        )

    return _act(request, group_id, follower_id, position_untrack, done)
