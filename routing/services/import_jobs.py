"""Import jobs: an uploaded broker export stored, then read in the background
(issue 10, defect 9: a 1,000,000-row file read inside the request took
112 s and 2.1 GB).

The request only stores the upload (:func:`import_job_create`, chunk by
chunk) and queues it; a worker reads it (:func:`import_job_run`) as a stream
of rows, never whole, writing its progress every
:data:`PROGRESS_EVERY_ROWS` rows, and refuses it at the first bad row or at
the first row past ``UPLOAD_MAX_ROWS``. All or nothing: a job that fails
stores no ``ExportImport`` and no trades. One that succeeds stores the
import and queues its replay in one transaction, as the request did before.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.importers import ExportError, ImportResult
from journal.importers.detect import parse_export_chunks
from journal.importers.stream import read_chunks
from journal.models import ExportImport, ImportJob
from journal.services import export_import_create
from routing.models import ContractSpec, CopyGroup
from routing.runtime.import_thread import import_thread
from routing.services.replays import replay_job_create
from routing.tasks import IMPORT_JOB_TIME_LIMIT, import_job_parse_task
from routing.uploads import format_bytes, upload_size_problem

logger = logging.getLogger(__name__)

PROGRESS_EVERY_ROWS = 1000
"""Rows read between two progress writes (one UPDATE each)."""

IMPORT_JOB_STALE = timedelta(minutes=15)
"""A job pending or running with no progress for this long has lost its
worker (a restart, a crash): :func:`import_jobs_expire` ends it. Reading
writes progress every few hundred milliseconds, and queued jobs wait
behind jobs that take seconds."""

OPEN = (ImportJob.Status.PENDING, ImportJob.Status.RUNNING)


class _RowCapExceeded(Exception):
    """The file has more data rows than ``UPLOAD_MAX_ROWS``."""


class _JobEnded(Exception):
    """The job ended elsewhere while it was read (expired): stop, store nothing."""


def import_job_create(
    *,
    owner: User,
    group: CopyGroup,
    upload: UploadedFile,
    tz: str,
    leader_account: str,
    interval_ms: int,
) -> ImportJob:
    """Store ``upload`` under ``settings.UPLOAD_DIR`` and queue it to be read;
    returns the PENDING job at once.

    ``tz`` is the IANA zone of the file's zone-less times, ``leader_account``
    whose fills lead ("" for the only account), ``interval_ms`` the replay's
    pacing. The file is copied chunk by chunk (never whole in memory); the
    read is scheduled when the transaction commits (:func:`import_job_schedule`).

    Raises ``ApplicationError`` (``field="file"``) naming the file, its size
    and the cap when it is larger than ``settings.UPLOAD_MAX_BYTES``;
    nothing is stored then.
    """
    problem = upload_size_problem(upload.name or "", upload.size or 0, settings.UPLOAD_MAX_BYTES)
    if problem is not None:
        raise ApplicationError(problem, field="file")
    import_jobs_expire(at=timezone.now())
    stored_name, size = _store_upload(upload)
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                owner=owner,
                group=group,
                file_name=upload.name or stored_name,
                stored_name=stored_name,
                timezone=tz,
                leader_account=leader_account,
                interval_ms=interval_ms,
                total_bytes=size,
            )
            transaction.on_commit(partial(import_job_schedule, job.pk))
    except Exception:
        _delete_upload(stored_name)  # no job refers to it
        raise
    return job


def import_job_schedule(job_id: int) -> None:
    """Have job ``job_id`` read in the background, never in the request.

    With a Celery broker (``REDIS_URL``) a worker runs
    ``import_job_parse_task``. Where tasks run eagerly (the embedded
    default), a task would run inside the request, so the web process's
    import thread reads it instead. A broker that cannot be reached fails
    the job with the reason rather than leaving it pending.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        import_thread.submit(job_id)
        return
    try:
        import_job_parse_task.delay(job_id)
    except OperationalError as exc:
        logger.exception("import job %s could not be queued", job_id)
        _fail(job_id, f"could not be queued for reading ({exc}); upload it again")


