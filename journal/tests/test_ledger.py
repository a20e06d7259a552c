"""One account's ledger as CSV: its copy orders, fills and journal lines
over the dates asked, in time order, never another account's or user's."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from journal.ledger import LEDGER_COLUMNS
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 3, 15, 31, tzinfo=UTC)


def _rows(response: object) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_ledger_has_the_accounts_orders_fills_and_journal_in_time_order(
    route: Route,
) -> None:
    # Arrange: the leader buys 4 then sells 4 (Eval 25K copies 2 and 2),
    # through the real worker and paper exchange.
    async def trade() -> None:
        paper = await sync_to_async(lambda: PaperBroker(engine_contract_specs()))()
        registry = AdapterRegistry({"paper": paper})
        await registry.connect_all()
        worker = EngineWorker(registry)
        buy = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 4, Decimal("21000"), T0)
        sell = LeaderFill("f2", "lead", "MNQH6", Side.SELL, 4, Decimal("21010"), T1)
        await worker.handle_leader_fill(route.leader.pk, buy, source="t")
        await worker.handle_leader_fill(route.leader.pk, sell, source="t")

    asyncio.run(trade())
    client = Client()
    client.force_login(route.owner)
    # Act
    response = client.get(
        reverse("ledger_export"),
        {"account": route.small.pk, "since": "2026-01-01", "until": "2026-12-31"},
    )
    # Assert: two orders and two fills of 2 MNQ, buy then sell; the sell's
    # fill realized (21010 - 21000) x 2 x $2 = $40.00.
    assert response.status_code == 200
    rows = _rows(response)
    assert list(rows[0]) == list(LEDGER_COLUMNS)
    trading = [(r["kind"], r["side"], r["qty"]) for r in rows if r["kind"] in ("order", "fill")]
    assert trading == [("order", "buy", "2"), ("fill", "buy", "2"),
                       ("order", "sell", "2"), ("fill", "sell", "2")]  # fmt: skip
    [sell_fill] = [r for r in rows if r["kind"] == "fill" and r["side"] == "sell"]
    assert Decimal(sell_fill["realized_pnl"]) == Decimal("40.00")
    assert [r["time_utc"] for r in rows] == sorted(r["time_utc"] for r in rows)
    # Only this account's journal lines (its limits were set by the fixture).
    assert any(r["kind"] == "risk_limit.changed" for r in rows)
    assert all("Funded 150K" not in r["text"] for r in rows)


@pytest.mark.django_db
def test_another_users_account_is_404_and_bad_dates_400(route: Route, bob: User) -> None:
    client = Client()
    client.force_login(bob)
    query = {"account": route.small.pk, "since": "2026-03-01", "until": "2026-03-31"}
    assert client.get(reverse("ledger_export"), query).status_code == 404
    client.force_login(route.owner)
    bad = client.get(reverse("ledger_export"), {**query, "until": "2025-01-01"})
    assert bad.status_code == 400
    assert "end date is before the start date" in bad.text
    too_long = client.get(reverse("ledger_export"), {**query, "until": "2027-12-31"})
    assert too_long.status_code == 400


@pytest.mark.django_db
def test_the_journal_page_links_the_ledger_of_one_account_and_dates(route: Route) -> None:
    client = Client()
    client.force_login(route.owner)
    page = client.get(
        reverse("journal"),
        {"account": route.small.pk, "since": "2026-03-01", "until": "2026-03-31"},
    ).text
    assert (
        f'href="/journal/ledger.csv?account={route.small.pk}&amp;since=2026-03-01'
        '&amp;until=2026-03-31"' in page
    )
