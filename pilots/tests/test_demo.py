"""The demo pilots and plans (pilots.demo, ``seed_demo_pilots``) from the real exports.

Seeded "now" is Thursday 2026-12-03 12:00 UTC. arielSofer's last fill
(Performance (2).csv, Mon 2025-12-29 17:59:53 CT) moves 48 weeks to Mon
2026-11-30, hamtaro777's (Wed 2026-02-11) 42 weeks to Wed 2026-12-02.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from accounts.models import BrokerAccount, User
from journal.models import EventType, Fill, JournalEntry
from pilots.demo import DEMO_PILOTS, demo_pilots_seed, shifted
from pilots.models import MarketBar, Pilot, PilotRecord, Plan

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "accounts": BrokerAccount.objects.count(),
        "pilots": Pilot.objects.count(),
        "records": PilotRecord.objects.count(),
        "fills": Fill.objects.count(),
        "bars": MarketBar.objects.count(),
        "journal": JournalEntry.objects.count(),
        "plans": Plan.objects.count(),
    }


def test_the_demo_seeds_a_long_a_short_and_a_failing_pilot(shared_data: Path) -> None:
    # Act
    started = time.perf_counter()
    pilots = {p.display_name: p for p in demo_pilots_seed(data_dir=shared_data, now=NOW)}
    elapsed = time.perf_counter() - started
    # Assert: three pilots, each owned by its own demo user.
    assert sorted(pilots) == ["Anna Index", "Ben Micro NQ", "Cara Tape"]
    assert {p.owner.username for p in pilots.values()} == {"pilot-anna", "pilot-ben", "pilot-cara"}
    anna, ben, cara = (pilots[n].record for n in ("Anna Index", "Ben Micro NQ", "Cara Tape"))
    # Anna: the longest record (29 days, 13 trading days), clean, but only a
    # day of it has bars, so not listed.
    assert (anna.data["statistics"]["calendar_days"], anna.data["statistics"]["trading_days"]) == (
        29,
        13,
    )
    assert not anna.flagged and not anna.listed
    assert anna.data["verification"]["counts"]["failed"] == 0
    assert anna.data["listing"]["reasons"][0].startswith("1 calendar day of verified history")
    # Ben: 27 fills verified inside the shifted NQ bars, none failed; too little history.
    assert ben.data["verification"]["counts"] == {"verified": 27, "failed": 0, "unverifiable": 42}
    assert not ben.flagged and not ben.listed
    assert ben.data["listing"]["reasons"] == [
        "5 calendar days of verified history; listing needs 30",
        "4 trading days of verified history; listing needs 15",
    ]
    # Cara: the planted fill in the daily halt fails; flagged, waiting for review.
    assert cara.flagged and not cara.listed
    assert cara.data["flags"] == [
        "row 20 MESH6: trading_hours failed: Wed 2026-12-02 16:30:00 CT is in the daily "
        "halt (16:00 to 17:00 CT)"
    ]
    assert pilots["Cara Tape"].review == Pilot.Review.PENDING
    assert JournalEntry.objects.filter(
        owner_id=pilots["Cara Tape"].owner_id, event_type=EventType.PILOT_FLAGGED
    ).exists()
    # Recent: every record's last fill is within the week before now.
    for record in (anna, ben, cara):
        assert record.last_fill_at is not None
    assert NOW - timedelta(days=7) < anna.last_fill_at <= NOW
    assert NOW - timedelta(days=7) < cara.last_fill_at <= NOW
    # Fast enough for `make run` (about 0.4 s here; generous for a loaded machine).
    assert elapsed < 5


def test_fills_keep_their_weekday_and_cme_time_of_day(shared_data: Path) -> None:
    demo_pilots_seed(data_dir=shared_data, now=NOW)
    # hamtaro777's first fill, 2026-02-11 06:34:46.772 UTC (Wed 00:34 CT), 42 weeks on.
    first = Fill.objects.filter(account__pilot__display_name="Cara Tape").order_by("filled_at")[0]
    assert first.filled_at == datetime(2026, 12, 2, 6, 34, 46, 772000, tzinfo=UTC)
    # Across a daylight saving change the Chicago wall clock is what is kept.
    july = datetime(2026, 7, 1, 14, 30, tzinfo=UTC)  # Wed 09:30 CDT
    moved = shifted(july, 20).astimezone(CHICAGO)
    assert (moved.weekday(), moved.hour, moved.minute) == (2, 9, 30)
    assert moved.utcoffset() == timedelta(hours=-6)  # CST by then


def test_seeding_twice_stores_the_same_rows(shared_data: Path, settings: Any) -> None:
    settings.SHARED_DATA_DIR = shared_data
    out = StringIO()
    call_command("seed_demo_pilots", stdout=out)
    first = _counts()
    again = StringIO()
    call_command("seed_demo_pilots", stdout=again)
    assert _counts() == first
    assert "Demo pilots: Anna Index, Ben Micro NQ, Cara Tape" in out.getvalue()
    assert again.getvalue() == ""
    assert first["pilots"] == len(DEMO_PILOTS)
    assert sorted(Plan.objects.values_list("name", "term", "max_pilots")) == [
        ("Lifetime", "lifetime", 3),
        ("Monthly", "monthly", 1),
        ("Yearly", "yearly", 1),
    ]


def test_without_shared_data_only_the_plans_and_nothing_printed(
    tmp_path: Path, settings: Any
) -> None:
    settings.SHARED_DATA_DIR = tmp_path / "absent"
    out = StringIO()
    call_command("seed_demo_pilots", stdout=out)
    assert out.getvalue() == ""
    assert not Pilot.objects.exists()
    assert Plan.objects.count() == 3


def test_plans_that_exist_are_left_alone(tmp_path: Path, settings: Any) -> None:
    settings.SHARED_DATA_DIR = tmp_path / "absent"
    Plan.objects.create(name="Club", term="lifetime", max_pilots=5)
    call_command("seed_demo_pilots", stdout=StringIO())
    assert list(Plan.objects.values_list("name", flat=True)) == ["Club"]


def test_an_unreadable_export_seeds_nothing_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: shared/data with Cara's export broken.
    broken = tmp_path / "hamtaro777_tradovate-analytics-test" / "Fills_tradovate.csv"
    broken.parent.mkdir()
    broken.write_text("not,an,export\n1,2,3\n")
    # Act
    pilots = demo_pilots_seed(data_dir=tmp_path, now=NOW)
    # Assert
    assert pilots == []
    assert not Pilot.objects.exists()
    assert "demo pilots not seeded: " in caplog.text
