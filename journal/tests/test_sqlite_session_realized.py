"""The session totals add up on the embedded default (SQLite) too.

The suite runs on PostgreSQL; :func:`copytrade.core.bulk.bulk_accumulate`
writes its own ``INSERT … ON CONFLICT DO UPDATE`` per vendor, so this
records fills through :func:`journal.fills.fills_record` on a scratch
SQLite file, in a child process, and reads the totals back.
"""

from __future__ import annotations

from pathlib import Path

from tests.sqlite_child import sqlite_manage

SCRIPT = """
from datetime import UTC, datetime
from decimal import Decimal
from django.db import transaction
from accounts.models import User
from accounts.services import broker_account_create
from journal.fills import FillInput, fills_record
from routing.selectors import session_realized_by_account

user = User.objects.create_user("sqlite-check")
account = broker_account_create(owner=user, name="A", balance=Decimal(50_000))
at = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
legs = [
    ("1", "buy", "21000"), ("2", "sell", "21010.25"), ("3", "sell", "21000"), ("4", "buy", "21003")
]
fills = [
    FillInput(account_id=account.pk, broker_fill_id=fid, symbol="MNQH6", side=side, qty=1,
              price=Decimal(price), point_value=Decimal(2), filled_at=at)
    for fid, side, price in legs
]
with transaction.atomic():
    fills_record(fills[:2])
with transaction.atomic():
    fills_record(fills)  # the first two again: counted once
print(session_realized_by_account([account.pk], at)[account.pk])
"""


def test_fills_add_to_the_session_total_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "embedded.sqlite3"
    manage = sqlite_manage(db)

    manage("migrate", "--noinput", "-v0")
    # Long 21,000 -> 21,010.25: +10.25 pt x $2 = +20.50; short 21,000 ->
    # 21,003: -3 pt x $2 = -6.00; session total +14.50.
    assert manage("shell", "--no-imports", "-c", SCRIPT).strip() == "14.5000"
