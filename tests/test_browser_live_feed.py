"""The dashboard in headless Chromium: log in, open the group, watch copy
orders arrive over the websocket without a reload, and resync after a gap.

Runs daphne (ChannelsLiveServerTestCase) with the Redis channel layer; the
engine runs in the test process, so pushes cross processes through Redis as
in a real deployment.

``make test`` runs these (marker ``browser``) in a pytest process of their
own: the live server is forked from the test process, and a fork taken after
other tests ran async code inherits their event-loop and executor state, and
its websockets hang.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db.models import F
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


@pytest.mark.browser
class LiveFeedTests(EngineLoopLiveServerTestCase):
    def setUp(self) -> None:
        # The flush between transactional tests empties the seeded table.
        contract_specs_sync()
        self.user = User.objects.create_user("trader", password="trader-password-1")
        self.leader = broker_account_create(owner=self.user, name="Lead", balance=Decimal(150_000))
        self.group = copy_group_create(owner=self.user, name="Evals", leader=self.leader)
        for name, ratio in (("Eval 50K", "0.5"), ("Funded 150K", "2")):
            account = broker_account_create(owner=self.user, name=name, balance=Decimal(50_000))
            follower_add(group=self.group, account=account, ratio=Decimal(ratio))
        specs = engine_contract_specs()
        self.registry = AdapterRegistry({"paper": PaperBroker(specs)})
        self.worker = EngineWorker(self.registry)
        self._run(self.registry.connect_all())

    def _leader_fill(self, event_id: str, side: Side, qty: int, price: str) -> None:
        fill = LeaderFill(event_id, "lead", "MNQH5", side, qty, Decimal(price), datetime.now(UTC))
        self._run(self.worker.handle_leader_fill(self.leader.pk, fill, "test"))

    def _open_group_page(self) -> Page:
        page = self.browser.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "trader")
        page.fill("#id_password", "trader-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/groups/{self.group.pk}/")
        expect(page.locator("#conn-text")).to_have_text("live", timeout=10_000)
        return page

    def test_copy_orders_appear_live_without_reload(self) -> None:
        # Arrange
        page = self._open_group_page()
        expect(page.locator("#feed-empty")).to_be_visible()
        page.evaluate("window.__marker = 'same page'")
        # Act: the leader buys 4 MNQ (followers 2 and 8), then sells 4.
        self._leader_fill("f1", Side.BUY, 4, "21539.50")
        # Assert: the orders show up and fill, on the same page (no reload).
        rows = page.locator("#feed tbody tr")
        expect(rows).to_have_count(2, timeout=10_000)
        expect(page.locator("#feed tbody")).to_contain_text("BUY 2 MNQH5")
        expect(page.locator("#feed tbody")).to_contain_text("BUY 8 MNQH5")
        expect(page.locator("#feed .badge.filled")).to_have_count(2, timeout=10_000)
        expect(page.locator('#followers tr:has-text("Funded 150K") .pos')).to_have_text(
            "+8 MNQH5 @ 21539.50", timeout=10_000
        )
        self._leader_fill("f2", Side.SELL, 4, "21549.50")
        expect(rows).to_have_count(4, timeout=10_000)
        # Funded 150K: 8 lots x 10 points x $2 = +$160.00 realized.
        expect(page.locator('#followers tr:has-text("Funded 150K") .realized')).to_have_text(
            "+$160.00", timeout=10_000
        )
        assert page.evaluate("window.__marker") == "same page"
        page.close()

    def test_dropped_message_when_gap_seen_then_page_resyncs_from_snapshot(self) -> None:
        page = self._open_group_page()
        self._leader_fill("f1", Side.BUY, 2, "21539.50")
        expect(page.locator("#feed tbody tr")).to_have_count(2, timeout=10_000)
        # Arrange: a message numbered but never delivered (as a loaded layer may drop it).
        User.objects.filter(pk=self.user.pk).update(feed_seq=F("feed_seq") + 1)
        # Act
        self._leader_fill("f2", Side.SELL, 2, "21540.50")
        # Assert: the gap makes the page re-read the snapshot; all four orders show.
        expect(page.locator("#feed tbody tr")).to_have_count(4, timeout=10_000)
        expect(page.locator("#feed .badge.filled")).to_have_count(4, timeout=10_000)
        page.close()

    def test_other_users_page_never_shows_these_orders(self) -> None:
        User.objects.create_user("other", password="other-password-1")
        page = self.browser.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("#id_username", "other")
        page.fill("#id_password", "other-password-1")
        page.click("button[type=submit]")
        response = page.goto(f"{self.live_server_url}/groups/{self.group.pk}/")
        assert response is not None and response.status == 404
        api = page.goto(f"{self.live_server_url}/api/groups/{self.group.pk}/snapshot/")
        assert api is not None and api.status == 404
        page.close()