def import_jobs_resume(*, at: datetime | None = None) -> list[int]:
    """What the embedded default's import thread takes up when the web
    process starts: jobs left RUNNING were being read by the previous
    process (the only reader) and end FAILED ("interrupted by a restart"),
    their files deleted; the ids of jobs still PENDING, oldest first, are
    returned to be read. ``at`` aware UTC, default now."""
    at = at or timezone.now()
    orphans = list(
        ImportJob.objects.filter(status=ImportJob.Status.RUNNING).values_list("pk", "stored_name")
    )
    for job_id, stored_name in orphans:
        ended = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.FAILED,
            error="interrupted: the server restarted while reading it; nothing imported, "
            "upload it again",
            stored_name="",
            finished_at=at,
            updated_at=at,
        )
        if ended and stored_name:
            _delete_upload(stored_name)
    return list(
        ImportJob.objects.filter(status=ImportJob.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Read a pending job's stored upload and import it; the job as it ended.

    Claims the job (pending -> running, one conditional UPDATE); returns
    ``None`` when it is not pending (another worker has it, or it ended).
    Rows are streamed (``journal.importers.parse_export_chunks``) with
    progress written every :data:`PROGRESS_EVERY_ROWS` rows. Ends FAILED,
    with nothing stored, on a bad file or row (the error names the file, row
    and field), on a file with more than ``settings.UPLOAD_MAX_ROWS`` data
    rows, or when the group was deleted meanwhile; else DONE with its
    :class:`ExportImport`, the replay queued and ``notes`` saying so. The
    stored file is deleted either way.
    """
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=now, updated_at=now
    )
    if claimed != 1:
        return None
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    progress = _Progress(job)
    try:
        result = _read(job, progress)
        _finish(job, result, progress)
    except ExportError as exc:
        _fail(job.pk, str(exc))
    except _RowCapExceeded:
        cap = settings.UPLOAD_MAX_ROWS
        _fail(
            job.pk,
            f"{job.file_name} has more than {cap:,} rows; the cap is {cap:,} (UPLOAD_MAX_ROWS)",
        )
    except _JobEnded:
        logger.info("import job %s ended while it was read; nothing stored", job.pk)
    except SoftTimeLimitExceeded:
        minutes = IMPORT_JOB_TIME_LIMIT // 60
        _fail(
            job.pk,
            f"{job.file_name}: reading stopped after the {minutes} minutes one upload may "
            "take; nothing was imported. Split the export into smaller files (fewer days "
            "each) and upload them one by one.",
        )
    except Exception as exc:
        # A background job has no request to fail: the job must say it
        # stopped, or the page would show it running for ever.
        logger.exception("import job %s failed", job.pk)
        _fail(
            job.pk,
            f"could not be read: internal error ({type(exc).__name__}); "
            "the server log has the details",
        )
    finally:
        _delete_upload(job.stored_name)
    return ImportJob.objects.get(pk=job.pk)


def import_jobs_expire(*, at: datetime) -> int:
    """End the jobs that lost their worker; returns how many.

    A job pending or running with no progress since ``at -``
    :data:`IMPORT_JOB_STALE` ends FAILED ("interrupted"); then stored files
    older than that which no open job refers to are deleted (left by a
    process that stopped between storing a file and creating its job).
    """
    cutoff = at - IMPORT_JOB_STALE
    count = ImportJob.objects.filter(status__in=OPEN, updated_at__lt=cutoff).update(
        status=ImportJob.Status.FAILED,
        error=f"interrupted: no progress for {IMPORT_JOB_STALE.total_seconds() / 60:g} minutes "
        "(the server or its worker stopped); nothing imported, upload it again",
        stored_name="",
        finished_at=at,
        updated_at=at,
    )
    directory: Path = settings.UPLOAD_DIR
    if directory.is_dir():
        in_use = set(
            ImportJob.objects.filter(status__in=OPEN).values_list("stored_name", flat=True)
        )
        for path in directory.iterdir():
            try:
                old = path.stat().st_mtime < cutoff.timestamp()
            except FileNotFoundError:
                continue  # its job ended meanwhile and deleted it
            if old and path.name not in in_use:
                path.unlink(missing_ok=True)
    return count


class _Progress:
    """Counts bytes and rows as they are read; writes them every
    :data:`PROGRESS_EVERY_ROWS` rows and enforces the row cap."""

    def __init__(self, job: ImportJob) -> None:
        self.job_id = job.pk
        self.total_bytes = job.total_bytes
        self.max_rows: int = settings.UPLOAD_MAX_ROWS
        self.bytes_read = 0
        self.rows_read = 0

    def chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_read += len(chunk)
            yield chunk

    def on_row(self, count: int) -> None:
        if count > self.max_rows:
            raise _RowCapExceeded
        self.rows_read = count
        if count % PROGRESS_EVERY_ROWS == 0:
            self.save()

    def save(self) -> None:
        updated = ImportJob.objects.filter(pk=self.job_id, status=ImportJob.Status.RUNNING).update(
            rows_read=self.rows_read,
            bytes_read=min(self.bytes_read, self.total_bytes),
            updated_at=timezone.now(),
        )
        if updated != 1:
            raise _JobEnded


def _read(job: ImportJob, progress: _Progress) -> ImportResult:
    """Parse the job's stored file as a stream (raises ``ExportError``)."""
    tick_sizes = dict(ContractSpec.objects.values_list("root", "tick_size"))
    path = settings.UPLOAD_DIR / job.stored_name
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExportError(
            job.file_name, None, None, f"the stored upload cannot be read ({exc.strerror})"
        ) from None
    with handle:
        return parse_export_chunks(
            progress.chunks(read_chunks(handle, job.file_name)),
            name=job.file_name,
            tz=job.timezone,
            leader_account=job.leader_account or None,
            known_roots=set(tick_sizes),
            tick_sizes=tick_sizes,
            on_row=progress.on_row,
        )


def _finish(job: ImportJob, result: ImportResult, progress: _Progress) -> None:
    """Store the import, queue the replay and end the job DONE, in one transaction."""
    actor = job.owner.username
    with transaction.atomic():
        # Locked so that the group cannot be deleted between the check and
        # the replay row that refers to it (copy_group_delete locks it too).
        group = (
            CopyGroup.objects.select_for_update().filter(pk=job.group_id).first()
            if job.group_id is not None
            else None
        )
        if group is None:
            raise ExportError(
                job.file_name,
                None,
                None,
                "the group was deleted while the file was read; nothing imported",
            )
        record = export_import_create(owner_id=job.owner_id, result=result, actor_label=actor)
        notes = _replay_notes(job, group, record, result, actor)
        now = timezone.now()
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.DONE,
            export_import=record,
            rows_read=progress.rows_read,
            bytes_read=job.total_bytes,
            notes=notes,
            stored_name="",
            finished_at=now,
            updated_at=now,
        )
        if updated != 1:
            raise _JobEnded  # rolls the import back: the job says it failed


def _replay_notes(
    job: ImportJob, group: CopyGroup, record: ExportImport, result: ImportResult, actor: str
) -> list[dict[str, Any]]:
    """Queue the replay when the export has one; what the user is told."""
    caveats = [_note("warning", note) for note in result.notes]
    if not result.replayable:
        return [
            _note(
                "warning",
                f"Imported {record.trade_count} trades into the journal; not replayed: "
                f"{result.not_replayable_reason}",
            ),
            *caveats,
        ]
    try:
        replay_job_create(
            group=group, export_import=record, interval_ms=job.interval_ms, actor_label=actor
        )
    except ApplicationError as exc:
        return [
            _note(
                "error",
                f"Imported {record.fill_count} leader fills into the journal; not replayed: "
                f"{exc.message}",
            ),
            *caveats,
        ]
    return [
        _note(
            "success",
            f"Imported {record.fill_count} leader fills from {job.file_name} "
            f"(zone-less times read as {result.timezone}); replay queued into {group.name}.",
        ),
        *caveats,
    ]


def _note(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "text": text}


def _fail(job_id: int, error: str) -> None:
    """End an open job FAILED with ``error`` (shown after "Nothing imported:")."""
    now = timezone.now()
    ImportJob.objects.filter(pk=job_id, status__in=OPEN).update(
        status=ImportJob.Status.FAILED,
        error=error,
        stored_name="",
        finished_at=now,
        updated_at=now,
    )


def _store_upload(upload: UploadedFile) -> tuple[str, int]:
    """Copy ``upload`` into ``UPLOAD_DIR`` chunk by chunk; (stored name, bytes written)."""
    directory: Path = settings.UPLOAD_DIR
    directory.mkdir(parents=True, exist_ok=True)
    # A random name: the user's file name never becomes a path.
    stored_name = f"{uuid.uuid4().hex}.csv"
    size = 0
    try:
        with (directory / stored_name).open("xb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
                size += len(chunk)
    except OSError as exc:
        _delete_upload(stored_name)
        raise ApplicationError(
            f"{upload.name}: the upload could not be stored ({exc.strerror}); nothing imported",
            field="file",
        ) from exc
    logger.info("stored upload %s (%s) as %s", upload.name, format_bytes(size), stored_name)
    return stored_name, size


def _delete_upload(stored_name: str) -> None:
    if stored_name:
        (settings.UPLOAD_DIR / stored_name).unlink(missing_ok=True)
