"""Copied round trips rebuilt from the journal's fills (journal.round_trips):
newest first, per account, and never paired from the middle of a trade
that began before the fills read.

MNQ: $2 per point.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import User
from accounts.services import broker_account_create
from conftest import fill_stored
from journal.models import Position
from journal.round_trips import round_trips_recent
from routing.engine.types import Side

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
MNQ = {"MNQ": Decimal(2)}


def _fills(account_id: int, rows: list[tuple[str, int, str]], symbol: str = "MNQH6") -> None:
    """Fills in order, a minute apart: (side, qty, price)."""
    for n, (side, qty, price) in enumerate(rows):
        fill_stored(
            account_id=account_id,
            broker_fill_id=f"{symbol}-{n}",
            symbol=symbol,
            side=side,
            qty=qty,
            price=Decimal(price),
            filled_at=T0 + timedelta(minutes=n),
        )


@pytest.fixture
def account(alice: User) -> int:
    return broker_account_create(owner=alice, name="Eval", balance=Decimal(50_000)).pk


def test_round_trips_newest_first_with_cash_flow_pnl(account: int) -> None:
    # Arrange: long 2 (one add), flat; short 1, flat; long 1 still open.
    _fills(
        account,
        [
            ("buy", 1, "21000.00"),
            ("buy", 1, "21001.00"),
            ("sell", 2, "21010.50"),  # (21010.5 x 2 - 21000 - 21001) x $2 = +$40.00
            ("sell", 1, "21012.00"),
            ("buy", 1, "21015.25"),  # (21012 - 21015.25) x $2 = -$6.50
            ("buy", 1, "21016.00"),  # open: no trip
        ],
    )
    Position.objects.create(account_id=account, symbol="MNQH6", qty=1, avg_price=Decimal(21016))
    # Act
    trips = round_trips_recent([account], point_values=MNQ)[account]
    # Assert
    assert [(t.side, t.qty, t.pnl, t.opened_at, t.closed_at) for t in trips] == [
        (Side.SELL, 1, Decimal("-6.50"), T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)),
        (Side.BUY, 2, Decimal("40.00"), T0, T0 + timedelta(minutes=2)),
    ]


def test_a_trade_begun_before_the_window_is_left_out_not_mis_paired(account: int) -> None:
    _fills(
        account,
        [
            ("buy", 1, "21000"),
            ("buy", 1, "21002"),
            ("sell", 2, "21004"),  # +$12.00, begun at the first fill
            ("buy", 1, "21010"),
            ("sell", 1, "21011"),  # +$2.00
        ],
    )
    Position.objects.create(account_id=account, symbol="MNQH6", qty=0)
    # Four fills read: the first trade's opening fill is outside them.
    narrow = round_trips_recent([account], point_values=MNQ, window=4)[account]
    wide = round_trips_recent([account], point_values=MNQ, window=5)[account]
    assert [t.pnl for t in narrow] == [Decimal("2.00")]
    assert [t.pnl for t in wide] == [Decimal("2.00"), Decimal("12.00")]


def test_last_n_only_and_unpriced_contracts_left_out(account: int) -> None:
    rows = []
    for n in range(30):
        rows += [("buy", 1, "21000"), ("sell", 1, str(21000 + n))]
    _fills(account, rows)
    _fills(account, [("buy", 1, "70.00"), ("sell", 1, "71.00")], symbol="CLJ6")
    Position.objects.create(account_id=account, symbol="MNQH6", qty=0)
    Position.objects.create(account_id=account, symbol="CLJ6", qty=0)
    trips = round_trips_recent([account], point_values=MNQ, limit=25)[account]
    assert len(trips) == 25
    assert {t.symbol for t in trips} == {"MNQH6"}
    # The newest MNQ trip sold 29 points up: 29 x $2.
    assert trips[0].pnl == Decimal("58.00")


def test_an_account_without_fills_has_no_trips(account: int) -> None:
    assert round_trips_recent([account], point_values=MNQ) == {account: []}
