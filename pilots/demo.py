"""Demo pilots and plans for ``manage.py seed_demo`` (issue 11, "Leaderboard pages").

When ``shared/data`` is present (``settings.SHARED_DATA_DIR``), three demo
users each publish a paper leader account whose fills are a real export's
fills, shifted in time so the record is recent, and whose record is then
computed as any pilot's (:func:`pilots.records.pilot_record_refresh`):

* **Anna** (``pilot-anna``): ``Performance (2).csv`` of arielSofer's
  Tradovate account, the longest priced record in the data (29 calendar
  days, 13 trading days). Not listed: only its fills of 2025-12-02 to
  -05 have NQ bars (none exist for gold or for later days), so its
  *verified* history is a day or two, and listing needs 30 calendar and
  15 trading days. No real export here allows a listed pilot: the only
  bars end on 2025-12-05, and the TopstepX dump has no prices.
* **Ben** (``pilot-ben``): ``Performance.csv`` of the same account; its
  MNQ fills of 2025-12-01 to -05 are verified against the bars, its
  gold fills are unverifiable: a clean record with too little history.
* **Cara** (``pilot-cara``): hamtaro777's Tradovate fills (two days of NQ
  and MES), with one planted defect: her last fill is moved into the
  16:00-17:00 CT daily halt, so the trading-hours check fails and the
  record is flagged for review. Too little history as well.

arielSofer's exports state zone-less times in Israel time (Asia/Jerusalem):
read so, every MNQ fill lies inside its NQ bar; read as UTC, ten fail.

The shift is a whole number of weeks of America/Chicago wall-clock time,
so each fill keeps its weekday and time of day on the CME clock (the
trading-hours check and the session days stay as they were, across
daylight saving changes too); the NQ bars (5-minute and 1-hour) move by
the same amount as Anna's and Ben's fills. Fills are stored as the
accounts' own (:func:`journal.fills.fills_record`) without leader events:
a fill without one has no received time, so the backdating check is not
made on it.

Idempotent: a demo pilot that exists is left as it is (shifting again on
a later day would store the same fill ids at other times).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.fills import FillInput, fills_record
from journal.importers import ExportError, read_export
from pilots.market_data import load_bars
from pilots.models import MarketBar, Pilot, Plan
from pilots.records import pilot_record_refresh
from pilots.subscriptions import pilot_publish
from routing.engine.symbols import root_of
from routing.engine.types import ContractSpec, LeaderFill
from routing.selectors import engine_contract_specs

logger = logging.getLogger(__name__)

CHICAGO = ZoneInfo("America/Chicago")
ARIEL = "arielSofer_aiTradeReports"
# NQ bars of arielSofer's repository: finest first is what verification uses.
ARIEL_BARS = (f"{ARIEL}/marketData_5m.json", f"{ARIEL}/marketData_1h.json")
# name, term, pilots followed at once (issue 11: monthly and yearly follow one).
DEMO_PLANS = (("Monthly", "monthly", 1), ("Yearly", "yearly", 1), ("Lifetime", "lifetime", 3))


@dataclass(frozen=True, slots=True)
class DemoPilot:
    """One demo pilot: its user, display name, export (under shared/data),
    the zone of the export's zone-less times, its nominal size in dollars,
    the group of exports shifted together (they share bars), and whether
    its last fill is planted in the daily halt."""

    username: str
    display_name: str
    export: str
    tz: str
    nominal: int
    group: str
    halt_last_fill: bool = False


DEMO_PILOTS = (
    DemoPilot("pilot-anna", "Anna Index", f"{ARIEL}/Performance (2).csv", "Asia/Jerusalem",
              50_000, ARIEL),
    DemoPilot("pilot-ben", "Ben Micro NQ", f"{ARIEL}/Performance.csv", "Asia/Jerusalem",
              25_000, ARIEL),
    DemoPilot("pilot-cara", "Cara Tape", "hamtaro777_tradovate-analytics-test/Fills_tradovate.csv",
              "UTC", 50_000, "hamtaro777", halt_last_fill=True),
)  # fmt: skip


def demo_plans_seed() -> int:
    """Create the demo plans (Monthly 1, Yearly 1, Lifetime 3 pilots) when
    no plan exists; returns how many were created."""
    if Plan.objects.exists():
        return 0
    Plan.objects.bulk_create(
        [Plan(name=name, term=term, max_pilots=n) for name, term, n in DEMO_PLANS]
    )
    return len(DEMO_PLANS)


def demo_pilots_seed(*, data_dir: Path, now: datetime) -> list[Pilot]:
    """Seed the demo pilots missing (see the module docstring) from the
    exports in ``data_dir``, their records computed at aware ``now``;
    returns the pilots created (none when ``data_dir`` is absent or every
    demo pilot exists)."""
    if not data_dir.is_dir():
        return []
    missing = [
        demo
        for demo in DEMO_PILOTS
        if not Pilot.objects.filter(display_name=demo.display_name).exists()
        and (data_dir / demo.export).is_file()
    ]
    if not missing:
        return []
    specs = engine_contract_specs()
    ticks = {root: spec.tick_size for root, spec in specs.items()}
    groups = sorted({demo.group for demo in missing})
    # Every export of a group is read, seeded or not: the group's shift
    # comes from all of them, so it is the same whichever pilots are missing.
    try:
        fills = {
            demo: _demo_fills(
                read_export(
                    data_dir / demo.export, tz=demo.tz, known_roots=set(specs), tick_sizes=ticks
                ).fills,
                demo,
            )
            for demo in DEMO_PILOTS
            if demo.group in groups and (data_dir / demo.export).is_file()
        }
        created = []
        with transaction.atomic():
            for group in groups:
                members = [demo for demo in fills if demo.group == group]
                weeks = _weeks_back(max(f.time for demo in members for f in fills[demo]), now)
                if group == ARIEL:
                    _bars_load(data_dir, weeks)
                created += [
                    _pilot_seed(demo, fills[demo], weeks, specs)
                    for demo in members
                    if demo in missing
                ]
    except ExportError as exc:  # MarketDataError too
        # The demo must start anyway (as seed_demo's own export does), with
        # nothing half-seeded; the operator sees why there are no pilots.
        logger.warning("demo pilots not seeded: %s", exc)
        return []
    # Each refresh is its own transaction (it locks its pilot), as the
    # Celery task runs it; the pilots are stored whatever their records say.
    for pilot in created:
        pilot_record_refresh(pilot, at=now)
    return created


def shifted(at: datetime, weeks: int) -> datetime:
    """Aware ``at`` moved ``weeks`` weeks on the America/Chicago wall clock
    (same weekday and CME time of day), returned in the same zone as UTC."""
    local = at.astimezone(CHICAGO).replace(tzinfo=None) + timedelta(weeks=weeks)
    return local.replace(tzinfo=CHICAGO).astimezone(at.tzinfo)


def _weeks_back(last: datetime, now: datetime) -> int:
    """Whole weeks that bring ``last`` closest to ``now`` without passing it."""
    gap = now.astimezone(CHICAGO).replace(tzinfo=None) - last.astimezone(CHICAGO).replace(
        tzinfo=None
    )
    return max(gap.days // 7, 0)


def _demo_fills(fills: Sequence[LeaderFill], demo: DemoPilot) -> list[LeaderFill]:
    """The export's fills in time order, with Cara's planted defect."""
    ordered = sorted(fills, key=lambda f: (f.time, f.event_id))
    if demo.halt_last_fill and ordered:
        last = ordered[-1]
        local = last.time.astimezone(CHICAGO)
        halt = local.replace(hour=16, minute=30, second=0, microsecond=0)
        if halt < local:  # stays the last fill: the next day's halt
            halt += timedelta(days=1)
        ordered[-1] = dataclasses.replace(last, time=halt.astimezone(last.time.tzinfo))
    return ordered


def _pilot_seed(
    demo: DemoPilot,
    fills: Sequence[LeaderFill],
    weeks: int,
    specs: Mapping[str, ContractSpec],
) -> Pilot:
    """Create ``demo``'s user (once), paper account, pilot and shifted fills."""
    user = User.objects.filter(username=demo.username).first()
    if user is None:
        # No password: the demo pilots are shown, nobody logs in as them.
        user = User.objects.create_user(demo.username, password=None)
    account = broker_account_create(
        owner=user,
        name=f"{demo.display_name} lead",
        balance=Decimal(demo.nominal),
        kind=BrokerAccount.Kind.PERSONAL,
    )
    times = [shifted(f.time, weeks) for f in fills]
    pilot = pilot_publish(
        owner=user,
        account=account,
        display_name=demo.display_name,
        markets=sorted({root_of(f.symbol) for f in fills}),
        nominal_balance=Decimal(demo.nominal),
        # Published the day before its first fill: every fill counts.
        at=min(times) - timedelta(days=1),
    )
    fills_record(
        [
            FillInput(
                account_id=account.pk,
                broker_fill_id=f"demo-{f.event_id}",
                symbol=f.symbol,
                side=f.side.value,
                qty=f.qty,
                price=f.price,
                point_value=specs[root_of(f.symbol)].point_value,
                filled_at=at,
            )
            for f, at in zip(fills, times, strict=True)
        ]
    )
    return pilot


def _bars_load(data_dir: Path, weeks: int) -> None:
    """Store arielSofer's NQ bars shifted ``weeks`` weeks (kept when stored already)."""
    rows = []
    for name in ARIEL_BARS:
        series = load_bars(data_dir / name, family="NQ")
        seconds = int(series.interval.total_seconds())
        source = f"{series.source or name} (demo: shifted {weeks} weeks)"
        rows += [
            MarketBar(
                family="NQ",
                month="",
                interval_seconds=seconds,
                start=shifted(bar.start, weeks),
                open=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                source=source[:200],
            )
            for bar in series.bars
        ]
    MarketBar.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
