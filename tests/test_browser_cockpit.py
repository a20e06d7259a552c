"""The trader's cockpit in headless Chromium, as a new user runs a day (issue 13).

Log in, add a leader and three paper followers, create the group and add
the followers through the pages, raise the route to level 3, give one
follower a daily loss limit, then upload an export on the group page and
watch the replay: the feed, the positions panel (entries, marks, PnL), the
header (level, replay status) and the followers' eligibility move without
a reload. One follower's broker refuses the first entry: its symbol is
quarantined and the route locks. A falling print halts the follower with
the loss limit. Then Close one position from the panel and see it flat,
and press emergency flatten and see every follower flat.

The engine worker runs in the test process on a loop of its own, as the
real ``run_copy_engine`` does (leases, replay jobs, closes, flattens,
layer 2), against the live server's PostgreSQL and Redis. A full-page
screenshot of every page visited goes to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import Page, expect

from accounts.models import BrokerAccount, User
from routing.brokers.paper import PaperBroker
from routing.models import CopyGroup
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from tests.browser import EngineLoopLiveServerTestCase

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
UPLOAD_DIR = Path(tempfile.gettempdir()) / f"copytrade-browser-cockpit-{os.getpid()}"
SYMBOL = "MNQH6"
WAIT = 15_000  # ms: a replay fill every 2.5 s, the engine polling every 0.5 s

TRADOVATE_HEADER = (
    "_id,_orderId,_contractId,_timestamp,_tradeDate,_action,_qty,_price,_active,_accountId,"
    "Fill ID,Order ID,Timestamp,Date,Account,B/S,Quantity,Price,_priceFormat,_priceFormatType,"
    "_tickSize,Contract,Product,Product Description,commission"
)


def tradovate_export(fills: list[tuple[str, int, str]]) -> bytes:
    """A Tradovate Fills export (the real file's columns) of MNQH6 fills
    ``(side, qty, price)``, ten seconds apart."""
    lines = [TRADOVATE_HEADER]
    start = datetime(2026, 2, 11, 14, 30, tzinfo=UTC)
    for n, (side, qty, price) in enumerate(fills):
        fill_id = 500000000000 + n
        at = start + timedelta(seconds=10 * n)
        action = 0 if side == "Buy" else 1
        lines.append(
            f"{fill_id},{fill_id - 11},4086428,{at:%Y-%m-%d %H:%M:%S}.000Z,2026-02-11,{action},"
            f"{qty},{price},true,39681696,{fill_id},{fill_id - 11},{at:%m/%d/%Y %H:%M:%S},"
            f"2/11/26,DEMO123456, {side},{qty},{price},-2,0,0.25,{SYMBOL},MNQ,"
            "Micro E-mini NASDAQ 100,0.37"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.browser
@override_settings(UPLOAD_DIR=UPLOAD_DIR)
class CockpitTests(EngineLoopLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        ARTIFACTS.mkdir(exist_ok=True)

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(UPLOAD_DIR, ignore_errors=True)

    def setUp(self) -> None:
        contract_specs_sync()  # the flush between transactional tests empties it
        User.objects.create_user("trader", password="trader-password-1")
        self.paper = PaperBroker(engine_contract_specs())
        self.worker = EngineWorker(AdapterRegistry({"paper": self.paper}))
        self.stop = self._run(self._event())
        self.running = asyncio.run_coroutine_threadsafe(self.worker.run(self.stop), self.loop)
        self.shots = 0
        self.errors: list[str] = []

    def tearDown(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.running.result(timeout=30)

    @staticmethod
    async def _event() -> asyncio.Event:
        return asyncio.Event()

    def _shot(self, page: Page, name: str) -> None:
        """A full-page screenshot of the page as it is now, numbered in visit order."""
        self.shots += 1
        page.screenshot(
            path=str(ARTIFACTS / f"cockpit-{self.shots:02d}-{name}.png"), full_page=True
        )

    def _page(self) -> Page:
        # A context of its own, so a second tab shares the login.
        context = self.browser.new_context(viewport={"width": 1440, "height": 900})
        self.addCleanup(context.close)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    def _add_account(self, page: Page, name: str, kind: str, balance: str) -> None:
        page.goto(f"{self.live_server_url}/broker-accounts/")
        form = page.locator('[data-testid="broker-account-form"]')
        form.locator("#id_name").fill(name)
        form.locator("#id_kind").select_option(kind)
        form.locator("#id_balance").fill(balance)
        form.locator("button[type=submit]").click()
        expect(page.locator(".messages")).to_contain_text(f"Added {name}.")
        expect(page.locator('[data-testid="broker-accounts"]')).to_contain_text(name)

    def test_a_trading_day_from_the_group_page(self) -> None:
        page = self._page()
        # -- log in ------------------------------------------------------------------
        page.goto(f"{self.live_server_url}/login/")
        self._shot(page, "login")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")
        self._shot(page, "first-step")

        # -- accounts, group, followers through the pages -----------------------------
        self._add_account(page, "Lead", "personal", "150000")
        for name in ("Eval A", "Eval B", "Eval C"):
            self._add_account(page, name, "evaluation", "50000")
        self._shot(page, "broker-accounts")
        page.goto(f"{self.live_server_url}/groups/new/")
        page.fill("#id_name", "Evals")
        page.select_option("#id_leader", label="Lead (personal)")
        self._shot(page, "group-form")
        page.click("button:has-text('Create group')")
        expect(page.locator(".messages")).to_contain_text("Created Evals led by Lead")
        group = CopyGroup.objects.get(name="Evals")
        for name, ratio in (("Eval A", "1"), ("Eval B", "2"), ("Eval C", "1")):
            form = page.locator("#add-follower form")
            form.locator("#id_account").select_option(label=f"{name} (evaluation)")
            form.locator("#id_ratio").fill(ratio)
            form.locator("button[type=submit]").click()
            expect(page.locator(".messages")).to_contain_text(f"{name} now follows Evals")
        expect(page.locator("#followers tbody tr")).to_have_count(3)
        self._shot(page, "group-with-followers")

        # Level 1 Test copies one contract: the trader raises the route to 3.
        page.click('[data-testid="budget-link"]')
        form = page.locator('[data-testid="level-form"]')
        form.locator("#id_level").select_option("3")
        form.locator("#id_reason").fill("three evaluations, checked")
        self._shot(page, "budget")
        form.locator("button[type=submit]").click()
        expect(page.locator(".messages")).to_contain_text("Evals is now at level 3 Active")

        # Eval B stops entries at a $50 session loss.
        page.goto(f"{self.live_server_url}/groups/{group.pk}/")
        page.locator('#followers tr:has-text("Eval B") a:has-text("Risk limits")').click()
        page.fill("#id_daily_loss", "50")
        self._shot(page, "risk-limits")
        page.click("button:has-text('Save risk limits')")
        expect(page.locator(".messages")).to_contain_text("Saved the risk limits of Eval B")
        expect(page.locator("#conn-text")).to_have_text("live", timeout=WAIT)
        expect(page.locator('[data-testid="route-level"]')).to_have_text("3 Active")

        # Eval C's broker will refuse its first MNQ order.
        eval_c = BrokerAccount.objects.get(name="Eval C")
        self.loop.call_soon_threadsafe(
            self.paper.reject_orders, eval_c.external_id, SYMBOL, "insufficient margin"
        )

        # The performance page, open in a second tab before the replay: its
        # figures and charts must move without a reload too.
        perf = page.context.new_page()  # the same login
        perf.on("pageerror", lambda exc: self.errors.append(str(exc)))
        perf.goto(f"{self.live_server_url}/groups/{group.pk}/performance/")
        route_orders = perf.locator('[data-scope="route"] [data-f="orders"]')
        expect(route_orders).to_have_text("0")
        perf.evaluate("window.__marker = 'same page'")

        # -- the replay, watched live ----------------------------------------------
        export = tradovate_export(
            [("Buy", 2, "21500.00"), ("Buy", 1, "21490.00"), ("Sell", 1, "21495.50")]
        )
        form = page.locator("#imports form")
        form.locator("#id_file").set_input_files(
            {"name": "fills.csv", "mimeType": "text/csv", "buffer": export}
        )
        form.locator("#id_timezone").select_option("UTC")
        form.locator("#id_interval_ms").fill("2500")
        form.locator("button[type=submit]").click()
        expect(page.locator(".messages")).to_contain_text("fills.csv")
        expect(page.locator("#conn-text")).to_have_text("live", timeout=WAIT)
        page.evaluate("window.__marker = 'same page'")

        # The feed, the header and the positions move as the fills stream.
        expect(page.locator('[data-testid="replay-state"]')).to_have_text("Running", timeout=WAIT)
        expect(page.locator("#feed tbody tr").first).to_be_visible(timeout=WAIT)
        rows = page.locator('#positions-table tr[data-testid="position"]')
        eval_a = rows.filter(has_text="Eval A")
        eval_b = rows.filter(has_text="Eval B")
        expect(eval_a.locator(".qty")).to_have_text("+2", timeout=WAIT)
        expect(eval_b.locator(".qty")).to_have_text("+4", timeout=WAIT)
        expect(rows.filter(has_text="Lead").locator(".qty")).to_have_text("+2", timeout=WAIT)
        # The rejection: Eval C's symbol quarantined, the route locked (level 4).
        expect(
            rows.filter(has_text="Eval C").locator('[data-testid="state-quarantined"]')
        ).to_have_text(f"Quarantined {SYMBOL}", timeout=WAIT)
        expect(page.locator('[data-testid="route-level"]')).to_have_text("4 Locked", timeout=WAIT)
        expect(page.locator('[data-testid="level-reason"]')).to_contain_text("rejected_order")
        expect(page.locator('[data-testid="feed"] .badge.rejected')).to_have_count(1)
        self.loop.call_soon_threadsafe(self.paper.allow_orders, eval_c.external_id)
        # The leader's add at 21490 is refused (locked) but marks every position
        # there: Eval B (+4 from 21500) is down $80 and halts on its $50 limit.
        expect(eval_b.locator(".mark")).to_have_text("21490.00", timeout=WAIT)
        expect(eval_b.locator(".pnl")).to_have_text("-$80.00")
        expect(eval_a.locator(".pnl")).to_have_text("-$40.00")
        expect(eval_b.locator('[data-testid="state-halted"]')).to_be_visible(timeout=WAIT)
        expect(
            page.locator('#followers tr:has-text("Eval B") [data-testid="eligibility"]')
        ).to_have_text("Halted", timeout=WAIT)
        # The last print (the leader sells 1 at 21495.50) and the end of the replay.
        expect(eval_b.locator(".mark")).to_have_text("21495.50", timeout=WAIT)
        expect(eval_b.locator(".pnl")).to_have_text("-$36.00")
        expect(page.locator('[data-testid="replay-state"]')).to_have_text("Done", timeout=WAIT)
        assert page.evaluate("window.__marker") == "same page"
        self._shot(page, "group-live")
        # The other tab: the route's copy orders counted, latency measured, the
        # group's equity curve drawn, all without a reload.
        expect(route_orders).not_to_have_text("0", timeout=WAIT)
        expect(perf.locator("#equity-group-chart canvas")).to_have_count(1, timeout=WAIT)
        expect(perf.locator('[data-testid="route-handoff-p50"]')).to_contain_text(
            " ms", timeout=WAIT
        )
        # Open PnL at the last print, though no copy filled since the add at
        # 21490 (blocked: locked): Eval A -$18, Eval B -$36.
        expect(perf.locator('tr[data-curve="group"] [data-f="open"]')).to_have_text(
            "-$54.00", timeout=WAIT
        )
        assert perf.evaluate("window.__marker") == "same page"
        self._shot(perf, "performance-live")
        perf.close()

        # -- Close one position from the panel ----------------------------------------
        eval_a.locator('[data-testid="close"]').click()
        expect(page.locator(".messages")).to_contain_text("Eval A: closing +2 MNQH6 at market")
        page.evaluate("window.__marker = 'after close'")
        flat_a = rows.filter(has_text="Eval A").locator('[data-testid="flat"]')
        expect(flat_a).to_be_visible(timeout=WAIT)
        expect(page.locator('[data-testid="position-close"]').first).to_contain_text(
            "Eval A: MNQH6 flat, closed sell 2 MNQH6 @ 21495.50", timeout=WAIT
        )
        expect(eval_b.locator(".qty")).to_have_text("+4")
        # Eval A's round trip: bought 2 at 21500, sold 2 at 21495.50: -$18.00.
        trades = page.locator('[data-testid="trade"]')
        expect(trades).to_have_count(1, timeout=WAIT)
        expect(trades.first).to_contain_text("Eval A")
        expect(trades.first).to_contain_text("-$18.00")
        assert page.evaluate("window.__marker") == "after close"
        self._shot(page, "group-after-close")

        # -- Emergency flatten ----------------------------------------------------------
        page.click('[data-testid="flatten-link"]')
        expect(page.locator('[data-testid="flatten-confirm"]')).to_be_visible()
        self._shot(page, "flatten-confirm")
        page.click('[data-testid="flatten-now"]')
        expect(page.locator('[data-testid="flatten-status"]')).to_contain_text("done", timeout=WAIT)
        for name in ("Eval A", "Eval B", "Eval C"):
            expect(rows.filter(has_text=name).locator('[data-testid="flat"]')).to_be_visible(
                timeout=WAIT
            )
            expect(rows.filter(has_text=name).locator(".qty")).to_have_count(0)
        for row in page.locator("#followers .pos").all():
            expect(row).to_have_text("flat")
        self._shot(page, "group-after-flatten")
        assert self.errors == []
        page.close()
