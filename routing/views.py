"""Dashboard pages and the group snapshot API. Views parse, call a selector
or service, and render; no business rules live here. Uploads are in
``routing.upload_views``; contract mappings, follower sizing and risk
limits in ``routing.settings_views``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.reauth import dangerous_action, reauthentication_recent, require_reauthentication
from accounts.selectors import broker_account_exists_for_user
from copytrade.core.errors import ApplicationError
from journal.selectors import import_jobs_for_group
from routing.cockpit import group_snapshot
from routing.engine.limits import RouteLevel
from routing.engine.watch import plain
from routing.forms import (
    CopyGroupForm,
    CopyGroupSettingsForm,
    ExportUploadForm,
    FollowerAddForm,
    RouteLevelForm,
)
from routing.models import (
    CopyGroup,
    Desync,
    GroupWebhook,
    Quarantine,
    ReplayJob,
)
from routing.route_budget import route_budget
from routing.selectors import (
    flatten_state,
    group_for_user,
    groups_for_user,
    route_connections,
)
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.group_rules import (
    copy_group_delete,
    copy_group_delete_preview,
    copy_group_pause,
    copy_group_resume,
    copy_group_update,
    follower_pause,
    follower_resume,
)
from routing.services.quarantines import quarantine_release
from routing.services.reconcile import desync_sync, desync_untrack
from routing.services.route_levels import route_level_set, route_review
from routing.view_lookups import RACE_MESSAGE, follower_or_404, group_or_404


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The user's copy groups; one group opens directly, none shows the first step."""
    groups = groups_for_user(request.user)  # type: ignore[arg-type]
    if len(groups) == 1:
        return redirect("group_detail", group_id=groups[0].pk)
    flatten = flatten_state(owner_id=request.user.pk, group=None)
    context = {
        "groups": groups,
        "flatten": flatten,
        # Without groups the page shows the first step: add an account, or
        # (with accounts already) create a group.
        "has_accounts": bool(groups) or broker_account_exists_for_user(request.user),  # type: ignore[arg-type]
    }
    return render(request, "routing/dashboard.html", context)


def _add_error(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Show a service's refusal on the field it names (else above the form)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the page the button was on (``next``), if it is ours."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


def _render_group(
    request: HttpRequest, group: CopyGroup, follower_form: FollowerAddForm | None = None
) -> HttpResponse:
    replay = ReplayJob.objects.filter(group=group).order_by("-pk").first()
    budget = route_budget(group=group, at=timezone.now())
    risk_state = {b.follower_id: b for b in budget.followers}
    followers = list(
        group.followers.select_related("account", "account__risk_limit").order_by("pk")
    )
    for follower in followers:
        # This session's risk state (eligible, or why not) beside each row.
        follower.budget = risk_state.get(follower.pk)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "group": group,
        "groups": groups_for_user(request.user),  # type: ignore[arg-type]
        "budget": budget,
        "followers": followers,
        "replay": replay,
        "flatten": flatten_state(owner_id=group.owner_id, group=group),
        "upload_form": ExportUploadForm(),
        "import_jobs": import_jobs_for_group(user=request.user, group_id=group.pk),  # type: ignore[arg-type]
        "follower_form": follower_form or FollowerAddForm(owner=request.user),  # type: ignore[arg-type]
        "engine_embedded": settings.ENGINE_EMBEDDED,
        "webhook": GroupWebhook.objects.filter(group=group).first(),
        # Platform -> adapter connection state, from the engine's heartbeats.
        "connections": route_connections(group=group),
        "quarantines": Quarantine.objects.filter(follower__group=group, released_at__isnull=True)
        .select_related("follower__account")
        .order_by("pk"),
        "desyncs": Desync.objects.filter(follower__group=group, status=Desync.Status.OPEN)
        .select_related("follower__account")
        .order_by("pk"),
    }
    return render(request, "routing/group.html", context)


@login_required
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    return _render_group(request, group_or_404(request, group_id))


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    """GET the new-group form; POST creates the group through ``copy_group_create``."""
    user = request.user
    if request.method != "POST":
        form = CopyGroupForm(owner=user)  # type: ignore[arg-type]
        return render(request, "routing/group_form.html", {"form": form, "group": None})
    form = CopyGroupForm(request.POST, owner=user)  # type: ignore[arg-type]
    if form.is_valid():
        try:
            with transaction.atomic():
                group = copy_group_create(
                    owner=user,  # type: ignore[arg-type]
                    actor_label=user.username,
                    # Copies one contract per follower until the trader raises it.
                    level=CopyGroup.Level.TEST,
                    **form.group_settings(),
                )
                # Route limits set on the new-group form: journaled as a change.
                copy_group_update(group=group, actor=user, data=form.route_limits())  # type: ignore[arg-type]
        except ApplicationError as exc:
            _add_error(form, exc)
        except IntegrityError:
            form.add_error(None, RACE_MESSAGE)
        else:
            messages.success(
                request,
                f"Created {group.name} led by {group.leader_label}, at level 1 Test: each "
                "follower copies one contract until you raise the level. Add followers below.",
            )
            return redirect("group_detail", group_id=group.pk)
    return render(request, "routing/group_form.html", {"form": form, "group": None})


