"""Hot reads run ahead together (:func:`copytrade.core.hot_reads.hot_reads_ahead`).

On PostgreSQL the reads go in one pipeline; the first matching call inside
the block gets their rows without a statement of its own, and only that one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from copytrade.core import hot_reads
from copytrade.core.hot_reads import HotRead, hot_reads_ahead
from routing.engine.sessions import trading_date
from routing.models import AccountSession
from routing.selectors import session_realized_ahead, session_realized_by_account
from routing.services.account_sessions import (
    account_sessions_open,
    account_sessions_open_ahead,
    session_rows,
)
from tests.sqlite_child import sqlite_manage

AT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
DAY = trading_date(AT)


def _accounts(owner: User, count: int) -> list[BrokerAccount]:
    accounts = [
        broker_account_create(owner=owner, name=f"A{i}", balance=Decimal(50_000) + i)
        for i in range(count)
    ]
    account_sessions_open(accounts, at=AT)
    return accounts


def _balances(rows: dict[int, object]) -> dict[int, Decimal]:
    return {pk: row.opening_balance for pk, row in rows.items()}  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_first_matching_call_gets_the_rows_read_ahead_without_a_statement(
    alice: User,
) -> None:
    accounts = _accounts(alice, 3)
    ids = [a.id for a in accounts]
    expected = _balances(session_rows(ids, trading_date=DAY))
    ahead_reads = [account_sessions_open_ahead(accounts, at=AT), session_realized_ahead(ids, AT)]
    with (
        CaptureQueriesContext(connection) as ahead,
        hot_reads_ahead(ahead_reads),
        CaptureQueriesContext(connection) as inside,
    ):
        rows = session_rows(ids, trading_date=DAY)
        realized = session_realized_by_account(ids, AT)
    opening = {a.id: Decimal(50_000) + i for i, a in enumerate(accounts)}
    assert _balances(rows) == expected == opening
    assert realized == dict.fromkeys(ids, Decimal(0))
    assert len(inside) == 0  # both served from the reads run ahead
    assert len(ahead) == 2  # each read still one statement of its own


@pytest.mark.django_db
def test_rows_read_ahead_serve_one_call_only_and_only_inside_the_block(alice: User) -> None:
    accounts = _accounts(alice, 2)
    ids = [a.id for a in accounts]
    with hot_reads_ahead([account_sessions_open_ahead(accounts, at=AT)]):
        first = _balances(session_rows(ids, trading_date=DAY))
        AccountSession.objects.filter(account_id=ids[0]).update(opening_balance=Decimal(1))
        with CaptureQueriesContext(connection) as again:
            second = _balances(session_rows(ids, trading_date=DAY))
    # The second call runs its statement and sees the write made in between.
    assert first[ids[0]] == Decimal(50_000)
    assert second[ids[0]] == Decimal(1)
    assert len(again) == 1
    # Other arguments never take rows read for these.
    with (
        hot_reads_ahead([account_sessions_open_ahead(accounts, at=AT)]),
        CaptureQueriesContext(connection) as other,
    ):
        only_second = _balances(session_rows(ids[1:], trading_date=DAY))
    assert only_second == {ids[1]: Decimal(50_001)}
    assert len(other) == 1
    # Rows left unused are gone once the block ends.
    with CaptureQueriesContext(connection) as after:
        session_rows(ids, trading_date=DAY)
    assert len(after) == 1


@pytest.mark.django_db
def test_a_read_an_enclosing_block_holds_is_not_run_again_and_forget_drops_it(
    alice: User,
) -> None:
    accounts = _accounts(alice, 2)
    ids = [a.id for a in accounts]
    sessions = account_sessions_open_ahead(accounts, at=AT)
    with CaptureQueriesContext(connection) as outer, hot_reads_ahead([sessions]):
        # A later stretch's block asks for the same read and another one:
        # only the other one runs; the held rows serve the call.
        with (
            CaptureQueriesContext(connection) as inner,
            hot_reads_ahead([sessions, session_realized_ahead(ids, AT)]),
        ):
            rows = _balances(session_rows(ids, trading_date=DAY))
        assert rows == {a.id: Decimal(50_000) + i for i, a in enumerate(accounts)}
        assert len(inner) == 1 and '"journal_sessionrealized"' in inner[0]["sql"]
        # Forgotten after a write, a held read runs again and sees the write.
        with hot_reads_ahead([sessions]):
            AccountSession.objects.filter(account_id=ids[0]).update(opening_balance=Decimal(7))
            hot_reads.hot_reads_forget()
            with CaptureQueriesContext(connection) as again:
                fresh = _balances(session_rows(ids, trading_date=DAY))
        assert fresh[ids[0]] == Decimal(7)
        assert len(again) == 1
    assert len(outer) == 5  # the sessions twice, the realized PnL, the write, the sessions


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failing_read_ahead_raises_the_databases_error_and_leaves_the_connection_usable(
    alice: User,
) -> None:
    account = _accounts(alice, 1)[0]
    by_pk = HotRead(
        "account by pk",
        BrokerAccount,
        lambda pk: BrokerAccount.objects.filter(pk=pk).values_list("name"),
        lambda connection, pk: [pk],
    )
    assert by_pk(account.pk) == [("A0",)]  # compiled with a valid id
    # The second statement of the pipeline fails on the server.
    failing = [(by_pk, (account.pk,)), (by_pk, ("not a number",))]
    with pytest.raises(DataError), transaction.atomic(), hot_reads_ahead(failing):
        pass
    assert by_pk(account.pk) == [("A0",)]


SCRIPT = """
from datetime import UTC, datetime
from decimal import Decimal
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from accounts.models import User
from accounts.services import broker_account_create
from copytrade.core.hot_reads import hot_reads_ahead
from routing.engine.sessions import trading_date
from routing.services.account_sessions import (
    account_sessions_open, account_sessions_open_ahead, session_rows,
)

at = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
user = User.objects.create_user("sqlite-ahead")
accounts = [
    broker_account_create(owner=user, name=f"A{i}", balance=Decimal("50000.25") + i)
    for i in range(2)
]
account_sessions_open(accounts, at=at)
with transaction.atomic(), hot_reads_ahead([account_sessions_open_ahead(accounts, at=at)]):
    with CaptureQueriesContext(connection) as inside:
        rows = session_rows([a.id for a in accounts], trading_date=trading_date(at))
print(len(inside), sorted(repr(row.opening_balance) for row in rows.values()))
"""


def test_sqlite_runs_the_reads_one_after_the_other_with_the_orms_conversions(
    tmp_path: Path,
) -> None:
    manage = sqlite_manage(tmp_path / "embedded.sqlite3")
    manage("migrate", "--noinput", "-v0")
    assert manage("shell", "--no-imports", "-c", SCRIPT).splitlines() == [
        "0 [\"Decimal('50000.2500')\", \"Decimal('50001.2500')\"]"
    ]
