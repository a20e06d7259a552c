"""The performance page in headless Chromium: open it from the group page,
see the charts drawn, and see the latency, slippage and equity figures move
after leader fills without a reload.

As the live-feed test: daphne (ChannelsLiveServerTestCase) with the Redis
channel layer, the engine in the test process on a loop thread of its own,
so the pushes cross processes through Redis. Run in a pytest process of its
own (marker ``browser``). Saves a screenshot to test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.services import broker_account_create
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from tests.browser import EngineLoopLiveServerTestCase

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.mark.browser
class PerformancePageTests(EngineLoopLiveServerTestCase):
    def setUp(self) -> None:
        contract_specs_sync()  # the flush between transactional tests empties it
        self.user = User.objects.create_user("trader", password="trader-password-1")
        self.leader = broker_account_create(owner=self.user, name="Lead", balance=Decimal(150_000))
        self.group = copy_group_create(owner=self.user, name="Evals", leader=self.leader)
        for name, ratio in (("Eval 50K", "0.5"), ("Funded 150K", "2")):
            account = broker_account_create(owner=self.user, name=name, balance=Decimal(50_000))
            follower_add(group=self.group, account=account, ratio=Decimal(ratio))
        # Every follower order fills 2 ticks worse than the leader's price.
        self.registry = AdapterRegistry(
            {"paper": PaperBroker(engine_contract_specs(), slippage_ticks=2)}
        )
        self.worker = EngineWorker(self.registry)
        self._run(self.registry.connect_all())

    def _leader_fill(self, event_id: str, side: Side, qty: int, price: str) -> None:
        fill = LeaderFill(event_id, "lead", "MNQH6", side, qty, Decimal(price), datetime.now(UTC))
        self._run(self.worker.handle_leader_fill(self.leader.pk, fill, "test"))

    def _open_performance_page(self, errors: list[str]) -> Page:
        page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        page.click('[data-testid="performance-link"]')
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/performance/")
        expect(page.locator("#conn-text")).to_have_text("live", timeout=10_000)
        return page

    def test_figures_and_charts_move_after_leader_fills_without_reload(self) -> None:
        # Arrange
        errors: list[str] = []
        page = self._open_performance_page(errors)
        route_orders = page.locator('[data-scope="route"] [data-f="orders"]')
        expect(route_orders).to_have_text("0")
        small = page.locator('tr[data-testid="follower-quality"]').first
        expect(small.locator('[data-testid="last-handoff"]')).to_have_text("\u2013")
        # The charts are drawn (uPlot's canvas, with its axes on it).
        canvas = page.locator("#equity-group-chart canvas")
        expect(canvas).to_have_count(1, timeout=10_000)
        assert page.evaluate(_CANVAS_INKED, "#equity-group-chart canvas")
        page.evaluate("window.__marker = 'same page'")

        # Act: the leader buys 4 MNQ (followers 2 and 8) at 21,539.50.
        self._leader_fill("f1", Side.BUY, 4, "21539.50")

        # Assert: measured on this page, live: 2 orders, 2 ticks = $1.00 a contract.
        expect(route_orders).to_have_text("2", timeout=10_000)
        expect(small.locator('[data-testid="last-handoff"]')).to_have_text(
            re.compile(r"^\d[\d,]*\.\d\d ms$")
        )
        expect(small.locator('[data-testid="last-slippage-ticks"]')).to_have_text("2.00")
        # Eval 50K: 2 x $1.00; Funded 150K: 8 x $1.00; route $10.00 of cost.
        expect(page.locator('[data-testid="route-slippage"]')).to_have_text("+$10.00")

        # Act: the leader sells 4 at 21,549.50; the followers fill at 21,549.00.
        self._leader_fill("f2", Side.SELL, 4, "21549.50")

        # Assert: 9 points: Eval 50K 2 x 9 x $2 = $36, Funded 150K 8 x 9 x $2 =
        # $144: the group made $180.00; the leader 10 x 4 x $2 = $80.00.
        group_total = page.locator('tr[data-curve="group"] [data-testid="equity-total"]')
        expect(group_total).to_have_text("+$180.00", timeout=10_000)
        leader_total = page.locator('tr[data-curve="leader"] [data-testid="equity-total"]')
        expect(leader_total).to_have_text("+$80.00")
        # Copy variance: $36.00 against $80.00 x 0.5 = $40.00.
        expect(page.locator('[data-testid="variance-text"]').first).to_contain_text(
            "variance -$4.00 (made +$36.00; leader \u00d7 0.5 = +$40.00"
        )
        expect(route_orders).to_have_text("4")
        assert page.evaluate(_CANVAS_INKED, "#variance-chart-" + str(self._first_follower_id()))
        assert page.evaluate("window.__marker") == "same page"
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "performance.png"), full_page=True)
        page.close()

    def _first_follower_id(self) -> int:
        return int(self.group.followers.order_by("pk").values_list("pk", flat=True)[0])


# True when the canvas has a drawn pixel (not all transparent).
_CANVAS_INKED = """(selector) => {
  const canvas = document.querySelector(
    selector.includes("canvas") ? selector : selector + " canvas"
  );
  if (!canvas || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""
