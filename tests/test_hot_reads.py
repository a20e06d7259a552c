"""Reads compiled once (:mod:`copytrade.core.hot_reads`) return what the ORM returns.

On PostgreSQL here, and on the embedded SQLite in a child process (its
decimals and timestamps come back through the ORM's converters).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from copytrade.core import hot_reads
from copytrade.core.hot_reads import HotRead, HotReadMismatch, ids_param, ids_shape
from routing.engine.sessions import trading_date
from routing.models import AccountSession
from routing.services.account_sessions import account_sessions_open, session_rows
from tests.sqlite_child import sqlite_manage

AT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def _accounts(owner: User, count: int) -> list[BrokerAccount]:
    return [
        broker_account_create(owner=owner, name=f"A{i}", balance=Decimal(50_000) + i)
        for i in range(count)
    ]


def _orm_rows(ids: list[int]) -> dict[int, tuple[object, ...]]:
    """The session rows as the ORM reads them."""
    from routing.services.account_sessions import SessionRow

    rows = AccountSession.objects.filter(account_id__in=ids, trading_date=trading_date(AT))
    return {r[3]: tuple(r) for r in rows.values_list(*SessionRow._fields)}


@pytest.mark.django_db
def test_later_calls_run_with_their_own_values(alice: User) -> None:
    accounts = _accounts(alice, 4)
    account_sessions_open(accounts, at=AT)
    first, second = [a.pk for a in accounts[:2]], [a.pk for a in accounts[2:]]
    # The first call compiles; the second runs the stored statement with new ids.
    got_first = {
        pk: tuple(row) for pk, row in session_rows(first, trading_date=trading_date(AT)).items()
    }
    got_second = {
        pk: tuple(row) for pk, row in session_rows(second, trading_date=trading_date(AT)).items()
    }
    assert got_first == _orm_rows(first)
    assert got_second == _orm_rows(second)
    assert set(got_second) == set(second)
    # The opening balances differ per account: a stale parameter would show.
    assert [got_second[pk][6] for pk in second] == [Decimal(50_002), Decimal(50_003)]


@pytest.mark.django_db
def test_parameters_that_drift_from_the_query_are_refused(alice: User) -> None:
    account = _accounts(alice, 1)[0]
    drifted = HotRead(
        "drifted",
        AccountSession,
        lambda ids, day: AccountSession.objects.filter(
            account_id__any_of=ids, trading_date=day
        ).values_list("pk"),
        # The ORM sends the ids first (keyword filters are sorted).
        lambda connection, ids, day: [
            connection.ops.adapt_datefield_value(day),
            *ids_param(connection, ids),
        ],
        shape=lambda connection, ids, day: ids_shape(connection, ids),
    )
    with pytest.raises(HotReadMismatch, match="drifted"):
        drifted([account.pk], trading_date(AT))


@pytest.mark.django_db
def test_shapes_past_the_bound_start_over(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = _accounts(alice, 3)
    account_sessions_open(accounts, at=AT)
    monkeypatch.setattr(hot_reads, "MAX_SHAPES", 2)
    by_count = HotRead(
        "by count",
        AccountSession,
        lambda ids, day: AccountSession.objects.filter(
            account_id__in=ids, trading_date=day
        ).values_list("account_id"),
        lambda connection, ids, day: [*ids, connection.ops.adapt_datefield_value(day)],
        shape=lambda connection, ids, day: len(ids),
    )
    day = trading_date(AT)
    ids = [a.pk for a in accounts]
    for count in (1, 2, 3, 1, 3):
        assert sorted(r[0] for r in by_count(ids[:count], day)) == ids[:count]
    assert len(by_count._compiled) <= 2


SCRIPT = """
from datetime import UTC, datetime
from decimal import Decimal
from accounts.models import User
from accounts.services import broker_account_create
from routing.engine.sessions import trading_date
from routing.models import AccountSession
from routing.services.account_sessions import SessionRow, account_sessions_open, session_rows

at = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
user = User.objects.create_user("sqlite-hot")
accounts = [
    broker_account_create(owner=user, name=f"A{i}", balance=Decimal("50000.25") + i)
    for i in range(3)
]
account_sessions_open(accounts, at=at)
day = trading_date(at)
for ids in ([accounts[0].pk], [a.pk for a in accounts], [accounts[2].pk], []):
    hot = {pk: tuple(row) for pk, row in session_rows(ids, trading_date=day).items()}
    orm = {
        r[3]: tuple(r)
        for r in AccountSession.objects.filter(account_id__in=ids, trading_date=day)
        .values_list(*SessionRow._fields)
    }
    assert hot == orm, (hot, orm)
    for row in hot.values():
        assert type(row[6]) is Decimal and row[5].tzinfo is not None, row
    print(len(hot), sorted(str(row[6]) for row in hot.values()))
"""


def test_sqlite_rows_are_converted_as_the_orm_converts_them(tmp_path: Path) -> None:
    db = tmp_path / "embedded.sqlite3"
    manage = sqlite_manage(db)

    manage("migrate", "--noinput", "-v0")
    assert manage("shell", "--no-imports", "-c", SCRIPT).splitlines() == [
        "1 ['50000.2500']",
        "3 ['50000.2500', '50001.2500', '50002.2500']",
        "1 ['50002.2500']",
        "0 []",
    ]


def _locking_read(name: str, *, lock: bool) -> HotRead[[int]]:
    """A read of an account's pk that locks the row, declared ``lock``."""
    return HotRead(
        name,
        BrokerAccount,
        lambda pk: BrokerAccount.objects.select_for_update().filter(pk=pk).values_list("pk"),
        lambda connection, pk: [pk],
        lock=lock,
    )


@pytest.mark.django_db
def test_a_lock_the_read_does_not_declare_is_refused(alice: User) -> None:
    account = _accounts(alice, 1)[0]
    undeclared = _locking_read("undeclared lock", lock=False)
    with pytest.raises(HotReadMismatch, match="undeclared lock"):
        undeclared(account.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_locking_read_outside_a_transaction_is_refused_on_every_call(alice: User) -> None:
    account = _accounts(alice, 1)[0]
    locked = _locking_read("locked outside", lock=True)
    with transaction.atomic():
        assert locked(account.pk) == [(account.pk,)]  # compiled inside a transaction
    # Afterwards, in autocommit, the lock would end with the statement: refused
    # as the ORM refuses it, though the statement is compiled already.
    with pytest.raises(TransactionManagementError, match="locked outside"):
        locked(account.pk)


@pytest.mark.django_db
def test_timestamps_load_through_psycopgs_own_loader_with_the_orms_values(alice: User) -> None:
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls
    from psycopg.postgres import types
    from psycopg.pq import Format

    accounts = _accounts(alice, 2)
    account_sessions_open(accounts, at=AT)
    ids = [a.pk for a in accounts]
    # Act
    with hot_reads.reading_cursor(connection) as cursor:
        loader = cursor.cursor.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)
    rows = session_rows(ids, trading_date=trading_date(AT))
    # Assert: psycopg's loader (in C), the ORM's aware UTC values.
    assert loader is orig_tz_loader_cls
    assert {pk: tuple(row) for pk, row in rows.items()} == _orm_rows(ids)
    opened = [row.opened_at for row in rows.values()]
    assert all(value.tzinfo is UTC for value in opened)
    # Django's own cursors keep Django's loader.
    with connection.cursor() as cursor:
        kept = cursor.cursor.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)
    assert kept is not orig_tz_loader_cls


@given(st.lists(st.integers(min_value=1, max_value=2**63 - 1), max_size=300))
def test_ids_param_writes_each_list_of_ids_as_its_array_literal(ids: list[int]) -> None:
    class Postgres:
        vendor = "postgresql"

    expected = ["{" + ",".join(str(i) for i in ids) + "}"]
    # Written out once, looked up after: the same literal either way.
    assert ids_param(Postgres(), ids) == expected
    assert ids_param(Postgres(), list(ids)) == expected
