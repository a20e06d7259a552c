"""Pilots and their stored records for the board's tests, built by hand.

A record's ``data`` is made as :func:`pilots.records.pilot_record_refresh`
makes it (:func:`pilots.report.report_data` over :func:`pilots.report.build_report`,
plus the flags), from one round trip per trading day closed at 10:00
America/Chicago, each row verified (or not, when asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from accounts.services import broker_account_create
from pilots.models import Pilot, PilotRecord, Plan
from pilots.records import flag_reasons
from pilots.report import build_report, report_data
from pilots.subscriptions import pilot_publish, user_plan_set
from pilots.tests.factories import ct, trip
from pilots.verification import RowResult, Status

PUBLISHED = datetime(2025, 9, 30, tzinfo=UTC)
COMPUTED = datetime(2025, 11, 12, tzinfo=UTC)

# 15 trading days over 42 calendar days (2025-10-01 to 2025-11-11): listed, no 60-day mark.
OCTOBER = [date(2025, 10, d) for d in (1, 3, 7, 9, 13, 15, 17, 21, 23, 27, 29)]
NOVEMBER = [date(2025, 11, d) for d in (3, 5, 7, 11)]
DAYS = OCTOBER + NOVEMBER

# Nominal $10,000. -500 on the first day (the 5 % drawdown), then +250 a
# day: October -500 + 10 x 250 = +2,000 (20 %), November 4 x 250 = +1,000
# (10 %), net +3,000 = 30 %.
THIRTY_FIVE = ["-500"] + ["250"] * 14
# -3,500 on the first day (35 %), then +600 a day for 14 days and +100 on a
# 16th (2025-11-13): net +5,000 = 50 %.
FIFTY_THIRTY_FIVE = ["-3500"] + ["600"] * 14 + ["100"]
DAYS_16 = [*DAYS, date(2025, 11, 13)]


def user(name: str) -> User:
    """A user ``name`` whose password is ``<name>-password-1``."""
    return User.objects.create_user(name, password=f"{name}-password-1")


def pilot_made(owner: User, name: str, *, markets: Sequence[str] = ("NQ",),
               nominal: int = 10_000, review: str = Pilot.Review.PENDING) -> Pilot:
    """``owner``'s account published as pilot ``name`` on 2025-09-30, with ``review``."""
    account = broker_account_create(owner=owner, name=f"{name} account", balance=Decimal(nominal))
    pilot = pilot_publish(owner=owner, account=account, display_name=name, markets=markets,
                          nominal_balance=Decimal(nominal), at=PUBLISHED)
    if review != Pilot.Review.PENDING:
        pilot.review = review
        pilot.save(update_fields=["review"])
    return pilot


def record_stored(pilot: Pilot, pnls: Sequence[str], days: Sequence[date] = DAYS, *,
                  verified: bool = True) -> PilotRecord:
    """Store ``pilot``'s record of one round trip of ``pnls[i]`` dollars on ``days[i]``."""
    trips, results = [], []
    for row, (day, pnl) in enumerate(zip(days, pnls, strict=False), start=1):
        assert day.weekday() < 5, day
        trips.append(trip(pnl, ct(day.year, day.month, day.day, 10), rows=(row,)))
        status = Status.VERIFIED if verified else Status.UNVERIFIABLE
        results.append(RowResult(row, "MNQZ5", status))
    report = build_report(source={"pilot": pilot.display_name}, trips=trips,
                          nominal=pilot.nominal_balance, results=results, prices=[], times=[])
    data = report_data(report)
    data["flags"] = flag_reasons(report)
    record, _ = PilotRecord.objects.update_or_create(
        pilot=pilot,
        defaults={
            "computed_at": COMPUTED,
            "listed": report.listing.listed,
            "seasoned": report.listing.seasoned,
            "flagged": bool(data["flags"]),
            "score": report.components.score if report.listing.listed else None,
            "data": data,
        },
    )
    return record


def plan_given(holder: User, *, term: str = Plan.Term.MONTHLY, max_pilots: int = 1) -> None:
    """Give ``holder`` a plan following ``max_pilots`` pilots."""
    plan, _ = Plan.objects.get_or_create(
        name=f"{term} {max_pilots}", defaults={"term": term, "max_pilots": max_pilots}
    )
    user_plan_set(user=holder, plan=plan, at=timezone.now(), actor=holder)
