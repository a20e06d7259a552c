"""Dashboard pages and the group snapshot API. Views parse, call a selector
or service, and render; no business rules live here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.core.errors import ApplicationError
from journal.importers.base import ExportError
from journal.importers.detect import parse_export
from journal.services import export_import_create
from routing.forms import ExportUploadForm
from routing.models import ContractSpec, CopyGroup, ReplayJob
from routing.selectors import group_for_user, group_snapshot, groups_for_user
from routing.services.replays import replay_job_create


def _group_or_404(request: HttpRequest, group_id: int) -> CopyGroup:
    group = group_for_user(user=request.user, group_id=group_id)  # type: ignore[arg-type]
    if group is None:
        raise Http404("No such copy group")
    return group


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    groups = groups_for_user(request.user)  # type: ignore[arg-type]
    if len(groups) == 1:
        return redirect("group_detail", group_id=groups[0].pk)
    return render(request, "routing/dashboard.html", {"groups": groups})


@login_required
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request, group_id)
    replay = ReplayJob.objects.filter(group=group).order_by("-pk").first()
    context: dict[str, Any] = {
        "group": group,
        "groups": groups_for_user(request.user),  # type: ignore[arg-type]
        "followers": group.followers.select_related("account", "account__risk_limit").order_by(
            "pk"
        ),
        "replay": replay,
        "upload_form": ExportUploadForm(),
        "engine_embedded": settings.ENGINE_EMBEDDED,
    }
    return render(request, "routing/group.html", context)


@login_required
@require_POST
def group_upload(request: HttpRequest, group_id: int) -> HttpResponse:
    """Import an uploaded export and queue its leader fills into the group."""
    group = _group_or_404(request, group_id)
    form = ExportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("group_detail", group_id=group.pk)
    upload = form.cleaned_data["file"]
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        messages.error(request, f"{upload.name}: not a UTF-8 text file")
        return redirect("group_detail", group_id=group.pk)
    try:
        result = parse_export(
            text,
            name=upload.name,
            tz=form.cleaned_data["timezone"],
            leader_account=form.cleaned_data["leader_account"] or None,
            known_roots=set(ContractSpec.objects.values_list("root", flat=True)),
        )
    except ExportError as exc:
        messages.error(request, f"Nothing imported: {exc}")
        return redirect("group_detail", group_id=group.pk)
    record = export_import_create(
        owner_id=request.user.pk, result=result, actor_label=request.user.username
    )
    if not result.replayable:
        messages.warning(
            request,
            f"Imported {record.trade_count} trades into the journal; not replayed: "
            f"{result.not_replayable_reason}",
        )
        return redirect("group_detail", group_id=group.pk)
    try:
        replay_job_create(
            group=group,
            export_import=record,
            interval_ms=form.cleaned_data["interval_ms"],
            actor_label=request.user.username,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("group_detail", group_id=group.pk)
    messages.success(
        request,
        f"Imported {record.fill_count} leader fills from {upload.name} "
        f"(zone-less times read as {result.timezone}); replay queued into {group.name}.",
    )
    for note in result.notes:
        messages.warning(request, note)
    return redirect("group_detail", group_id=group.pk)


class GroupSnapshotApi(APIView):
    """GET the group page's state: last 25 copy orders, follower positions
    and PnL, and the user's feed sequence number (the page's resync point)."""

    def get(self, request: Request, group_id: int) -> Response:
        group = group_for_user(user=request.user, group_id=group_id)  # type: ignore[arg-type]
        if group is None:
            raise Http404("No such copy group")
        return Response(group_snapshot(user=request.user, group=group, at=timezone.now()))  # type: ignore[arg-type]
