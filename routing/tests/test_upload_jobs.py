"""Uploads read in the background (issue 10, defect 9): the size cap, the
job's progress and end, all-or-nothing storage, the owner-scoped progress
endpoint, the embedded default's import thread and the Celery task."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from conftest import Route
from copytrade.celery import app as celery_app
from journal.models import ExportImport, ImportJob, Trade
from journal.tests.importers.exports import tradovate_fills
from routing.models import ReplayJob
from routing.services import import_jobs
from routing.services.import_jobs import (
    IMPORT_JOB_STALE,
    import_job_run,
    import_jobs_expire,
    import_jobs_resume,
)
from routing.tasks import import_job_parse_task, import_jobs_expire_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_dir")]
NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
TOPSTEPX = "arielSofer_aiTradeReports/topstepx_trades.csv"


@pytest.fixture
def alice_client(route: Route) -> Client:
    client = Client()
    client.force_login(route.owner)
    return client


def _post(client: Client, route: Route, name: str, content: bytes, **fields: str) -> Any:
    data = {"timezone": "UTC", "interval_ms": "500", "leader_account": "", **fields}
    data["file"] = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("group_upload", args=[route.group.pk]), data)


def _data_rows(content: bytes) -> int:
    return sum(1 for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) if any(row)) - 1


def _nothing_stored() -> None:
    assert ExportImport.objects.count() == 0
    assert Trade.objects.count() == 0
    assert ReplayJob.objects.count() == 0


# -- the size cap ------------------------------------------------------------------


@override_settings(UPLOAD_MAX_BYTES=1000)
def test_upload_over_size_cap_then_refused_at_once_naming_file_size_and_cap(
    route: Route, alice_client: Client, upload_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    content = tradovate_fills(60)

    with django_capture_on_commit_callbacks() as scheduled:
        response = _post(alice_client, route, "big.csv", content)

    assert response.status_code == 302
    page = alice_client.get(response["Location"]).content.decode()
    # The handler counted every byte it dropped: the size is the file's own.
    assert (
        f"file: big.csv is {len(content):,} bytes; the upload cap is 1,000 bytes "
        "(UPLOAD_MAX_BYTES). Nothing was imported."
    ) in page
    assert ImportJob.objects.count() == 0
    assert scheduled == []
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []
    _nothing_stored()


def test_upload_form_states_the_caps(route: Route, alice_client: Client) -> None:
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "At most 20.0 MB and 200,000 rows; read in the background." in page


# -- a real export read to the end ---------------------------------------------------


def test_real_export_when_read_in_background_then_done_with_progress_at_total_and_replay_queued(
    route: Route, alice_client: Client, shared_data: Path, upload_dir: Path
) -> None:
    content = (shared_data / NINJATRADER).read_bytes()
    _post(alice_client, route, "grid.csv", content, leader_account="Sim101")
    job = ImportJob.objects.get()
    assert (job.status, job.total_bytes, job.bytes_read) == ("pending", len(content), 0)

    ended = import_job_run(job_id=job.pk)

    assert ended is not None
    assert ended.status == "done"
    assert (ended.bytes_read, ended.total_bytes) == (len(content), len(content))
    assert ended.rows_read == _data_rows(content)
    assert ended.percent == 100
    record = ExportImport.objects.get()
    assert ended.export_import == record
    assert (record.format, record.fill_count, record.leader_account_name) == (
        "ninjatrader_executions",
        19,
        "Sim101",
    )
    replay = ReplayJob.objects.get()
    assert (replay.group_id, replay.export_import_id, replay.interval_ms) == (
        route.group.pk,
        record.pk,
        500,
    )
    assert ended.notes == [
        {
            "level": "success",
            "text": "Imported 19 leader fills from grid.csv (zone-less times read as UTC); "
            "replay queued into Evals.",
        }
    ]
    assert ended.stored_name == ""
    assert list(upload_dir.iterdir()) == []
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert f'<progress max="{len(content)}" value="{len(content)}">100 %</progress>' in page
    assert "replay queued into Evals." in page


def test_progress_when_reading_then_written_every_n_rows_not_every_row(
    route: Route, alice_client: Client, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = (shared_data / TOPSTEPX).read_bytes()  # 667 trades
    monkeypatch.setattr(import_jobs, "PROGRESS_EVERY_ROWS", 100)
    _post(alice_client, route, "topstepx_trades.csv", content)
    job = ImportJob.objects.get()

    with CaptureQueriesContext(connection) as queries:
        ended = import_job_run(job_id=job.pk)

    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "journal_importjob"')]
    # The claim, one write per 100 rows (6 for 667), the end.
    assert len(updates) == 1 + 6 + 1
    assert ended is not None
    assert (ended.status, ended.rows_read, ended.bytes_read) == ("done", 667, len(content))
    assert Trade.objects.count() == 667
    assert ReplayJob.objects.count() == 0
    assert ended.notes[0]["level"] == "warning"
    assert "Imported 667 trades into the journal; not replayed" in ended.notes[0]["text"]


# -- refused whole -------------------------------------------------------------------


def test_bad_row_when_read_then_job_fails_naming_row_and_field_and_nothing_stored(
    route: Route, alice_client: Client, shared_data: Path, upload_dir: Path
) -> None:
    lines = (shared_data / NINJATRADER).read_text().splitlines()
    lines[5] = lines[5].replace("MNQ MAR25", "XYZ MAR25")
    _post(alice_client, route, "grid.csv", "\n".join(lines).encode(), leader_account="Sim101")

    ended = import_job_run(job_id=ImportJob.objects.get().pk)

    assert ended is not None
    assert ended.status == "failed"
    assert ended.error.startswith("grid.csv, row 6, field 'Instrument': unknown symbol 'XYZ MAR25'")
    assert ended.export_import is None
    _nothing_stored()
    assert list(upload_dir.iterdir()) == []
    page = alice_client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert "Nothing imported: grid.csv, row 6, field &#x27;Instrument&#x27;" in page


def test_read_past_its_time_limit_then_job_fails_saying_so_and_nothing_stored(
    route: Route,
    alice_client: Client,
    shared_data: Path,
    upload_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Arrange: Celery stops a task past its soft time limit by raising
    # SoftTimeLimitExceeded inside it, here while the rows are read.
    content = (shared_data / NINJATRADER).read_bytes()
    _post(alice_client, route, "grid.csv", content, leader_account="Sim101")

    def too_slow(*args: Any, **kwargs: Any) -> Any:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(import_jobs, "_read", too_slow)
    # Act
    ended = import_job_run(job_id=ImportJob.objects.get().pk)
    # Assert: the owner reads why, not "internal error".
    assert ended is not None and ended.status == "failed"
    assert ended.error == (
        "grid.csv: reading stopped after the 10 minutes one upload may take; nothing was "
        "imported. Split the export into smaller files (fewer days each) and upload them "
        "one by one."
    )
    _nothing_stored()
    assert list(upload_dir.iterdir()) == []


def test_bad_row_after_hundreds_of_good_ones_then_no_trade_of_them_stored(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    text = (shared_data / TOPSTEPX).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows[599][rows[0].index("positionSize")] = "abc"  # line 600
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    _post(alice_client, route, "topstepx_trades.csv", out.getvalue().encode())

    ended = import_job_run(job_id=ImportJob.objects.get().pk)

    assert ended is not None
    assert ended.status == "failed"
    assert (
        ended.error == "topstepx_trades.csv, row 600, field 'positionSize': 'abc' is not a number"
    )
    _nothing_stored()


def test_not_utf8_upload_then_fails_naming_the_byte_and_offset(
    route: Route, alice_client: Client
) -> None:
    content = tradovate_fills(3) + b"\xff\r\n"
    _post(alice_client, route, "Fills.csv", content)

    ended = import_job_run(job_id=ImportJob.objects.get().pk)

    assert ended is not None
    assert ended.error == f"Fills.csv: not UTF-8 text (byte 0xff at offset {len(content) - 3})"
    _nothing_stored()


def test_group_deleted_while_reading_then_fails_and_nothing_stored(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    content = (shared_data / NINJATRADER).read_bytes()
    _post(alice_client, route, "grid.csv", content, leader_account="Sim101")
    job = ImportJob.objects.get()
    route.group.delete()

    ended = import_job_run(job_id=job.pk)

    assert ended is not None
    assert (ended.status, ended.group_id) == ("failed", None)
    assert "the group was deleted while the file was read" in ended.error
    _nothing_stored()


def test_job_when_already_claimed_then_second_run_does_nothing(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    _post(
        alice_client,
        route,
        "grid.csv",
        (shared_data / NINJATRADER).read_bytes(),
        leader_account="Sim101",
    )
    job = ImportJob.objects.get()
    assert import_job_run(job_id=job.pk) is not None

    assert import_job_run(job_id=job.pk) is None
    assert ExportImport.objects.count() == 1


def test_stale_jobs_when_expired_then_failed_and_orphan_files_deleted(
    route: Route, alice_client: Client, upload_dir: Path
) -> None:
    _post(alice_client, route, "Fills.csv", tradovate_fills(3))
    job = ImportJob.objects.get()
    orphan = upload_dir / "orphan.csv"
    orphan.write_bytes(b"x")
    later = timezone.now() + IMPORT_JOB_STALE + timedelta(seconds=1)

    assert import_jobs_expire(at=later - timedelta(seconds=2)) == 0
    assert import_jobs_expire(at=later) == 1

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("interrupted: no progress for 15 minutes")
    assert list(upload_dir.iterdir()) == []
    assert import_job_run(job_id=job.pk) is None


def test_restart_of_the_embedded_default_then_reading_job_failed_and_pending_ones_resumed(
    route: Route, alice_client: Client, upload_dir: Path
) -> None:
    # Two uploads: the first was being read when the web process stopped,
    # the second was still waiting (the import thread's queue is in memory).
    _post(alice_client, route, "first.csv", tradovate_fills(3))
    _post(alice_client, route, "second.csv", tradovate_fills(3))
    first, second = ImportJob.objects.order_by("pk")
    ImportJob.objects.filter(pk=first.pk).update(status=ImportJob.Status.RUNNING)

    resumed = import_jobs_resume()

    first.refresh_from_db()
    assert (first.status, first.stored_name) == ("failed", "")
    assert first.error.startswith("interrupted: the server restarted while reading it")
    assert resumed == [second.pk]
    assert [p.name for p in upload_dir.iterdir()] == [second.stored_name]
    assert import_job_run(job_id=second.pk).status == "done"


# -- the progress endpoint -------------------------------------------------------------


def test_progress_endpoint_when_owner_then_job_else_404(
    route: Route, alice_client: Client, bob: User
) -> None:
    _post(alice_client, route, "Fills.csv", tradovate_fills(3))
    job = ImportJob.objects.get()
    url = reverse("import_job_status", args=[job.pk])

    body = alice_client.get(url).json()
    bob_client = Client()
    bob_client.force_login(bob)

    assert {k: body[k] for k in ("id", "file_name", "status", "open", "rows", "percent")} == {
        "id": job.pk,
        "file_name": "Fills.csv",
        "status": "pending",
        "open": True,
        "rows": 0,
        "percent": 0,
    }
    assert body["total_bytes"] == job.total_bytes
    assert bob_client.get(url).status_code == 404
    assert Client().get(url).status_code in (401, 403)
    # Nor does Bob's upload land in, or list on, Alice's group.
    response = _post(bob_client, route, "Fills.csv", tradovate_fills(3))
    assert response.status_code == 404
    assert ImportJob.objects.count() == 1


# -- where the read runs -------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_embedded_default_when_uploaded_then_read_by_the_import_thread(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    # Tasks run eagerly here (CELERY_TASK_ALWAYS_EAGER, as in the embedded
    # default): the job must still be read off the request, by the thread.
    content = (shared_data / NINJATRADER).read_bytes()
    response = _post(alice_client, route, "grid.csv", content, leader_account="Sim101")
    assert response.status_code == 302
    job = ImportJob.objects.get()

    deadline = time.monotonic() + 30
    while job.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()

    assert job.status == "done"
    assert ReplayJob.objects.filter(export_import=job.export_import).count() == 1


def test_celery_task_reads_the_job(route: Route, alice_client: Client, shared_data: Path) -> None:
    _post(
        alice_client,
        route,
        "grid.csv",
        (shared_data / NINJATRADER).read_bytes(),
        leader_account="Sim101",
    )
    job = ImportJob.objects.get()

    import_job_parse_task.apply(args=[job.pk])

    job.refresh_from_db()
    assert job.status == "done"


def test_upload_without_csrf_token_then_refused_and_nothing_stored(route: Route) -> None:
    # The view sets its upload handler before Django reads the body, so it is
    # exempt from the middleware's check and checks CSRF itself: prove it does.
    client = Client(enforce_csrf_checks=True)
    client.force_login(route.owner)

    response = _post(client, route, "Fills.csv", tradovate_fills(3))

    assert response.status_code == 403
    assert ImportJob.objects.count() == 0
    _nothing_stored()


def test_beat_ends_uploads_whose_reader_died_every_five_minutes(
    route: Route, alice_client: Client
) -> None:
    entry = celery_app.conf.beat_schedule["import-jobs-expire"]
    assert (entry["task"], entry["schedule"]) == ("routing.import_jobs_expire", 300.0)
    _post(alice_client, route, "Fills.csv", tradovate_fills(3))
    ImportJob.objects.update(
        status=ImportJob.Status.RUNNING, updated_at=timezone.now() - IMPORT_JOB_STALE * 2
    )

    assert import_jobs_expire_task.apply().get() == 1

    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert job.error.startswith("interrupted: no progress for 15 minutes")