@login_required
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET a group's settings form (no leader: it is fixed); POST saves the
    changes through ``copy_group_update``."""
    group = group_or_404(request, group_id)
    # The form writes into its instance while validating; keep ``group``
    # as stored for the page heading.
    instance = copy.copy(group)
    if request.method != "POST":
        form = CopyGroupSettingsForm(instance=instance, owner=request.user)  # type: ignore[arg-type]
        return render(request, "routing/group_form.html", {"form": form, "group": group})
    form = CopyGroupSettingsForm(request.POST, instance=instance, owner=request.user)  # type: ignore[arg-type]
    if form.is_valid():
        try:
            changed = copy_group_update(
                group=group,
                actor=request.user,  # type: ignore[arg-type]
                data=form.cleaned_data,
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        except IntegrityError:
            form.add_error(None, RACE_MESSAGE)
        else:
            if changed:
                messages.success(request, f"Saved the settings of {group.name}.")
            else:
                messages.info(request, f"Nothing changed in {group.name}.")
            return redirect("group_detail", group_id=group.pk)
    return render(request, "routing/group_form.html", {"form": form, "group": group})


@login_required
@require_POST
def group_follower_add(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST an account and ratio: the account follows the group
    (``follower_add``); errors are shown on the group page's form."""
    group = group_or_404(request, group_id)
    form = FollowerAddForm(request.POST, owner=request.user)  # type: ignore[arg-type]
    if form.is_valid():
        try:
            follower = follower_add(
                group=group,
                account=form.cleaned_data["account"],
                ratio=form.cleaned_data["ratio"],
                sizing_basis=form.cleaned_data["sizing_basis"],
                actor_label=request.user.username,
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        except IntegrityError:
            form.add_error(None, RACE_MESSAGE)
        else:
            messages.success(
                request,
                f"{follower.account.name} now follows {group.name} at ratio "
                f"{plain(follower.ratio)}"
                + (
                    " x its balance / the leader's."
                    if follower.sizing_basis == "percent_of_balance"
                    else "."
                ),
            )
            return redirect("group_detail", group_id=group.pk)
    return _render_group(request, group, follower_form=form)


def _toggle(
    request: HttpRequest,
    group: CopyGroup,
    service: Callable[..., bool],
    target: dict[str, Any],
    messages_: tuple[str, str],
) -> HttpResponse:
    """Call a pause / resume service on ``target``; say whether it changed anything."""
    changed, unchanged = messages_
    try:
        if service(actor=request.user, **target):
            messages.success(request, changed)
        else:
            messages.info(request, unchanged)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(request, reverse("group_detail", args=[group.pk]))


@login_required
@require_POST
def group_pause(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: pause the whole group (``copy_group_pause``)."""
    group = group_or_404(request, group_id)
    return _toggle(
        request,
        group,
        copy_group_pause,
        {"group": group},
        (
            f"Paused {group.name}: the leader's new entries are not copied; exits still "
            "are, so followers are not left holding positions the leader closed.",
            f"{group.name} was already paused.",
        ),
    )


@dangerous_action
@require_POST
def group_resume(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: resume the whole group (``copy_group_resume``)."""
    group = group_or_404(request, group_id)
    return _toggle(
        request,
        group,
        copy_group_resume,
        {"group": group},
        (
            f"Resumed {group.name}: the leader's next entry is copied again.",
            f"{group.name} was already running.",
        ),
    )


@login_required
@require_POST
def group_follower_pause(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """POST: pause one follower of the group (``follower_pause``)."""
    group = group_or_404(request, group_id)
    follower = follower_or_404(group, follower_id)
    name = follower.account.name
    return _toggle(
        request,
        group,
        follower_pause,
        {"follower": follower},
        (
            f"Paused {name}: new entries are not copied into it; exits still are.",
            f"{name} was already paused.",
        ),
    )


@dangerous_action
@require_POST
def group_follower_resume(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """POST: resume one follower of the group (``follower_resume``)."""
    group = group_or_404(request, group_id)
    follower = follower_or_404(group, follower_id)
    name = follower.account.name
    return _toggle(
        request,
        group,
        follower_resume,
        {"follower": follower},
        (
            f"Resumed {name}: the leader's next entry is copied into it again.",
            f"{name} was already running.",
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET a confirmation naming what goes and what stays; POST deletes
    the group (``copy_group_delete``) and returns to the dashboard."""
    group = group_or_404(request, group_id)
    if request.method == "POST":
        name = group.name
        try:
            copy_group_delete(group=group, actor=request.user)  # type: ignore[arg-type]
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("group_delete", group_id=group.pk)
        messages.success(request, f"Deleted {name}. Its journal entries are kept.")
        return redirect("dashboard")
    preview = copy_group_delete_preview(group=group)
    return render(request, "routing/group_delete.html", {"group": group, "preview": preview})


class GroupSnapshotApi(APIView):
    """GET the group page's state: last 25 copy orders, follower positions
    and PnL, and the user's feed sequence number (the page's resync point)."""

    def get(self, request: Request, group_id: int) -> Response:
        group = group_for_user(user=request.user, group_id=group_id)  # type: ignore[arg-type]
        if group is None:
            raise Http404("No such copy group")
        return Response(group_snapshot(user=request.user, group=group, at=timezone.now()))  # type: ignore[arg-type]


@dangerous_action
@require_POST
def quarantine_release_view(
    request: HttpRequest, group_id: int, quarantine_id: int
) -> HttpResponse:
    """POST: release a symbol quarantine now (``quarantine_release``), journaled."""
    group = group_or_404(request, group_id)
    quarantine = get_object_or_404(Quarantine, pk=quarantine_id, follower__group=group)
    released = quarantine_release(
        quarantine=quarantine, actor_label=request.user.username, actor_user_id=request.user.pk
    )
    name = quarantine.follower.account.name
    if released:
        messages.success(request, f"{name}: {quarantine.symbol} released; entries copy again.")
    else:
        messages.info(request, f"{name}: {quarantine.symbol} was already released.")
    return redirect("group_detail", group_id=group.pk)


@login_required
@require_POST
def desync_action(request: HttpRequest, group_id: int, desync_id: int, action: str) -> HttpResponse:
    """POST: resolve a desync by *sync* (an order for the difference) or
    *untrack* (leave the difference to the user), journaled with who did it."""
    group = group_or_404(request, group_id)
    desync = get_object_or_404(Desync, pk=desync_id, follower__group=group)
    if action not in ("sync", "untrack"):
        raise Http404("unknown desync action")
    service = desync_sync if action == "sync" else desync_untrack
    try:
        service(desync=desync, actor_label=request.user.username, actor_user_id=request.user.pk)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        name = desync.follower.account.name
        if action == "sync":
            messages.success(
                request, f"{name}: order sent to bring {desync.symbol} to {desync.expected:+d}."
            )
        else:
            messages.success(
                request,
                f"{name}: {desync.actual - desync.expected:+d} {desync.symbol} left to you "
                "(untracked).",
            )
    return redirect("group_detail", group_id=group.pk)


# -- route budget: pre-session check, level, review, risk limits ----------------------


def _render_budget(
    request: HttpRequest, group: CopyGroup, level_form: RouteLevelForm | None = None
) -> HttpResponse:
    context = {
        "group": group,
        "budget": route_budget(group=group, at=timezone.now()),
        "level_form": level_form or RouteLevelForm(initial={"level": group.level}),
    }
    return render(request, "routing/budget.html", context)


@login_required
@require_http_methods(["GET"])
def group_budget(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET the pre-session check: the route budget (``route_budget``) for
    the current session, the level form and the review button."""
    return _render_budget(request, group_or_404(request, group_id))


@login_required
@require_POST
def group_level(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST a level and a reason: ``route_level_set`` (journaled); a refusal
    (leaving 4 Locked without a reason) is shown on the budget page's form."""
    group = group_or_404(request, group_id)
    form = RouteLevelForm(request.POST)
    if form.is_valid():
        level = form.cleaned_data["level"]
        leaving_lock = group.level == RouteLevel.LOCKED and level is not RouteLevel.LOCKED
        if leaving_lock and form.cleaned_data["reason"].strip():
            # Leaving 4 re-enables copying after an incident: confirm it is the
            # owner (allauth replays this POST after the confirmation). Without
            # a reason the service refuses first, on this page.
            require_reauthentication(request)
        try:
            changed = route_level_set(
                group=group,
                level=level,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data["reason"],
                unlock_confirmed=reauthentication_recent(request),
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            if changed:
                messages.success(request, f"{group.name} is now at level {level.label}.")
            else:
                messages.info(request, f"{group.name} was already at level {level.label}.")
            return redirect("group_budget", group_id=group.pk)
    return _render_budget(request, group, level_form=form)


@login_required
@require_POST
def group_review(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST: mark the route reviewed for the current session (``route_review``)."""
    group = group_or_404(request, group_id)
    try:
        if route_review(group=group, actor=request.user):  # type: ignore[arg-type]
            messages.success(
                request, f"{group.name} marked reviewed for session {group.reviewed_on}."
            )
        else:
            messages.info(request, f"{group.name} was already reviewed for this session.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("group_budget", group_id=group.pk)
