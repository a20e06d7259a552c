"""The leaderboard in headless Chromium: log in, browse the board, open a
pilot's profile, see the equity and drawdown charts drawn by uPlot (loaded
from /static/, installed from npm by `make install`), subscribe and see
the outcome.

Runs in the browser pytest process (marker ``browser``, see
``test_browser_live_feed``). ``BOARD_SCREENSHOTS=DIR`` saves the pages as
PNG files for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pilots.models import Subscription
from pilots.tests.board_records import (
    DAYS_16,
    FIFTY_THIRTY_FIVE,
    THIRTY_FIVE,
    pilot_made,
    plan_given,
    record_stored,
    user,
)
from tests.browser import ChromiumLiveServerTestCase


@pytest.mark.browser
class LeaderboardTests(ChromiumLiveServerTestCase):
    def setUp(self) -> None:
        self.steady = pilot_made(user("sam"), "Steady", markets=["NQ"])
        record_stored(self.steady, THIRTY_FIVE)
        self.wild = pilot_made(user("wendy"), "Wild", markets=["ES"])
        record_stored(self.wild, FIFTY_THIRTY_FIVE, DAYS_16)
        self.carol = user("carol")
        plan_given(self.carol)

    def _shot(self, page: Page, name: str) -> None:
        folder = os.environ.get("BOARD_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    def test_browse_the_board_open_a_profile_see_the_charts_and_subscribe(self) -> None:
        page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        scripts: list[str] = []
        page.on("response", lambda r: scripts.append(r.url) if r.url.endswith(".js") else None)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "carol")
        page.fill("#id_password", "carol-password-1")
        page.click("button[type=submit]")
        page.wait_for_load_state()

        # The board: 30 % with a 5 % drawdown ranks above 50 % with 35 %.
        page.goto(f"{self.live_server_url}/pilots/")
        rows = page.locator('[data-testid="board-row"]')
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Steady")
        expect(rows.nth(1)).to_contain_text("Wild")
        expect(rows.nth(0).locator('[data-testid="score-components"]')).to_contain_text(
            "return/DD 6.00"
        )
        self._shot(page, "board")

        # The profile: uPlot draws both charts on canvases.
        rows.nth(0).get_by_role("link", name="Steady").click()
        page.wait_for_url(f"{self.live_server_url}/pilots/{self.steady.pk}/")
        expect(page.locator("#equity-chart canvas")).to_have_count(1)
        expect(page.locator("#drawdown-chart canvas")).to_have_count(1)
        expect(page.locator("#equity-chart .u-title")).to_have_text("Equity (closing balance)")
        assert f"{self.live_server_url}/static/vendor/uplot/uPlot.iife.min.js" in scripts
        assert page.evaluate("typeof window.uPlot") == "function"
        assert errors == []
        self._shot(page, "profile")

        # Subscribe: the watch period starts.
        page.get_by_test_id("subscribe-button").click()
        page.wait_for_load_state()
        expect(page.locator(".messages li.success")).to_contain_text(
            "You follow Steady: watching until"
        )
        self._shot(page, "subscribed")
        assert Subscription.objects.filter(subscriber=self.carol, pilot=self.steady).count() == 1
        page.close()
