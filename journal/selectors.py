"""Reads for the journal pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import F, Q, QuerySet

from accounts.models import User
from journal.models import ExportImport, ImportJob, JournalEntry, SessionReview
from routing.engine.sessions import session_bounds
from routing.engine.watch import ReasonCode
from routing.models import Incident

IMPORT_JOBS_SHOWN = 10


def journal_entries_for_user(
    *, user: User, group_id: int | None = None, limit: int = 200
) -> QuerySet[JournalEntry]:
    entries = JournalEntry.objects.filter(owner_id=user.pk)
    if group_id is not None:
        entries = entries.filter(group_id=group_id)
    return entries.order_by("-occurred_at", "-id")[:limit]


def reason_codes() -> list[tuple[str, str]]:
    """The stable codes a halt, a route lock or an incident is journaled
    with (:class:`routing.engine.watch.ReasonCode`, ``Incident.Kind``), as
    ``(code, label)`` choices."""
    codes = {code.value: code.value.replace("_", " ") for code in ReasonCode}
    codes.update({kind.value: str(kind.label) for kind in Incident.Kind})
    return sorted(codes.items())


def entries_in_session(entries: QuerySet[JournalEntry], day: date) -> QuerySet[JournalEntry]:
    """``entries`` of the CME session whose trading date is ``day`` (17:00 CT
    the evening before until the next open: :func:`routing.engine.sessions.session_bounds`)."""
    opened, closed = session_bounds(day)
    return entries.filter(occurred_at__gte=opened, occurred_at__lt=closed)


def entries_with_reason(entries: QuerySet[JournalEntry], code: str) -> QuerySet[JournalEntry]:
    """``entries`` journaled with reason ``code``: a halt's
    (``extra_data["code"]``), a route lock's (``after["code"]``) or an
    incident's (``extra_data["kind"]``)."""
    return entries.filter(Q(extra_data__code=code) | Q(after__code=code) | Q(extra_data__kind=code))


def imports_for_user(*, user: User) -> QuerySet[ExportImport]:
    return ExportImport.objects.filter(owner=user).order_by("-id")


def import_jobs_for_group(
    *, user: User, group_id: int, limit: int = IMPORT_JOBS_SHOWN
) -> list[ImportJob]:
    """``user``'s last ``limit`` uploads into group ``group_id``, newest first."""
    return list(ImportJob.objects.filter(owner=user, group_id=group_id).order_by("-id")[:limit])


def import_job_for_user(*, user: User, job_id: int) -> ImportJob | None:
    """Import job ``job_id`` if ``user`` owns it, else ``None`` (another
    user's job is as absent as a missing one)."""
    return ImportJob.objects.filter(owner=user, pk=job_id).first()


def import_job_payload(job: ImportJob) -> dict[str, Any]:
    """What the group page shows of a job (JSON-able).

    ``status`` is pending/running/done/failed; ``bytes_read`` of
    ``total_bytes`` is the progress (``percent``, 0 to 100, whole); ``rows``
    the data rows read; ``error`` why it failed ("" otherwise); ``notes``
    ``[{"level", "text"}]`` what happened once done; ``open`` whether it may
    still change (the page polls while it is).
    """
    return {
        "id": job.pk,
        "file_name": job.file_name,
        "status": job.status,
        "status_label": job.get_status_display(),
        "open": job.is_open,
        "rows": job.rows_read,
        "bytes_read": job.bytes_read,
        "total_bytes": job.total_bytes,
        "percent": job.percent,
        "error": job.error,
        "notes": job.notes,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def session_reviews_for_user(
    *,
    user: User,
    since: date | None = None,
    until: date | None = None,
    group_id: int | None = None,
    limit: int | None = None,
) -> list[SessionReview]:
    """``user``'s session reviews (never another user's), newest trading date
    first, the whole day's before a group's: trading dates ``since`` to
    ``until`` (both included, either open), with ``group_id`` that group's
    notes and the whole day's; at most ``limit``."""
    reviews = SessionReview.objects.filter(owner=user)
    if since is not None:
        reviews = reviews.filter(trading_date__gte=since)
    if until is not None:
        reviews = reviews.filter(trading_date__lte=until)
    if group_id is not None:
        reviews = reviews.filter(Q(group_id=group_id) | Q(group_id__isnull=True))
    ordered = reviews.order_by("-trading_date", F("group_id").asc(nulls_first=True), "group_name")
    return list(ordered[:limit] if limit is not None else ordered)


def session_review_for(
    *, user: User, trading_date: date, group_id: int | None
) -> SessionReview | None:
    """``user``'s note for ``trading_date`` about group ``group_id`` (``None``:
    the whole day), or ``None``."""
    return SessionReview.objects.filter(
        owner=user, trading_date=trading_date, group_id=group_id
    ).first()
