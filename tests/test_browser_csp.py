"""The Content Security Policy in headless Chromium: the pages that run
script (the group page's live feed over a websocket, the pilot profile's
uPlot charts, the dashboard, the admin's own scripts) work under the policy,
and Chromium reports no violation.

A violation is caught two ways: the ``securitypolicyviolation`` events the
document fires (recorded by a listener Playwright installs before any page
script runs) and Chromium's console messages naming the "Content Security
Policy". A first test proves both see a real violation, so empty lists mean
none happened. Runs with ``-m browser``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from accounts.models import User
from accounts.services import broker_account_create
from pilots.tests.board_records import THIRTY_FIVE, pilot_made, record_stored, user
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from tests.browser import ChromiumLiveServerTestCase
from tests.second_factor import totp_code, totp_device_for

# Runs before each document's own scripts, outside the page's policy.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.mark.browser
class ContentSecurityPolicyTests(ChromiumLiveServerTestCase):
    def setUp(self) -> None:
        # The flush between transactional tests empties the seeded table.
        contract_specs_sync()
        self.user = User.objects.create_user("trader", password="trader-password-1")
        leader = broker_account_create(owner=self.user, name="Lead", balance=Decimal(150_000))
        self.group = copy_group_create(owner=self.user, name="Evals", leader=leader)
        follower = broker_account_create(owner=self.user, name="Eval 50K", balance=Decimal(50_000))
        follower_add(group=self.group, account=follower, ratio=Decimal("0.5"))
        self.pilot = pilot_made(user("sam"), "Steady", markets=["NQ"])
        record_stored(self.pilot, THIRTY_FIVE)
        self.console_errors: list[str] = []

    def _page(self) -> Page:
        page = self.browser.new_page()
        page.add_init_script(LISTEN)

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                self.console_errors.append(message.text)

        page.on("console", on_console)
        return page

    def _log_in(self, page: Page) -> None:
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")

    def _assert_no_violation(self, page: Page) -> None:
        assert page.evaluate("window.__cspViolations") == []
        assert self.console_errors == []

    def test_the_listener_sees_a_violation_when_one_happens(self) -> None:
        # Arrange
        page = self._page()
        self._log_in(page)
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        # Act: an inline script without the nonce, as an injected one would be.
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__ran = true'; document.body.append(s); }"
        )
        # Assert: refused, and both the event and the console saw it.
        page.wait_for_function("window.__cspViolations.length > 0")
        assert page.evaluate("window.__ran === undefined")
        assert "script-src" in page.evaluate("window.__cspViolations")[0]
        page.wait_for_timeout(200)  # the console message follows the event
        assert any("inline script" in e for e in self.console_errors), self.console_errors
        page.close()

    def test_the_live_feed_connects_under_the_policy(self) -> None:
        page = self._page()
        # Act: log in; the dashboard opens the only group, whose feed connects.
        self._log_in(page)
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        # Assert: the websocket (connect-src 'self', ws: to this host) is live.
        expect(page.locator("#conn-text")).to_have_text("live", timeout=10_000)
        self._assert_no_violation(page)
        page.close()

    def test_the_dashboard_with_two_groups_has_no_violation(self) -> None:
        lead = broker_account_create(owner=self.user, name="Lead 2", balance=Decimal(50_000))
        copy_group_create(owner=self.user, name="Funded", leader=lead)
        page = self._page()
        self._log_in(page)
        page.wait_for_url(f"{self.live_server_url}/")
        expect(page.get_by_role("link", name="Funded")).to_be_visible()
        self._assert_no_violation(page)
        page.close()

    def test_the_pilot_profile_draws_its_charts_under_the_policy(self) -> None:
        page = self._page()
        self._log_in(page)
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        # Act
        page.goto(f"{self.live_server_url}/pilots/{self.pilot.pk}/")
        # Assert: uPlot (a static file) drew both charts, styles included.
        expect(page.locator("#equity-chart canvas")).to_have_count(1)
        expect(page.locator("#drawdown-chart canvas")).to_have_count(1)
        expect(page.locator("#equity-chart .u-title")).to_have_text("Equity (closing balance)")
        page.wait_for_load_state("load")
        self._assert_no_violation(page)
        page.close()

    def test_the_admin_runs_its_scripts_under_the_policy(self) -> None:
        staff = User.objects.create_superuser("staff", password="staff-password-1")
        device = totp_device_for(staff)
        page = self._page()
        page.goto(f"{self.live_server_url}/admin/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", "staff-password-1")
        page.fill("#id_otp_token", totp_code(device))
        page.click("input[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/admin/")
        self._assert_no_violation(page)
        # The sidebar (nav_sidebar.js) and a change form (its scripts and jsi18n).
        page.goto(f"{self.live_server_url}/admin/pilots/pilot/{self.pilot.pk}/change/")
        expect(page.locator("#toggle-nav-sidebar")).to_be_visible()
        self._assert_no_violation(page)
        page.goto(f"{self.live_server_url}/admin/pilots/plan/add/")
        page.wait_for_load_state("load")
        self._assert_no_violation(page)
        page.close()
