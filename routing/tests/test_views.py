"""Dashboard pages, the snapshot API and export uploads (read in the
background: ``test_upload_jobs`` and ``test_upload_limits`` cover the jobs)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import Route
from journal.models import ExportImport, ImportJob, JournalEntry, Trade
from routing.models import ReplayJob
from routing.services.import_jobs import import_job_run
from routing.services.leader_events import leader_event_ingest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upload_dir")]
NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"


@pytest.fixture
def alice_client(route: Route) -> Client:
    client = Client()
    client.force_login(route.owner)
    return client


def _upload(client: Client, route: Route, name: str, content: bytes, **fields: str):
    """POST an export, run the background read it queued, and GET the page it redirected to."""
    data = {"timezone": "UTC", "interval_ms": "500", "leader_account": "", **fields}
    data["file"] = SimpleUploadedFile(name, content, content_type="text/csv")
    response = client.post(reverse("group_upload", args=[route.group.pk]), data)
    assert response.status_code == 302
    for job_id in ImportJob.objects.filter(status="pending").values_list("pk", flat=True):
        import_job_run(job_id=job_id)
    return client.get(response["Location"])


def test_group_page_requires_login(route: Route) -> None:
    response = Client().get(reverse("group_detail", args=[route.group.pk]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_snapshot_when_owner_then_orders_and_positions(
    route: Route, alice_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import UTC, datetime

    from routing.engine.types import LeaderFill, Side

    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), datetime.now(UTC))
    # The feed message is numbered when the event commits: one event, one message.
    with django_capture_on_commit_callbacks(execute=True):
        leader_event_ingest(account=route.leader, fill=fill, source="test")
    body = alice_client.get(reverse("group_snapshot", args=[route.group.pk])).json()
    assert body["seq"] == 1
    assert {(o["follower"], o["qty"]) for o in body["orders"]} == {
        ("Eval 25K", 1),
        ("Funded 150K", 6),
    }
    assert [f["follower"] for f in body["followers"]] == ["Eval 25K", "Funded 150K"]


def test_snapshot_when_other_user_then_404(route: Route, bob) -> None:
    client = Client()
    client.force_login(bob)
    assert client.get(reverse("group_snapshot", args=[route.group.pk])).status_code == 404
    assert client.get(reverse("group_detail", args=[route.group.pk])).status_code == 404


def test_upload_real_export_then_imported_and_replay_queued(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    content = (shared_data / NINJATRADER).read_bytes()
    response = _upload(alice_client, route, "grid.csv", content, leader_account="Sim101")
    assert response.status_code == 200
    record = ExportImport.objects.get()
    assert (record.format, record.fill_count, record.leader_account_name) == (
        "ninjatrader_executions",
        19,
        "Sim101",
    )
    job = ReplayJob.objects.get()
    assert (job.group_id, job.status, job.interval_ms) == (route.group.pk, "pending", 500)
    assert "replay queued" in response.content.decode()


def test_upload_malformed_export_then_nothing_imported_and_error_names_row(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    lines = (shared_data / NINJATRADER).read_text().splitlines()
    lines[5] = lines[5].replace("MNQ MAR25", "XYZ MAR25")
    response = _upload(
        alice_client, route, "grid.csv", "\n".join(lines).encode(), leader_account="Sim101"
    )
    page = response.content.decode()
    assert "Nothing imported: grid.csv, row 6, field &#x27;Instrument&#x27;" in page
    assert ExportImport.objects.count() == 0
    assert ReplayJob.objects.count() == 0


def test_upload_empty_file_then_nothing_imported(route: Route, alice_client: Client) -> None:
    response = _upload(alice_client, route, "empty.csv", b"")
    assert "file: The submitted file is empty." in response.content.decode()
    assert ExportImport.objects.count() == 0


def test_upload_topstepx_then_trades_journaled_not_replayed(
    route: Route, alice_client: Client, shared_data: Path
) -> None:
    content = (shared_data / "arielSofer_aiTradeReports/topstepx_trades.csv").read_bytes()
    response = _upload(alice_client, route, "topstepx_trades.csv", content)
    assert "not replayed" in response.content.decode()
    assert Trade.objects.count() == 667
    assert ReplayJob.objects.count() == 0
    # Importing the same dump again doubles nothing.
    _upload(alice_client, route, "topstepx_trades.csv", content)
    assert Trade.objects.count() == 667
    assert JournalEntry.objects.filter(event_type="export.imported").count() == 2
    # The trades page lists them (not only a count), 100 a page, with the
    # totals of the whole set; filtered by symbol, the totals follow.
    page = alice_client.get(reverse("trades")).content.decode()
    assert "667 trades · net PnL" in page
    assert "Page 1 of 7" in page
    assert page.count("<tr>") == 1 + 100  # the header row and 100 trades
    symbols = set(Trade.objects.values_list("symbol", flat=True))
    some = sorted(symbols)[0]
    wanted = Trade.objects.filter(symbol__istartswith=some).count()
    filtered = alice_client.get(reverse("trades"), {"symbol": some}).content.decode()
    assert f"{wanted} trade{'s' if wanted != 1 else ''} · net PnL" in filtered
    export = alice_client.get(reverse("trade_export"), {"symbol": some})
    body = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.count("\n") == 1 + wanted


def test_journal_page_lists_entries(route: Route, alice_client: Client) -> None:
    page = alice_client.get(reverse("journal")).content.decode()
    assert "Eval 25K follows &#x27;Evals&#x27; at ratio 0.5" in page
