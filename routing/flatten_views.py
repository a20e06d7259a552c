"""Emergency flatten pages: a confirmation (GET) saying what will happen, and
the press itself (POST, ``routing.services.flatten.flatten_request``).

Per group and for all of the user's groups; another user's group is a 404.
The engine worker carries the flatten out; the press says at once when no
engine is running, and the group page shows the outcome when it is done
(``routing.selectors.flatten_state``, pushed on the live feed).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.models import Position
from routing.models import CopyGroup, CopyOrder, FlattenRequest, Follower
from routing.selectors import engine_status, group_for_user, groups_for_user
from routing.services.flatten import flatten_request


def _preview(user: User, groups: list[CopyGroup], group: CopyGroup | None) -> dict[str, Any]:
    """What a flatten of ``groups`` touches: followers with their open
    positions (journal), working orders, and the pending request if any."""
    followers = list(
        Follower.objects.filter(group__in=groups)
        .select_related("account", "group")
        .order_by("group__name", "pk")
    )
    account_ids = [f.account_id for f in followers]
    positions: dict[int, list[Position]] = {i: [] for i in account_ids}
    for row in (
        Position.objects.filter(account_id__in=account_ids).exclude(qty=0).order_by("symbol")
    ):
        positions[row.account_id].append(row)
    open_orders = CopyOrder.objects.filter(
        account_id__in=account_ids, status__in=CopyOrder.OPEN_STATUSES
    ).count()
    return {
        "groups": groups,
        "group": group,
        "rows": [(f, positions[f.account_id]) for f in followers],
        "open_orders": open_orders,
        "pending": FlattenRequest.objects.filter(
            owner=user, group=group, status=FlattenRequest.Status.PENDING
        ).first(),
        "engine_embedded": settings.ENGINE_EMBEDDED,
    }


def _press(request: HttpRequest, group: CopyGroup | None) -> bool:
    """POST: flatten; a message says what happened. False when refused."""
    user: User = request.user  # type: ignore[assignment]
    scope = group.name if group is not None else "all your groups"
    try:
        pending, created = flatten_request(user=user, group=group)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return False
    engine = engine_status()
    if created and engine.status != "running":
        # Said at once: nothing closes until an engine runs (issue 10).
        messages.error(
            request,
            f"Emergency flatten of {scope}: pending — the copy engine is not running "
            f"({engine.status}). New entries are refused now (level 4 Locked); follower "
            "positions close only when the engine runs. This page shows the outcome.",
        )
    elif created:
        messages.warning(
            request,
            f"Emergency flatten of {scope}: new entries are refused (level 4 Locked); the engine "
            f"is cancelling working follower orders and closing every follower position. "
            f"This page shows the outcome when it is done.",
        )
    else:
        messages.info(
            request,
            f"An emergency flatten of {scope} is already under way (requested by "
            f"{pending.requested_by}); nothing new queued.",
        )
    return True


@login_required
@require_http_methods(["GET", "POST"])
def group_flatten(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET: confirm an emergency flatten of one group; POST: do it."""
    user: User = request.user  # type: ignore[assignment]
    group = group_for_user(user=user, group_id=group_id)
    if group is None:
        raise Http404("No such copy group")
    if request.method == "POST":
        _press(request, group)
        return redirect("group_detail", group_id=group.pk)
    return render(request, "routing/flatten_confirm.html", _preview(user, [group], group))


@login_required
@require_http_methods(["GET", "POST"])
def flatten_all(request: HttpRequest) -> HttpResponse:
    """GET: confirm an emergency flatten of all the user's groups; POST: do it."""
    user: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        _press(request, None)
        return redirect("dashboard")
    return render(
        request, "routing/flatten_confirm.html", _preview(user, groups_for_user(user), None)
    )
