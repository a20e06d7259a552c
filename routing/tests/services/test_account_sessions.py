"""The session reset: one AccountSession row per (account, trading date).

The clock moves by passing ``at``; every expected time, date and balance is
worked out by hand in the comments. CME sessions open at 17:00 America/Chicago
Sunday to Thursday: 17:00 CST = 23:00 UTC, 17:00 CDT = 22:00 UTC. DST starts
Sun 2026-03-08 and ends Sun 2026-11-01.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import BrokerAccount
from conftest import Route, fill_stored
from journal.models import EventType, Fill, JournalEntry, Position
from routing.engine.limits import RiskLimits
from routing.models import AccountSession, Quarantine
from routing.services.account_halts import account_halt
from routing.services.account_sessions import (
    account_session_current,
    account_session_preview,
    account_sessions_roll,
    engine_session,
)

# Friday 2026-03-06's session: opened Thu 03-05 17:00 CST = 23:00 UTC.
FRIDAY = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # Fri 09:00 CST
FRIDAY_OPEN = datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
# Monday 2026-03-09's session: opened Sun 03-08 17:00 CDT = 22:00 UTC (DST began
# that morning). The worker comes back Monday 08:00 CDT = 13:00 UTC.
MONDAY_OPEN = datetime(2026, 3, 8, 22, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def _fill(account: BrokerAccount, fill_id: str, pnl: str, at: datetime) -> Fill:
    return fill_stored(
        account=account,
        broker_fill_id=fill_id,
        symbol="MNQH6",
        side="SELL",
        qty=1,
        price=Decimal("21000.00"),
        realized_pnl=Decimal(pnl),
        filled_at=at,
    )


def _resets() -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=EventType.SESSION_RESET).order_by("pk"))


# -- the first session ---------------------------------------------------------


@pytest.mark.django_db
def test_first_session_snapshots_the_account_balance_and_journals_the_reset(
    route: Route,
) -> None:
    row = account_session_current(account=route.small, at=FRIDAY)

    assert row.trading_date == date(2026, 3, 6)
    assert row.opened_at == FRIDAY_OPEN
    assert row.opening_balance == Decimal("25000.00")
    assert row.high_water == row.eod_high_water == Decimal("25000.00")
    assert row.halted_at is None
    [entry] = _resets()
    assert entry.account_id == route.small.pk
    assert entry.group_id == route.group.pk
    assert entry.actor_label == "session"
    assert entry.occurred_at == FRIDAY
    assert entry.after["trading_date"] == "2026-03-06"
    assert {k: Decimal(entry.after[k]) for k in ("opening_balance", "high_water")} == {
        "opening_balance": Decimal("25000.00"),
        "high_water": Decimal("25000.00"),
    }
    assert "session 2026-03-06 opened 2026-03-05 17:00 CST" in entry.message
    assert "first session" in entry.message


@pytest.mark.django_db
def test_first_session_reads_the_balance_from_the_database_not_a_stale_instance(
    route: Route,
) -> None:
    stale = BrokerAccount.objects.get(pk=route.small.pk)
    BrokerAccount.objects.filter(pk=route.small.pk).update(balance=Decimal("24500.00"))

    row = account_session_current(account=stale, at=FRIDAY)

    assert row.opening_balance == Decimal("24500.00")
    # The high-water mark starts at the starting balance when the account is below it.
    assert row.high_water == row.eod_high_water == Decimal("25000.00")
    assert BrokerAccount.objects.get(pk=route.small.pk).balance == Decimal("24500.00")


@pytest.mark.django_db
def test_second_call_same_trading_date_creates_nothing_and_journals_nothing(
    route: Route,
) -> None:
    first = account_session_current(account=route.small, at=FRIDAY)
    # Fri 15:59 CST = 21:59 UTC: still Friday's session, a minute before its close.
    later = account_session_current(
        account=route.small, at=datetime(2026, 3, 6, 21, 59, tzinfo=UTC)
    )

    assert later.pk == first.pk
    assert AccountSession.objects.count() == 1
    assert len(_resets()) == 1


@pytest.mark.django_db
def test_roll_resets_every_follower_once_and_leaves_the_leader_alone(route: Route) -> None:
    assert account_sessions_roll(at=FRIDAY) == 2  # Eval 25K and Funded 150K
    assert account_sessions_roll(at=FRIDAY) == 0  # redelivered: nothing left to do

    assert set(AccountSession.objects.values_list("account__name", "trading_date")) == {
        ("Eval 25K", date(2026, 3, 6)),
        ("Funded 150K", date(2026, 3, 6)),
    }
    assert not AccountSession.objects.filter(account=route.leader).exists()
    assert len(_resets()) == 2


@pytest.mark.django_db
def test_roll_of_given_accounts_touches_only_those(route: Route) -> None:
    assert account_sessions_roll(at=FRIDAY, accounts=[route.large]) == 1

    assert list(AccountSession.objects.values_list("account_id", flat=True)) == [route.large.pk]


# -- catch-up over a weekend ---------------------------------------------------


@pytest.mark.django_db
def test_catch_up_after_a_weekend_down_carries_fridays_realized_pnl_into_monday(
    route: Route,
) -> None:
    account_sessions_roll(at=FRIDAY)
    # Thursday's session (before Friday's row opened): already in the balance.
    _fill(route.small, "thu", "-999.00", datetime(2026, 3, 5, 21, 0, tzinfo=UTC))
    # Friday's session: +250.00 and -75.50 realized, the first one exactly at the open.
    _fill(route.small, "fri-1", "250.00", FRIDAY_OPEN)
    _fill(route.small, "fri-2", "-75.50", datetime(2026, 3, 6, 16, 30, tzinfo=UTC))
    # Monday's session (Sun 17:30 CDT): after Monday's open, not in its opening.
    _fill(route.small, "mon", "40.00", datetime(2026, 3, 8, 22, 30, tzinfo=UTC))

    # Saturday noon CST: still Friday's trading date, so nothing to reset.
    assert account_sessions_roll(at=datetime(2026, 3, 7, 18, 0, tzinfo=UTC)) == 0
    # The worker was down at Sunday's 17:00 open and returns Monday 08:00 CDT.
    assert account_sessions_roll(at=MONDAY) == 2

    monday = AccountSession.objects.get(account=route.small, trading_date=date(2026, 3, 9))
    assert monday.opened_at == MONDAY_OPEN  # the session's open, not the late run
    # 25,000.00 + 250.00 - 75.50 = 25,174.50
    assert monday.opening_balance == Decimal("25174.50")
    assert monday.high_water == monday.eod_high_water == Decimal("25174.50")
    route.small.refresh_from_db()
    assert route.small.balance == Decimal("25174.50")
    large = AccountSession.objects.get(account=route.large, trading_date=date(2026, 3, 9))
    assert large.opening_balance == Decimal("150000.00")  # no fills: unchanged
    entry = JournalEntry.objects.filter(
        event_type=EventType.SESSION_RESET, account_id=route.small.pk
    ).latest("pk")
    assert entry.occurred_at == MONDAY
    assert "realized 174.50 since 2026-03-06" in entry.message


@pytest.mark.django_db
def test_catch_up_over_several_missed_sessions_counts_every_fill_since_the_last_row(
    route: Route,
) -> None:
    account_sessions_roll(at=FRIDAY)
    _fill(route.small, "fri", "100.00", datetime(2026, 3, 6, 16, 0, tzinfo=UTC))
    _fill(route.small, "mon", "-30.00", datetime(2026, 3, 9, 15, 0, tzinfo=UTC))
    _fill(route.small, "tue", "12.25", datetime(2026, 3, 10, 15, 0, tzinfo=UTC))

    # No roll Monday or Tuesday; back Wednesday 2026-03-11 09:00 CDT = 14:00 UTC.
    account_sessions_roll(at=datetime(2026, 3, 11, 14, 0, tzinfo=UTC))

    assert list(
        AccountSession.objects.filter(account=route.small)
        .order_by("trading_date")
        .values_list("trading_date", flat=True)
    ) == [date(2026, 3, 6), date(2026, 3, 11)]
    wednesday = AccountSession.objects.get(account=route.small, trading_date=date(2026, 3, 11))
    # 25,000.00 + 100.00 - 30.00 + 12.25 = 25,082.25; opened Tue 17:00 CDT = 22:00 UTC.
    assert wednesday.opening_balance == Decimal("25082.25")
    assert wednesday.opened_at == datetime(2026, 3, 10, 22, 0, tzinfo=UTC)


# -- DST: the trading date on both sides of 17:00 CT ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "trading_day", "opened_at"),
    [
        # Spring, Sun 2026-03-08 (CDT, UTC-5 from 02:00): 17:00 CDT = 22:00 UTC.
        # 16:59:59 CDT: the weekend, still Friday's session (opened Thu 17:00 CST).
        (datetime(2026, 3, 8, 21, 59, 59, tzinfo=UTC), date(2026, 3, 6), FRIDAY_OPEN),
        (datetime(2026, 3, 8, 22, 0, tzinfo=UTC), date(2026, 3, 9), MONDAY_OPEN),
        # 17:30 CDT: a CST reading (17:00 = 23:00 UTC) would still say Friday.
        (datetime(2026, 3, 8, 22, 30, tzinfo=UTC), date(2026, 3, 9), MONDAY_OPEN),
        # Fall, Sun 2026-11-01 (CST, UTC-6 from 02:00): 17:00 CST = 23:00 UTC.
        # Friday 2026-10-30's session opened Thu 10-29 17:00 CDT = 22:00 UTC.
        (
            datetime(2026, 11, 1, 22, 59, 59, tzinfo=UTC),
            date(2026, 10, 30),
            datetime(2026, 10, 29, 22, 0, tzinfo=UTC),
        ),
        # 16:30 CST: a CDT reading (17:00 = 22:00 UTC) would already say Monday.
        (
            datetime(2026, 11, 1, 22, 30, tzinfo=UTC),
            date(2026, 10, 30),
            datetime(2026, 10, 29, 22, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
            date(2026, 11, 2),
            datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_dst_sundays_map_either_side_of_the_open_to_the_right_row(
    route: Route, at: datetime, trading_day: date, opened_at: datetime
) -> None:
    row = account_session_current(account=route.small, at=at)

    assert (row.trading_date, row.opened_at) == (trading_day, opened_at)
    assert list(AccountSession.objects.values_list("trading_date", "opened_at")) == [
        (trading_day, opened_at)
    ]


@pytest.mark.django_db
def test_fall_dst_weekend_carries_the_balance_with_fills_on_both_sides_of_the_change(
    route: Route,
) -> None:
    friday = datetime(2026, 10, 30, 14, 0, tzinfo=UTC)  # Fri 09:00 CDT
    account_sessions_roll(at=friday)
    # Fri 15:59 CDT = 20:59 UTC: Friday's session.
    _fill(route.small, "fri", "310.00", datetime(2026, 10, 30, 20, 59, tzinfo=UTC))
    # Sun 22:30 UTC = 16:30 CST: before Monday's open, the market is closed;
    # a fill stamped there (a late broker clock) counts toward Friday's session.
    _fill(route.small, "sun", "-10.00", datetime(2026, 11, 1, 22, 30, tzinfo=UTC))
    # Sun 23:00 UTC = 17:00 CST: Monday's session, not in Monday's opening.
    _fill(route.small, "mon", "-500.00", datetime(2026, 11, 1, 23, 0, tzinfo=UTC))

    # Sun 16:59 CST: nothing to reset yet; 17:00 CST: Monday's session.
    assert account_sessions_roll(at=datetime(2026, 11, 1, 22, 59, tzinfo=UTC)) == 0
    assert account_sessions_roll(at=datetime(2026, 11, 1, 23, 0, tzinfo=UTC)) == 2

    monday = AccountSession.objects.get(account=route.small, trading_date=date(2026, 11, 2))
    # 25,000.00 + 310.00 - 10.00 = 25,300.00
    assert monday.opening_balance == Decimal("25300.00")


# -- what the new session carries and what it drops ----------------------------


@pytest.mark.django_db
def test_quarantines_of_earlier_sessions_are_released_by_the_roll_journaled_as_session(
    route: Route,
) -> None:
    account_sessions_roll(at=FRIDAY)
    old = Quarantine.objects.create(
        follower=route.small_follower,
        symbol="MNQH6",
        reason="rejected: insufficient margin",
        trading_date=date(2026, 3, 6),
    )
    # Started in Monday's session by the engine before the late roll ran.
    current = Quarantine.objects.create(
        follower=route.large_follower,
        symbol="MESH6",
        reason="rejected: outside trading hours",
        trading_date=date(2026, 3, 9),
    )

    account_sessions_roll(at=MONDAY)

    old.refresh_from_db()
    current.refresh_from_db()
    assert (old.released_at, old.released_by) == (MONDAY, "session")
    assert current.released_at is None
    [released] = JournalEntry.objects.filter(event_type=EventType.QUARANTINE_RELEASED)
    assert released.actor_label == "session"
    assert released.account_id == route.small.pk
    assert released.extra_data == {"quarantine": old.pk}
    # A second roll the same session releases nothing more.
    account_sessions_roll(at=MONDAY)
    assert JournalEntry.objects.filter(event_type=EventType.QUARANTINE_RELEASED).count() == 1


@pytest.mark.django_db
def test_fridays_halt_is_not_carried_into_mondays_session(route: Route) -> None:
    friday = account_session_current(account=route.small, at=FRIDAY)
    halted_at = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    assert account_halt(row=friday, reason="daily loss 375.00 reached", at=halted_at)
    assert not account_halt(row=friday, reason="again", at=halted_at)  # already halted

    monday = account_session_current(account=route.small, at=MONDAY)

    friday.refresh_from_db()
    assert (friday.halted_at, friday.halt_reason) == (halted_at, "daily loss 375.00 reached")
    assert (monday.halted_at, monday.halt_reason) == (None, "")
    limits = RiskLimits(daily_loss=Decimal(375))
    view = {"account": route.small, "limits": limits, "session_pnl": Decimal(0)}
    assert engine_session(friday, realized=Decimal(0), **view).halt == "daily loss 375.00 reached"
    assert engine_session(monday, realized=Decimal(0), **view).halt is None
    assert JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("pnl", "high", "eod_high", "opening"),
    [
        # A losing Friday: both marks stay where Friday left them.
        # 25,400.00 - 300.00 = 25,100.00 opening; marks 26,000.00 / 25,400.00.
        ("-300.00", "26000.00", "25400.00", "25100.00"),
        # A winning Friday past the end-of-day mark but under the intraday one:
        # 25,400.00 + 450.00 = 25,850.00 raises only the end-of-day mark.
        ("450.00", "26000.00", "25850.00", "25850.00"),
        # A winning Friday past both: 25,400.00 + 900.00 = 26,300.00.
        ("900.00", "26300.00", "26300.00", "26300.00"),
    ],
)
def test_high_water_marks_carry_over_and_rise_with_the_opening_balance(
    route: Route, pnl: str, high: str, eod_high: str, opening: str
) -> None:
    friday = account_session_current(account=route.small, at=FRIDAY)
    # Friday opened at 25,400.00 after an intraday peak of 26,000.00 earlier on.
    AccountSession.objects.filter(pk=friday.pk).update(
        opening_balance=Decimal("25400.00"),
        high_water=Decimal("26000.00"),
        eod_high_water=Decimal("25400.00"),
    )
    _fill(route.small, "fri", pnl, datetime(2026, 3, 6, 16, 0, tzinfo=UTC))

    monday = account_session_current(account=route.small, at=MONDAY)

    assert monday.opening_balance == Decimal(opening)
    assert monday.high_water == Decimal(high)
    assert monday.eod_high_water == Decimal(eod_high)


# -- a doubled reset on PostgreSQL ---------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_rolls_on_separate_connections_reset_each_account_once(
    route: Route, runs: int
) -> None:
    account_sessions_roll(at=FRIDAY)
    Quarantine.objects.create(
        follower=route.small_follower,
        symbol="MNQH6",
        reason="rejected",
        trading_date=date(2026, 3, 6),
    )
    _fill(route.small, "fri", "125.00", datetime(2026, 3, 6, 16, 0, tzinfo=UTC))
    barrier = threading.Barrier(runs)
    counts: list[int] = []
    errors: list[BaseException] = []

    def roll() -> None:
        try:
            barrier.wait()
            counts.append(account_sessions_roll(at=MONDAY))
        except BaseException as exc:  # reported to the main thread, which asserts none
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=roll) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(counts) == 2  # two followers, each reset by exactly one of the runs
    assert AccountSession.objects.filter(trading_date=date(2026, 3, 9)).count() == 2
    # Two resets Friday, two Monday; the quarantine released once.
    assert len(_resets()) == 4
    assert JournalEntry.objects.filter(event_type=EventType.QUARANTINE_RELEASED).count() == 1
    monday = AccountSession.objects.get(account=route.small, trading_date=date(2026, 3, 9))
    assert monday.opening_balance == Decimal("25125.00")  # 25,000.00 + 125.00, once


@pytest.mark.django_db
def test_preview_is_the_row_the_reset_then_creates_open_position_included(route: Route) -> None:
    # Friday: +125.00 realized, and +2 MNQ open at -60.00 carried into Monday.
    account_session_current(account=route.small, at=FRIDAY)
    _fill(route.small, "fri-1", "125", FRIDAY)
    Position.objects.create(
        account=route.small,
        symbol="MNQH6",
        qty=2,
        avg_price=Decimal("21015"),
        mark_price=Decimal("21000"),
        unrealized_pnl=Decimal("-60"),
    )
    # Act
    preview = account_session_preview(account=route.small, at=MONDAY)
    row = account_session_current(account=route.small, at=MONDAY)
    # Assert: 25,000 + 125 = 25,125 opening, -60 carried in; the preview wrote nothing.
    fields = (
        "trading_date",
        "opened_at",
        "opening_balance",
        "opening_unrealized",
        "high_water",
        "eod_high_water",
    )
    assert [getattr(preview, f) for f in fields] == [getattr(row, f) for f in fields]
    assert (row.opening_balance, row.opening_unrealized) == (Decimal("25125"), Decimal("-60"))
    assert preview.pk is None
