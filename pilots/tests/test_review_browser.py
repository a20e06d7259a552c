"""Staff review a flagged pilot in headless Chromium (issue 11, "Admin review desk").

The flagged pilot is the demo's Cara Tape (pilots.demo: her last fill is in
the daily halt). Staff log in to the admin (password and the code from
their authenticator app, computed here from the device's key), open the
review queue, read the failed check on her page and approve her with a
reason; the queue then lists her as approved. Runs with ``-m browser``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import User
from journal.models import EventType, JournalEntry
from pilots.demo import demo_pilots_seed
from pilots.models import Pilot
from routing.services.contracts import contract_specs_sync
from tests.browser import ChromiumLiveServerTestCase
from tests.second_factor import totp_code, totp_device_for


@pytest.mark.browser
class ReviewDeskTests(ChromiumLiveServerTestCase):
    def test_staff_approves_a_flagged_pilot_with_a_reason(self) -> None:
        # Arrange: the tables were flushed (contract specs included); the demo's pilots.
        contract_specs_sync()
        demo_pilots_seed(
            data_dir=settings.SHARED_DATA_DIR, now=datetime(2026, 12, 3, 12, tzinfo=UTC)
        )
        cara = Pilot.objects.get(display_name="Cara Tape")
        assert cara.record.flagged
        reviewer = User.objects.create_superuser("reviewer", password="review-password-1")
        device = totp_device_for(reviewer)
        page = self.browser.new_page()
        # Act: log in to the admin with the code the reviewer's app shows now,
        # open the queue and Cara's page.
        page.goto(f"{self.live_server_url}/admin/")
        page.fill("#id_username", "reviewer")
        page.fill("#id_password", "review-password-1")
        page.fill("#id_otp_token", totp_code(device))
        page.click("input[type=submit]")
        page.locator('a[href="/admin/pilots/pilot/"]').first.click()
        expect(page.locator("#changelist-filter")).to_contain_text("To review")
        expect(page.locator("#changelist")).to_contain_text("Cara Tape")
        page.get_by_role("link", name="Cara Tape").click()
        expect(page.locator("#review-failed")).to_contain_text("daily halt (16:00 to 17:00 CT)")
        expect(page.locator("#review-equity svg polyline")).to_have_count(1)
        page.get_by_label("Approved").check()
        page.fill("textarea[name=reason]", "Halt fill is a broker timestamp glitch; confirmed.")
        page.get_by_role("button", name="Record decision").click()
        # Assert: back on the queue with the outcome; the full list shows her approved.
        expect(page.locator(".messagelist")).to_contain_text("Cara Tape: Approved.")
        page.goto(f"{self.live_server_url}/admin/pilots/pilot/?queue=all")
        row = page.locator("#result_list tr", has_text="Cara Tape")
        expect(row).to_contain_text("Approved")
        cara.refresh_from_db()
        assert cara.review == Pilot.Review.APPROVED
        assert cara.review_note == "Halt fill is a broker timestamp glitch; confirmed."
        entry = JournalEntry.objects.get(
            owner_id=cara.owner_id, event_type=EventType.PILOT_REVIEWED
        )
        assert entry.actor_label == "reviewer"
        page.close()
