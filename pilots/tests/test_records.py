"""A pilot's record from their published account's fills (pilots.records).

Alice's leader account "Lead" is published on 2025-12-01; her fills arrive
live (each received a second after it happened, the clock moved there) and
are checked against the real NQ 5-minute bars of 2025-12-02
(shared/data/arielSofer_aiTradeReports/marketData_5m.json): the 13:30 UTC bar
ran 25,483.00-25,498.00, the 13:40 bar 25,501.00-25,514.75. MNQ is $2 a
point, its tick 0.25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route, fill_stored
from journal.models import EventType, JournalEntry
from pilots.models import MarketBar, Pilot, PilotRecord
from pilots.records import pilot_record_refresh, pilots_due
from pilots.subscriptions import pilot_publish
from pilots.tasks import records_refresh_due
from routing.engine.types import LeaderFill, Side
from routing.services.leader_events import leader_event_ingest

pytestmark = pytest.mark.django_db

PUBLISHED = datetime(2025, 12, 1, tzinfo=UTC)
CHECKED = datetime(2025, 12, 3, tzinfo=UTC)
BARS = "arielSofer_aiTradeReports/marketData_5m.json"


@pytest.fixture
def pilot(route: Route, shared_data: Path) -> Pilot:
    out = StringIO()
    call_command("market_bars_load", str(shared_data / BARS), family="NQ", stdout=out)
    assert "1028 bar(s) read, 1028 new" in out.getvalue()
    return pilot_publish(
        owner=route.owner,
        account=route.leader,
        display_name="Alice NQ",
        markets=["MNQ"],
        nominal_balance=Decimal(50_000),
        at=PUBLISHED,
    )


def _live(
    route: Route,
    event_id: str,
    side: Side,
    price: str,
    at: datetime,
    received: datetime | None = None,
) -> None:
    """A leader fill at ``at`` received at ``received`` (a second later by default)."""
    with time_machine.travel(received or at + timedelta(seconds=1), tick=False):
        leader_event_ingest(
            account=route.leader,
            fill=LeaderFill(event_id, "lead", "MNQZ5", side, 1, Decimal(price), at),
            source="test",
        )


def test_a_round_trip_inside_the_bars_is_verified(route: Route, pilot: Pilot) -> None:
    # Arrange: buy 13:31 @ 25,490.00, sell 13:41 @ 25,510.00: +20 pt x $2 = +40.00.
    _live(route, "b1", Side.BUY, "25490.00", datetime(2025, 12, 2, 13, 31, tzinfo=UTC))
    _live(route, "s1", Side.SELL, "25510.00", datetime(2025, 12, 2, 13, 41, tzinfo=UTC))
    # Act
    record = pilot_record_refresh(pilot, at=CHECKED)
    # Assert
    data = record.data
    assert data["verification"]["counts"] == {"verified": 2, "failed": 0, "unverifiable": 0}
    assert data["statistics"]["net_pnl"] == "40.00"
    assert data["listing"]["verified_statistics"]["round_trips"] == 1
    assert not record.flagged and not record.listed and record.score is None
    assert "1 calendar day of verified history; listing needs " in data["listing"]["reasons"][0]
    assert pilots_due() == []


def test_a_price_outside_its_bar_flags_the_pilot_for_review(route: Route, pilot: Pilot) -> None:
    # Arrange: Alice was approved; then a sell at 25,530.00 in the 13:40 bar
    # (high 25,514.75, + one tick = 25,515.00).
    pilot.review = Pilot.Review.APPROVED
    pilot.save()
    _live(route, "b1", Side.BUY, "25490.00", datetime(2025, 12, 2, 13, 31, tzinfo=UTC))
    _live(route, "s1", Side.SELL, "25530.00", datetime(2025, 12, 2, 13, 41, tzinfo=UTC))
    # Act
    record = pilot_record_refresh(pilot, at=CHECKED)
    again = pilot_record_refresh(pilot, at=CHECKED)
    # Assert: the row failed and the record is flagged; back to review, once.
    assert record.data["verification"]["counts"]["failed"] == 1
    (flag,) = record.data["flags"]
    assert flag.startswith(
        "row 2 MNQZ5: price_range failed: price 25530.00 is outside the NQ 5-minute bar"
    )
    assert again.flagged
    pilot.refresh_from_db()
    assert pilot.review == Pilot.Review.PENDING
    assert "Flagged again after approval: row 2" in pilot.review_note
    entries = JournalEntry.objects.filter(
        owner_id=route.owner.pk, event_type=EventType.PILOT_FLAGGED
    )
    assert entries.count() == 1
    # The verified statistics leave the failed round trip out.
    assert record.data["listing"]["verified_statistics"]["round_trips"] == 0


def test_a_fill_received_long_after_it_happened_fails_the_backdating_check(
    route: Route, pilot: Pilot
) -> None:
    at = datetime(2025, 12, 2, 13, 31, tzinfo=UTC)
    _live(route, "b1", Side.BUY, "25490.00", at, received=at + timedelta(minutes=29))
    record = pilot_record_refresh(pilot, at=CHECKED)
    (row,) = record.data["verification"]["rows"]
    assert row["status"] == "failed"
    assert [f["check"] for f in row["failures"]] == ["not_backdated"]


def test_fills_before_publishing_do_not_count_and_no_bar_is_unverifiable(
    route: Route, pilot: Pilot
) -> None:
    # Before publishing: not in the record. 2025-12-08 has no bars: unverifiable.
    _live(route, "b0", Side.BUY, "25000.00", datetime(2025, 11, 28, 15, tzinfo=UTC))
    _live(route, "s0", Side.SELL, "25001.00", datetime(2025, 11, 28, 15, 5, tzinfo=UTC))
    _live(route, "b1", Side.BUY, "25490.00", datetime(2025, 12, 8, 15, 0, tzinfo=UTC))
    record = pilot_record_refresh(pilot, at=datetime(2025, 12, 9, tzinfo=UTC))
    assert record.data["verification"]["counts"] == {"verified": 0, "failed": 0, "unverifiable": 1}
    assert not record.flagged


def test_new_fills_make_a_pilot_due_and_bars_load_once(
    route: Route, pilot: Pilot, shared_data: Path
) -> None:
    assert pilots_due() == [pilot]  # no record yet
    pilot_record_refresh(pilot, at=CHECKED)
    assert pilots_due() == []
    _live(route, "b1", Side.BUY, "25490.00", datetime(2025, 12, 2, 13, 31, tzinfo=UTC))
    assert pilots_due() == [pilot]
    out = StringIO()
    call_command("market_bars_load", str(shared_data / BARS), family="nq", stdout=out)
    assert "1028 bar(s) read, 0 new (1028 stored already)" in out.getvalue()
    assert MarketBar.objects.count() == 1028


def test_one_pilots_bad_record_does_not_stop_the_others(
    route: Route, pilot: Pilot, alice: User
) -> None:
    # Arrange: a second pilot whose account holds a fill in a contract the
    # project has no spec for.
    odd = broker_account_create(owner=alice, name="Odd", balance=Decimal(0))
    other = pilot_publish(
        owner=alice,
        account=odd,
        display_name="Odd one",
        markets=["ZZ"],
        nominal_balance=Decimal(10_000),
        at=PUBLISHED,
    )
    fill_stored(
        account=odd,
        broker_fill_id="z1",
        symbol="ZZZH6",
        side="buy",
        qty=1,
        price=Decimal(10),
        realized_pnl=Decimal(0),
        filled_at=CHECKED - timedelta(hours=1),
    )
    # Act
    refreshed = records_refresh_due()
    # Assert: Alice NQ's record made; the odd one journaled with the reason.
    assert refreshed == 1
    assert PilotRecord.objects.filter(pilot=pilot).exists()
    assert not PilotRecord.objects.filter(pilot=other).exists()
    entry = JournalEntry.objects.get(event_type=EventType.PILOT_RECORD_FAILED)
    assert entry.message == "Record of pilot Odd one not refreshed: no contract spec for 'ZZZH6'"
