"""copytrade.core.writes_ahead: writes sent without waiting, checked where the block ends."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from copytrade.core.bulk import bulk_set_columns
from copytrade.core.writes_ahead import inserted_ahead, writes_ahead, writing_ahead
from journal.models import EventType, JournalEntry
from journal.services import JournalRow, journal_row, journal_rows_send
from routing.models import ExpectedPosition
from tests.sqlite_child import sqlite_manage

pytestmark = pytest.mark.django_db(transaction=True)


def _entry(owner_id: int, message: str) -> dict[str, object]:
    return {
        "owner_id": owner_id,
        "event_type": EventType.COPY_ORDER_BLOCKED.value,
        "actor_label": "engine",
        "message": message,
    }


def _columns(*entries: dict[str, object]) -> dict[str, list[object]]:
    """Journal rows' columns, every one named (no model default applies)."""
    rows = [journal_row(**entry) for entry in entries]  # type: ignore[arg-type]
    return {name: [getattr(row, name) for row in rows] for name in JournalRow._fields}


def test_keys_come_back_in_row_order_once_the_block_has_ended() -> None:
    user = User.objects.create_user("ahead")
    with transaction.atomic():
        with writes_ahead():
            assert writing_ahead(connection)
            keys = inserted_ahead(
                JournalEntry, _columns(_entry(user.pk, "first"), _entry(user.pk, "second"))
            )
        assert not writing_ahead(connection)
        pks = keys()
    stored = dict(JournalEntry.objects.values_list("pk", "message"))
    assert [stored[pk] for pk in pks] == ["first", "second"]


def _expected_ahead(account_id: int, symbol: str) -> None:
    """Send the insert of an expected position of ``account_id`` at 5."""
    now = timezone.now()
    inserted_ahead(
        ExpectedPosition,
        {"account": [account_id], "symbol": [symbol], "qty": [5], "untracked": [0]},
        same={"created_at": now, "updated_at": now},
    )


def test_a_unique_violation_sent_ahead_is_raised_where_the_block_ends_and_nothing_stays() -> None:
    user = User.objects.create_user("ahead")
    account = broker_account_create(owner=user, name="A", balance=Decimal(1000))
    held = ExpectedPosition.objects.create(account=account, symbol="MNQH5", qty=2)
    sent: list[str] = []

    def send() -> None:
        with transaction.atomic(), writes_ahead():
            journal_rows_send([journal_row(**_entry(user.pk, "kept?"))])
            _expected_ahead(account.pk, "MNQH6")
            # The account's MNQH5 row exists: refused by the server, which
            # tells it only when the block waits for its writes.
            _expected_ahead(account.pk, "MNQH5")
            sent.append("every write")

    with pytest.raises(IntegrityError, match="uniq_expected_position_account_symbol"):
        send()
    assert sent == ["every write"]
    assert not JournalEntry.objects.filter(message="kept?").exists()
    assert list(ExpectedPosition.objects.values_list("pk", "qty")) == [(held.pk, 2)]


def test_foreign_keys_are_checked_inside_the_block_and_deferred_again_after_it() -> None:
    user = User.objects.create_user("ahead")
    account = broker_account_create(owner=user, name="A", balance=Decimal(1000))
    missing = account.pk + 1000  # no such account
    reached: list[str] = []

    def inside() -> None:
        with transaction.atomic():
            with writes_ahead():
                _expected_ahead(missing, "MNQH5")
            reached.append("inside: the block's end")

    def after() -> None:
        with transaction.atomic():
            with writes_ahead():
                pass
            _expected_ahead(missing, "MNQH5")
            reached.append("after: the write")

    # Inside the block the check runs with the statement (the block's end
    # raises); after it, at the commit again (Django's foreign keys are
    # deferred), as outside any block.
    with pytest.raises(IntegrityError, match="foreign key"):
        inside()
    with pytest.raises(IntegrityError, match="foreign key"):
        after()
    assert reached == ["after: the write"]
    assert not ExpectedPosition.objects.exists()


def test_an_update_sent_ahead_counts_minus_one_and_runs() -> None:
    user = User.objects.create_user("ahead")
    account = broker_account_create(owner=user, name="A", balance=Decimal(1000))
    with transaction.atomic():
        with writes_ahead():
            matched = bulk_set_columns(BrokerAccount, [account.pk], {"balance": [Decimal(7)]})
        assert bulk_set_columns(BrokerAccount, [account.pk], {"name": ["B"]}) == 1
    assert matched == -1
    account.refresh_from_db()
    assert (account.balance, account.name) == (Decimal(7), "B")


