"""Opening many accounts' sessions at once (the first leader event of a CME
session when the 17:00 CT roll has not run): a constant number of
statements whatever the number of accounts, and exactly the rows, balances,
quarantine releases and journal entries the per-account reset gave
(:mod:`routing.tests.services.session_reset_reference`).

Monday 2026-03-09's session opened Sun 03-08 17:00 CDT = 22:00 UTC; the
accounts' earlier rows are Wednesday 03-04's or Friday 03-06's.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from journal.fills import session_realized_add
from journal.models import EventType, JournalEntry, Position
from routing.models import AccountSession, CopyGroup, Quarantine
from routing.services.account_sessions import SessionRow
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.risk_watch import sessions_current
from routing.tests.services.session_reset_reference import reference_session_current

MONDAY = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Mon 08:00 CDT
MONDAY_DATE = date(2026, 3, 9)
WEDNESDAY = date(2026, 3, 4)
FRIDAY = date(2026, 3, 6)
# A fill time in each trading date the arrangements use (15:00 UTC is inside it).
FILL_TIME = {
    d: datetime(d.year, d.month, d.day, 15, 0, tzinfo=UTC)
    for d in (date(2026, 3, 3), WEDNESDAY, date(2026, 3, 5), FRIDAY, MONDAY_DATE)
}
# Every column but the id and timestamps.
ROW_FIELDS = [
    f for f in SessionRow._fields if f not in ("id", "created_at", "updated_at", "account_id")
]
ENTRY_FIELDS = [f.attname for f in JournalEntry._meta.concrete_fields if not f.primary_key]


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _book(owner: User, count: int, rng: random.Random) -> tuple[CopyGroup, list[BrokerAccount]]:
    """``count`` follower accounts of one new group with random session
    histories: balances above or below the starting balance, earlier rows
    (the latest one counts) with high-water marks and halts, realized PnL
    before, since and after the latest row, open and flat positions, stale
    and current quarantines, and some already reset for Monday."""
    leader = broker_account_create(
        owner=owner, name=f"Lead {rng.random()}", balance=Decimal(50_000)
    )
    group = copy_group_create(owner=owner, name=f"Group {rng.random()}", leader=leader)
    accounts = []
    realized: list[tuple[int, datetime, Decimal]] = []
    for i in range(count):
        start = _cents(rng, 10_000, 200_000)
        account = broker_account_create(owner=owner, name=f"F{i} {group.pk}", balance=start)
        follower = follower_add(group=group, account=account, ratio=Decimal(1))
        if rng.random() < 0.5:
            account.balance = start + _cents(rng, -2_000, 2_000)
            BrokerAccount.objects.filter(pk=account.pk).update(balance=account.balance)
        history = rng.choice([[], [WEDNESDAY], [FRIDAY], [WEDNESDAY, FRIDAY]])
        for day in history:
            opening = start + _cents(rng, -3_000, 3_000)
            AccountSession.objects.create(
                account=account,
                trading_date=day,
                opened_at=FILL_TIME[day],
                opening_balance=opening,
                opening_unrealized=_cents(rng, -500, 500),
                high_water=opening + _cents(rng, -1_000, 4_000),
                eod_high_water=opening + _cents(rng, -1_000, 4_000),
                halted_at=FILL_TIME[day] if rng.random() < 0.3 else None,
                halt_reason="daily loss" if rng.random() < 0.5 else "",
                flatten_due=rng.random() < 0.3,
            )
        for day in rng.sample(sorted(FILL_TIME), rng.randint(0, 4)):
            realized.append((account.pk, FILL_TIME[day], _cents(rng, -900, 900)))
        for symbol in rng.sample(["MNQH6", "MESH6", "GCJ6"], rng.randint(0, 3)):
            Position.objects.create(
                account=account,
                symbol=symbol,
                qty=rng.choice([-2, 0, 1, 3]),
                unrealized_pnl=_cents(rng, -800, 800),
            )
        for symbol, day in (("MNQH6", FRIDAY), ("MESH6", MONDAY_DATE)):
            if rng.random() < 0.4:
                Quarantine.objects.create(
                    follower=follower, symbol=symbol, reason="rejected", trading_date=day
                )
        if rng.random() < 0.15:
            reference_session_current(account, MONDAY)  # already current: left alone
        accounts.append(account)
    session_realized_add(realized)
    return group, accounts


def _fresh(accounts: list[BrokerAccount]) -> list[BrokerAccount]:
    """New instances of ``accounts``, in order (each run mutates the balance it resets)."""
    by_pk = BrokerAccount.objects.in_bulk([a.pk for a in accounts])
    return [by_pk[a.pk] for a in accounts]


def _outcome(run: Callable[[], object], accounts: list[BrokerAccount]) -> dict[str, Any]:
    """What ``run`` wrote: Monday's rows (every column but ids and
    timestamps), the accounts' balances, the quarantines' releases and the
    journal entries it added (every column but the id, in a stable order)."""
    last_entry = JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    run()
    ids = [a.pk for a in accounts]
    entries = JournalEntry.objects.filter(pk__gt=last_entry).values_list(*ENTRY_FIELDS)
    return {
        "rows": {
            row["account_id"]: {f: row[f] for f in ROW_FIELDS}
            for row in AccountSession.objects.filter(
                account_id__in=ids, trading_date=MONDAY_DATE
            ).values("account_id", *ROW_FIELDS)
        },
        "balances": dict(BrokerAccount.objects.filter(pk__in=ids).values_list("pk", "balance")),
        "instances": {a.pk: a.balance for a in accounts},
        "quarantines": set(
            Quarantine.objects.filter(follower__account_id__in=ids).values_list(
                "pk", "released_at", "released_by"
            )
        ),
        "journal": sorted(map(repr, entries)),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(8))
def test_opening_a_batch_writes_what_the_per_account_reset_wrote(alice: User, seed: int) -> None:
    # Arrange
    _, accounts = _book(alice, 6, random.Random(seed))
    # Act: the per-account reset, rolled back, then the batch on the same rows.
    with transaction.atomic():
        reference = _fresh(accounts)
        expected = _outcome(
            lambda: [reference_session_current(a, MONDAY) for a in reference], reference
        )
        transaction.set_rollback(True)
    batch = _fresh(accounts)
    returned: dict[int, SessionRow] = {}
    actual = _outcome(lambda: returned.update(sessions_current(batch, at=MONDAY)), batch)
    # Assert
    assert actual == expected
    stored = AccountSession.objects.filter(account__in=accounts, trading_date=MONDAY_DATE)
    assert returned == {row.account_id: SessionRow.of(row) for row in stored}


def _followers_with_histories(owner: User, count: int) -> list[BrokerAccount]:
    """``count`` follower accounts, each with Friday's row, realized PnL
    since, an open position and a stale quarantine: every part of the
    reset has work to do for each."""
    leader = broker_account_create(owner=owner, name=f"Lead {count}", balance=Decimal(50_000))
    group = copy_group_create(owner=owner, name=f"Group {count}", leader=leader)
    accounts = []
    for i in range(count):
        account = broker_account_create(owner=owner, name=f"F{i}/{count}", balance=Decimal(25_000))
        follower = follower_add(group=group, account=account, ratio=Decimal(1))
        AccountSession.objects.create(
            account=account,
            trading_date=FRIDAY,
            opened_at=FILL_TIME[FRIDAY],
            opening_balance=Decimal(25_000),
            high_water=Decimal(26_000),
            eod_high_water=Decimal(25_000),
        )
        Position.objects.create(
            account=account, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("-12.50")
        )
        Quarantine.objects.create(
            follower=follower, symbol="MNQH6", reason="rejected", trading_date=FRIDAY
        )
        accounts.append(account)
    session_realized_add([(a.pk, FILL_TIME[FRIDAY], Decimal("150.25")) for a in accounts])
    return accounts


@pytest.mark.django_db
def test_opening_sessions_costs_the_same_statements_for_3_and_40_accounts(alice: User) -> None:
    # Arrange
    few, many = _followers_with_histories(alice, 3), _followers_with_histories(alice, 40)
    # Act
    with CaptureQueriesContext(connection) as for_few:
        sessions_current(few, at=MONDAY)
    with CaptureQueriesContext(connection) as for_many:
        sessions_current(many, at=MONDAY)
    # Assert: every account was reset: opening 25,000 + 150.25 = 25,150.25,
    # -12.50 carried in; intraday mark 26,000 kept, end-of-day mark raised
    # to the opening equity 25,150.25 - 12.50 = 25,137.75. Every quarantine
    # was released, by as many statements for 40 accounts as for 3.
    assert AccountSession.objects.filter(trading_date=MONDAY_DATE).count() == 43
    assert set(
        AccountSession.objects.filter(trading_date=MONDAY_DATE).values_list(
            "opening_balance", "opening_unrealized", "high_water", "eod_high_water"
        )
    ) == {(Decimal("25150.25"), Decimal("-12.50"), Decimal(26_000), Decimal("25137.75"))}
    assert not Quarantine.objects.filter(released_at__isnull=True).exists()
    assert len(for_many.captured_queries) == len(for_few.captured_queries)


@pytest.mark.django_db
def test_opening_sessions_that_are_all_current_is_one_read(route: Route) -> None:
    accounts = [route.small, route.large]
    sessions_current(accounts, at=MONDAY)

    with CaptureQueriesContext(connection) as queries:
        again = sessions_current(accounts, at=MONDAY)

    assert len(queries.captured_queries) == 1
    assert set(again) == {route.small.pk, route.large.pk}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_openers_at_once_give_one_row_each_and_the_loser_reads_the_winners(
    route: Route,
) -> None:
    # Arrange: the two openers name the accounts in opposite orders.
    orders = [[route.small, route.large], [route.large, route.small]]
    barrier = threading.Barrier(2)
    results: list[dict[int, SessionRow]] = []
    errors: list[BaseException] = []

    def open_sessions(accounts: list[BrokerAccount]) -> None:
        try:
            barrier.wait()
            results.append(sessions_current(_fresh(accounts), at=MONDAY))
        except BaseException as exc:  # reported to the main thread, which asserts none
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_sessions, args=(a,)) for a in orders]
    # Act
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Assert: one row and one reset entry per account; both openers return them.
    assert errors == []
    stored = {
        row.account_id: SessionRow.of(row)
        for row in AccountSession.objects.filter(trading_date=MONDAY_DATE)
    }
    assert set(stored) == {route.small.pk, route.large.pk}
    assert results == [stored, stored]
    resets = JournalEntry.objects.filter(event_type=EventType.SESSION_RESET)
    assert sorted(resets.values_list("account_id", flat=True)) == sorted(stored)
