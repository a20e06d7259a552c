"""A new user in headless Chromium: sign up, confirm the address from the
mailed link, log in, and land on the empty dashboard with its first step.

The live server is a forked process, so its in-memory outbox is out of reach:
the mail goes to files (the file backend prints what the console backend
would) in a temporary folder the test reads. Runs with ``-m browser``.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.test import override_settings
from playwright.sync_api import expect

from accounts.models import BrokerAccount, User
from tests.browser import ChromiumLiveServerTestCase

MAIL_DIR = Path(tempfile.mkdtemp(prefix="copytrade-mail-"))
FILE_MAILER = {
    "default": {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(MAIL_DIR)},
    }
}


@pytest.mark.browser
@override_settings(MAILERS=FILE_MAILER)
class SignUpTests(ChromiumLiveServerTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(MAIL_DIR, ignore_errors=True)

    def _mailed_link(self, to: str) -> str:
        """The confirmation link in the mail the server wrote for ``to``."""
        for path in sorted(MAIL_DIR.iterdir()):
            # One file per connection; messages end with a line of 79 dashes.
            for raw in path.read_text().split("-" * 79):
                message = email.message_from_string(raw.strip(), policy=email.policy.default)
                if message["To"] != to:
                    continue
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                match = re.search(r"http://\S+/accounts/confirm-email/\S+/", body.get_content())
                assert match is not None, raw
                return match.group(0)
        raise AssertionError(f"no mail to {to} in {MAIL_DIR}")

    def test_sign_up_confirm_log_in_then_empty_dashboard_with_first_step(self) -> None:
        # Arrange: another user's data, which the new user must never see.
        other = User.objects.create_user("olivia", password="olivia-password-1")
        BrokerAccount.objects.create(owner=other, name="Olivia Funded", external_id="o-1")
        page = self.browser.new_page()
        # Act 1: sign up from the login page's link.
        page.goto(f"{self.live_server_url}/login/")
        page.click("[data-testid=signup-link]")
        page.fill("#id_username", "newtrader")
        page.fill("#id_email", "newtrader@example.com")
        page.fill("#id_password1", "corn-futures-2026")
        page.fill("#id_password2", "corn-futures-2026")
        page.click("button[type=submit]")
        # Assert 1: told to confirm first; logging in now is refused.
        expect(page.locator("[data-testid=verification-sent]")).to_contain_text(
            "cannot log in until your e-mail address is confirmed"
        )
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "newtrader")
        page.fill("#id_password", "corn-futures-2026")
        page.click("button[type=submit]")
        expect(page.locator("[data-testid=verification-sent]")).to_be_visible()
        assert not EmailAddress.objects.get(email="newtrader@example.com").verified
        # Act 2: open the mailed link and confirm.
        page.goto(self._mailed_link("newtrader@example.com"))
        expect(page.locator("h1")).to_contain_text("Confirm")
        page.click("button[type=submit]")
        # Act 3: log in (with the e-mail address this time).
        page.wait_for_url(f"{self.live_server_url}/login/")
        page.fill("#id_username", "newtrader@example.com")
        page.fill("#id_password", "corn-futures-2026")
        page.click("button[type=submit]")
        # Assert 2: the empty dashboard, its first step, nothing of olivia's.
        page.wait_for_url(f"{self.live_server_url}/")
        assert EmailAddress.objects.get(email="newtrader@example.com").verified
        step = page.locator("[data-testid=first-step]")
        expect(step).to_contain_text("Add your first broker account")
        expect(page.locator("body")).not_to_contain_text("Olivia")
        # Act 4: take the first step; the next one is the copy group.
        step.locator("a").click()
        page.fill("#id_name", "My Lead")
        page.click("[data-testid=broker-account-form] button[type=submit]")
        expect(page.locator("[data-testid=broker-accounts]")).to_contain_text("My Lead")
        page.goto(f"{self.live_server_url}/")
        expect(page.locator("[data-testid=first-step]")).to_contain_text("Create a copy group")
        page.close()
