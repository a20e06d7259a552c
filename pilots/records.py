"""A pilot's verified record, computed from the fills of their published account.

Only fills at or after ``Pilot.published_at`` count (pre-registered): each
is verified (:mod:`pilots.verification`: trading hours, not in the future,
not backdated past the window before it was received, price inside the
stored bar covering it), paired into round trips, and summarised
(:mod:`pilots.report`); the result is stored as the pilot's
:class:`pilots.models.PilotRecord`, which the leaderboard ranks. Recomputed
by Celery when a pilot's account has fills newer than its record, and
nightly (:mod:`pilots.tasks`), so the copy path never waits for it.

A record that fails a check or raises an anomaly flag is *flagged*: the
pilot stays listed when eligible, and goes (back) to staff review, which
the badge needs (issue 11, "Verification").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max

from journal.models import EventType, Fill
from journal.services import journal_record
from pilots.anomalies import AnomalyStatus
from pilots.bars import Bar, BarSeries, MarketData, price_family
from pilots.models import MarketBar, Pilot, PilotRecord
from pilots.report import Report, build_report, report_data
from pilots.trades import RowFill, round_trips_from_fills
from pilots.verification import Execution, RecordRow, Status, verify_rows
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec, LeaderFill, Side
from routing.models import LeaderEvent
from routing.selectors import engine_contract_specs

# Bars this far around the record's fills are loaded (the coarsest bar is an hour).
_BAR_MARGIN = timedelta(hours=1)


def pilot_report(pilot: Pilot, *, at: datetime) -> Report:
    """The report of ``pilot``'s fills since publishing, checked at aware
    ``at``: rows are the fills in time order (row 1 is the first fill).
    Reads only. Raises ``ValueError`` naming a contract without a spec."""
    specs = engine_contract_specs()
    fills = list(
        Fill.objects.filter(account_id=pilot.account_id, filled_at__gte=pilot.published_at)
        .order_by("filled_at", "pk")
        .values_list("broker_fill_id", "symbol", "side", "qty", "price", "filled_at")
    )
    received = dict(
        LeaderEvent.objects.filter(
            account_id=pilot.account_id, external_id__in=[f[0] for f in fills]
        ).values_list("external_id", "created_at")
    )
    rows, row_fills, prices, times = [], [], [], []
    for row, (fill_id, symbol, side, qty, stored, filled_at) in enumerate(fills, start=1):
        price = _on_tick(stored, _spec(symbol, specs).tick_size)
        rows.append(
            RecordRow(
                row=row,
                symbol=symbol,
                executions=(Execution("fill", filled_at, price),),
                received_at=received.get(fill_id),
            )
        )
        row_fills.append(
            RowFill(
                LeaderFill(
                    fill_id,
                    str(pilot.account_id),
                    symbol,
                    Side(side.lower()),
                    qty,
                    price,
                    filled_at,
                ),
                rows=(row,),
            )
        )
        prices.append((price, _spec(symbol, specs).tick_size))
        times.append(filled_at)
    market = _market_data(fills, specs)
    results = verify_rows(
        rows, market=market, tick_sizes={r: s.tick_size for r, s in specs.items()}, checked_at=at
    )
    trips = round_trips_from_fills(row_fills, {r: s.point_value for r, s in specs.items()})
    return build_report(
        source={
            "pilot": pilot.display_name,
            "published_at": pilot.published_at.isoformat(),
            "nominal_balance": str(pilot.nominal_balance),
            "market_data": [series.describe() for series in market.series],
        },
        trips=trips.trips,
        nominal=pilot.nominal_balance,
        results=results,
        prices=prices,
        times=times,
        notes=([f"open at the end: {dict(trips.open_positions)}"] if trips.open_positions else []),
    )


@transaction.atomic
def pilot_record_refresh(pilot: Pilot, *, at: datetime) -> PilotRecord:
    """Compute ``pilot``'s record at aware ``at`` and store it.

    A record newly flagged (a failed check or an anomaly flag it did not
    have) sends an approved pilot back to review, journaled in the pilot's
    journal with the reasons. Returns the stored record.
    """
    pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
    report = pilot_report(pilot, at=at)
    data = report_data(report)
    reasons = flag_reasons(report)
    previous = PilotRecord.objects.filter(pilot=pilot).first()
    before = set(previous.data.get("flags", [])) if previous is not None else set()
    data["flags"] = reasons
    last = Fill.objects.filter(account_id=pilot.account_id).order_by("-filled_at")
    record, _ = PilotRecord.objects.update_or_create(
        pilot=pilot,
        defaults={
            "computed_at": at,
            "last_fill_at": last.values_list("filled_at", flat=True).first(),
            "listed": report.listing.listed,
            "seasoned": report.listing.seasoned,
            "flagged": bool(reasons),
            "score": report.components.score if report.listing.listed else None,
            "data": data,
        },
    )
    new = [reason for reason in reasons if reason not in before]
    if new and pilot.review == Pilot.Review.APPROVED:
        pilot.review = Pilot.Review.PENDING
        pilot.review_note = "Flagged again after approval: " + "; ".join(new)
        pilot.save(update_fields=["review", "review_note", "updated_at"])
    if new:
        journal_record(
            owner_id=pilot.owner_id,
            event_type=EventType.PILOT_FLAGGED,
            account_id=pilot.account_id,
            actor_label="verification",
            occurred_at=at,
            message=f"Pilot {pilot.display_name} flagged for review: " + "; ".join(new),
            extra_data={"pilot": pilot.pk, "flags": new},
        )
    return record


def flag_reasons(report: Report) -> list[str]:
    """Why a record needs staff review: each failed check (with its row) and
    each anomaly flag up, as sentences; empty when none."""
    reasons = [
        f"row {result.row} {result.symbol}: {finding.check.value} failed: {finding.reason}"
        for result in report.results
        if result.status is Status.FAILED
        for finding in result.failures
    ]
    reasons.extend(
        f"{a.code}: {a.detail}" for a in report.anomalies if a.status is AnomalyStatus.FLAGGED
    )
    return reasons


def pilots_due() -> list[Pilot]:
    """Pilots whose account has a fill newer than their record saw (or no
    record yet), in pk order: the ones a refresh pass recomputes. Reads
    only; two statements whatever the number of pilots."""
    pilots = list(Pilot.objects.select_related("record").order_by("pk"))
    newest = dict(
        Fill.objects.filter(account_id__in=[p.account_id for p in pilots])
        .values("account_id")
        .annotate(newest=Max("filled_at"))
        .values_list("account_id", "newest")
    )
    due = []
    for pilot in pilots:
        record = getattr(pilot, "record", None)
        if record is None or newest.get(pilot.account_id) != record.last_fill_at:
            due.append(pilot)
    return due


def _on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` written to its tick's decimals when that loses nothing
    (25530.000000 -> 25530.00 for a 0.25 tick): the database keeps six."""
    places = Decimal(1).scaleb(min(tick.normalize().as_tuple().exponent, 0))
    shown = price.quantize(places)
    return shown if shown == price else price


