"""Uploading a broker export into a group, and following it while it is read.

The upload is stored and queued (``routing.services.import_jobs``); the
request redirects back to the group page at once, where the job's progress
is shown and polled (:class:`ImportJobApi`) until it ends (issue 10,
defect 9). Another user's group or job is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.selectors import import_job_for_user, import_job_payload
from routing.forms import ExportUploadForm
from routing.selectors import group_for_user
from routing.services.import_jobs import import_job_create
from routing.uploads import CappedUploadHandler, format_bytes


# The upload handler has to be in place before anything reads the body, and
# the CSRF check reads it (request.POST): so the view is exempt and checks
# CSRF itself once the handler is set (Django's "Modifying upload handlers
# on the fly").
@csrf_exempt
@login_required
@require_POST
def group_upload(request: HttpRequest, group_id: int) -> HttpResponse:
    """POST (multipart) an export to import and replay into group ``group_id``.

    Fields as :class:`~routing.forms.ExportUploadForm`. The file is received
    into a temporary file up to ``settings.UPLOAD_MAX_BYTES`` (a larger one
    is refused naming its size and the cap, nothing kept), stored and
    queued to be read in the background; redirects to the group page at
    once, where the job's progress shows.
    """
    request.upload_handlers = [
        CappedUploadHandler(request, max_bytes=settings.UPLOAD_MAX_BYTES)  # type: ignore[list-item]
    ]
    return _group_upload(request, group_id)


@csrf_protect
def _group_upload(request: HttpRequest, group_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    group = group_for_user(user=user, group_id=group_id)
    if group is None:
        raise Http404("No such copy group")
    page = reverse("group_detail", args=[group.pk]) + "#imports"
    form = ExportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect(page)
    upload = form.cleaned_data["file"]
    try:
        job = import_job_create(
            owner=user,
            group=group,
            upload=upload,
            tz=form.cleaned_data["timezone"],
            leader_account=form.cleaned_data["leader_account"],
            interval_ms=form.cleaned_data["interval_ms"],
        )
    except ApplicationError as exc:
        messages.error(request, f"{exc.field or 'file'}: {exc.message}")
        return redirect(page)
    messages.info(
        request,
        f"Received {job.file_name} ({format_bytes(job.total_bytes)}); it is read in the "
        "background: progress below.",
    )
    return redirect(page)


class ImportJobApi(APIView):
    """GET one of the user's import jobs as ``journal.selectors.import_job_payload``
    (status, progress, error, notes); another user's job is a 404."""

    def get(self, request: Request, job_id: int) -> Response:
        job = import_job_for_user(user=request.user, job_id=job_id)  # type: ignore[arg-type]
        if job is None:
            raise Http404("No such import")
        return Response(import_job_payload(job))
