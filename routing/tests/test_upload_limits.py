"""Regression test for issue 10, defect 9, "Uploads without limits".

A 1,000,000-row CSV was accepted after 112 s with the server at 2.1 GB: the
upload view read the whole file into memory and parsed it inside the
request, with no cap on rows. Now the request only stores the file and
redirects at once; the file is read in the background as a stream of rows
and refused at the first row past ``UPLOAD_MAX_ROWS``, with nothing stored.

The test posts a generated Tradovate Fills export of 60 rows with the cap at
50. Before the fix the request parsed and imported it (an ``ExportImport``
and a queued replay existed when the response came back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from conftest import Route
from journal.models import ExportImport, Trade
from journal.tests.importers.exports import tradovate_fills
from routing.models import ReplayJob

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_dir")]


@override_settings(UPLOAD_MAX_ROWS=50)
def test_upload_over_row_cap_when_posted_then_redirects_before_reading_and_is_refused_whole(
    route: Route, upload_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # Arrange
    client = Client()
    client.force_login(route.owner)
    data = {
        "timezone": "UTC",
        "interval_ms": "500",
        "leader_account": "",
        "file": SimpleUploadedFile("big.csv", tradovate_fills(60), content_type="text/csv"),
    }

    # Act: the request. The read is scheduled on commit; it is held back here
    # so that the test sees the state the response was sent in.
    with django_capture_on_commit_callbacks() as scheduled:
        response = client.post(reverse("group_upload", args=[route.group.pk]), data)

    # Assert: back to the group page at once, nothing parsed or stored yet.
    assert response.status_code == 302
    assert ExportImport.objects.count() == 0
    assert ReplayJob.objects.count() == 0
    assert response["Location"] == reverse("group_detail", args=[route.group.pk]) + "#imports"
    from journal.models import ImportJob  # the job model the fix added

    job = ImportJob.objects.get()
    assert (job.status, job.file_name, job.rows_read) == ("pending", "big.csv", 0)
    assert len(scheduled) == 1
    assert [p.name for p in upload_dir.iterdir()] == [job.stored_name]

    # Act: the background read (what the scheduled callback hands to a worker).
    from routing.services.import_jobs import import_job_run

    import_job_run(job_id=job.pk)

    # Assert: refused whole, by name and cap; nothing half-stored; file gone.
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == "big.csv has more than 50 rows; the cap is 50 (UPLOAD_MAX_ROWS)"
    assert ExportImport.objects.count() == 0
    assert Trade.objects.count() == 0
    assert ReplayJob.objects.count() == 0
    assert list(upload_dir.iterdir()) == []
    page = client.get(reverse("group_detail", args=[route.group.pk])).content.decode()
    assert (
        "Nothing imported: big.csv has more than 50 rows; the cap is 50 (UPLOAD_MAX_ROWS)" in page
    )
