"""The group page in headless Chromium follows uploads being read in the
background (issue 10, defect 9): each open job's row polls its progress and
shows how it ended, without a reload.

Runs in the browser pytest process (marker ``browser``, see
``test_browser_live_feed``). The jobs are read in the test process, so the
page sees them move only through its polling.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import broker_account_create
from journal.models import ImportJob
from journal.tests.importers.exports import tradovate_fills, tradovate_fills_row
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.import_jobs import import_job_run
from tests.browser import ChromiumLiveServerTestCase

UPLOAD_DIR = Path(tempfile.gettempdir()) / f"copytrade-browser-uploads-{os.getpid()}"


@pytest.mark.browser
@override_settings(UPLOAD_DIR=UPLOAD_DIR)
class UploadProgressTests(ChromiumLiveServerTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(UPLOAD_DIR, ignore_errors=True)

    def setUp(self) -> None:
        contract_specs_sync()  # the flush between transactional tests empties it
        self.user = User.objects.create_user("trader", password="trader-password-1")
        leader = broker_account_create(owner=self.user, name="Lead", balance=Decimal(150_000))
        self.group = copy_group_create(owner=self.user, name="Evals", leader=leader)
        follower = broker_account_create(owner=self.user, name="Eval", balance=Decimal(50_000))
        follower_add(group=self.group, account=follower, ratio=Decimal(1))

    def _pending_job(self, name: str, content: bytes) -> ImportJob:
        """A job as the upload request leaves it: file stored, read not started."""
        UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        stored = f"{name}.stored"
        (UPLOAD_DIR / stored).write_bytes(content)
        return ImportJob.objects.create(
            owner=self.user,
            group=self.group,
            file_name=name,
            stored_name=stored,
            timezone="UTC",
            interval_ms=500,
            total_bytes=len(content),
        )

    def test_open_uploads_when_read_then_rows_show_progress_and_end_without_reload(self) -> None:
        # Arrange: two uploads pending when the page loads.
        good = self._pending_job("good.csv", tradovate_fills(30))
        lines = tradovate_fills(30).decode().splitlines(keepends=True)
        lines[10] = tradovate_fills_row(9, price="abc") + "\r\n"
        bad = self._pending_job("bad.csv", "".join(lines).encode())
        page = self.browser.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        good_row = page.locator(f'tr[data-import-job="{good.pk}"]')
        bad_row = page.locator(f'tr[data-import-job="{bad.pk}"]')
        expect(good_row.locator(".import-status")).to_have_text("Pending")
        page.evaluate("window.__marker = 'same page'")

        # Act: the background reads.
        import_job_run(job_id=good.pk)
        import_job_run(job_id=bad.pk)

        # Assert: both rows follow, on the same page.
        expect(good_row.locator(".import-status")).to_have_text("Done", timeout=10_000)
        expect(good_row.locator(".import-progress")).to_have_text("100 % · 30 rows")
        assert good_row.locator("progress").evaluate("p => p.value === p.max")
        expect(good_row.locator(".import-notes")).to_contain_text("replay queued into Evals.")
        expect(bad_row.locator(".import-status")).to_have_text("Failed", timeout=10_000)
        expect(bad_row.locator(".import-error")).to_have_text(
            "Nothing imported: bad.csv, row 11, field 'Price': 'abc' is not a number"
        )
        assert page.evaluate("window.__marker") == "same page"
        page.close()