def _spec(symbol: str, specs: Mapping[str, ContractSpec]) -> ContractSpec:
    try:
        return specs[root_of(symbol)]
    except (SymbolError, KeyError):
        raise ValueError(f"no contract spec for {symbol!r}") from None


def _market_data(fills: Iterable[tuple[Any, ...]], specs: Mapping[str, ContractSpec]) -> MarketData:
    """The stored bars of the fills' price families over their span."""
    families: set[str] = set()
    first = last = None
    for _, symbol, *_rest, filled_at in fills:
        families.add(price_family(_spec(symbol, specs).root, specs))
        first = filled_at if first is None else min(first, filled_at)
        last = filled_at if last is None else max(last, filled_at)
    if first is None or last is None:
        return MarketData(series=(), specs=specs)
    grouped: dict[tuple[str, str, int], list[Bar]] = defaultdict(list)
    rows = MarketBar.objects.filter(
        family__in=families, start__gte=first - _BAR_MARGIN, start__lte=last + _BAR_MARGIN
    ).values_list("family", "month", "interval_seconds", "start", "open", "high", "low", "close")
    ticks = {price_family(root, specs): spec.tick_size for root, spec in specs.items()}
    for family, month, seconds, start, *ohlc in rows:
        o, h, low, c = (_on_tick(p, ticks.get(family, Decimal("0.000001"))) for p in ohlc)
        grouped[(family, month, seconds)].append(Bar(start, o, h, low, c))
    series = [
        BarSeries(
            bars,
            interval=timedelta(seconds=seconds),
            family=family,
            month=month or None,
            source="stored bars",
        )
        for (family, month, seconds), bars in sorted(grouped.items())
    ]
    return MarketData(series=series, specs=specs)