def test_writes_are_sent_between_the_constraint_switches() -> None:
    user = User.objects.create_user("ahead")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries, writes_ahead():
        journal_rows_send([journal_row(**_entry(user.pk, "one"))])
    sql = [q["sql"] for q in queries]
    assert sql[0] == "SET CONSTRAINTS ALL IMMEDIATE"
    assert sql[1].startswith('INSERT INTO "journal_journalentry"')
    assert sql[2] == "SET CONSTRAINTS ALL DEFERRED"


def test_a_write_that_reads_its_row_count_waits_for_it_inside_the_block() -> None:
    """Such a write was refused inside the block: a block could not open
    before the rare write that must wait (a session reset, a halt) was
    known. It now waits for its own outcome, and for the writes before it,
    as outside the block; bulk writes around it still go ahead."""
    user = User.objects.create_user("ahead")
    account = broker_account_create(owner=user, name="A", balance=Decimal(1000))
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, writes_ahead():
            ahead = bulk_set_columns(BrokerAccount, [account.pk], {"balance": [Decimal(7)]})
            assert BrokerAccount.objects.get(pk=account.pk).balance == Decimal(7)  # a read runs
            counted = BrokerAccount.objects.filter(pk=account.pk).update(name="B")
            missed = BrokerAccount.objects.filter(pk=account.pk + 1000).update(name="C")
            with transaction.atomic():  # a savepoint, released
                account.name = "D"
                account.save(update_fields=["name"])  # refuses a row count of 0
            _expected_ahead(account.pk, "MNQH5")
        assert (ahead, counted, missed) == (-1, 1, 0)
    sql = [q["sql"] for q in queries]
    assert sql[0] == "SET CONSTRAINTS ALL IMMEDIATE"
    assert sql[-1] == "SET CONSTRAINTS ALL DEFERRED"
    account.refresh_from_db()
    assert (account.balance, account.name) == (Decimal(7), "D")
    assert list(ExpectedPosition.objects.values_list("symbol", "qty")) == [("MNQH5", 5)]


def test_a_write_sent_ahead_that_fails_is_raised_where_a_counted_write_waits() -> None:
    user = User.objects.create_user("ahead")
    account = broker_account_create(owner=user, name="A", balance=Decimal(1000))
    held = ExpectedPosition.objects.create(account=account, symbol="MNQH5", qty=2)
    reached: list[str] = []

    def write() -> None:
        with transaction.atomic(), writes_ahead():
            _expected_ahead(account.pk, "MNQH5")  # refused by the server
            reached.append("sent ahead")
            BrokerAccount.objects.filter(pk=account.pk).update(name="B")
            reached.append("the counted write")

    with pytest.raises(IntegrityError, match="uniq_expected_position_account_symbol"):
        write()
    assert reached == ["sent ahead"]
    account.refresh_from_db()
    assert account.name == "A"
    assert list(ExpectedPosition.objects.values_list("pk", "qty")) == [(held.pk, 2)]


def test_outside_a_transaction_the_block_is_refused() -> None:
    with pytest.raises(RuntimeError, match="needs a transaction"), writes_ahead():
        pass


SCRIPT = """
from django.db import connection, transaction
from accounts.models import User
from copytrade.core.writes_ahead import inserted_ahead, writes_ahead, writing_ahead
from journal.models import JournalEntry

user = User.objects.create_user("sqlite-ahead")
from journal.services import JournalRow, journal_row
rows = [journal_row(owner_id=user.pk, event_type="copy_order.blocked", actor_label="engine",
                    message=m) for m in ("first", "second")]
columns = {name: [getattr(r, name) for r in rows] for name in JournalRow._fields}
with transaction.atomic(), writes_ahead():
    inside = writing_ahead(connection)
    keys = inserted_ahead(JournalEntry, columns)
    stored_at_once = JournalEntry.objects.count()
print(inside, stored_at_once, [JournalEntry.objects.get(pk=pk).message for pk in keys()])
"""


def test_sqlite_writes_each_statement_as_it_is_sent(tmp_path: Path) -> None:
    manage = sqlite_manage(tmp_path / "embedded.sqlite3")
    manage("migrate", "--noinput", "-v0")
    assert manage("shell", "--no-imports", "-c", SCRIPT).splitlines() == [
        "False 2 ['first', 'second']"
    ]
