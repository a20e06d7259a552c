"""The trades page: the user's imported round trips only, with the totals
of the filtered set (hand-computed), and its CSV export."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import Route
from journal.fills import FillInput, fills_record
from journal.models import ExportImport, Trade

pytestmark = pytest.mark.django_db


def _import(owner: User, name: str) -> ExportImport:
    return ExportImport.objects.create(
        owner=owner, file_name=name, format="topstepx", timezone="UTC", replayable=False
    )


def _trade(source: ExportImport, n: int, symbol: str, pnl: str, fees: str, day: int) -> Trade:
    return Trade.objects.create(
        owner=source.owner,
        export_import=source,
        source_format="topstepx",
        account_name="PRAC-50K",
        external_id=f"t{n}",
        symbol=symbol,
        side="Long",
        qty=1,
        entry_price=Decimal("21000.25"),
        exit_price=Decimal("21010.25"),
        pnl=Decimal(pnl),
        fees=Decimal(fees),
        closed_at=datetime(2026, 3, day, 15, 0, tzinfo=UTC),
    )


def test_totals_of_the_filtered_trades_and_never_another_users(alice: User, bob: User) -> None:
    mine = _import(alice, "alice.csv")
    _trade(mine, 1, "MNQH6", "100.00", "1.48", 2)
    _trade(mine, 2, "MNQH6", "-40.00", "1.48", 3)
    _trade(mine, 3, "MESH6", "25.50", "0.74", 4)
    _trade(_import(bob, "bob.csv"), 4, "MNQH6", "9999.00", "0", 3)
    client = Client()
    client.force_login(alice)
    # All of alice's: 100 - 40 + 25.50 = 85.50 net; fees 1.48 + 1.48 + 0.74 = 3.70; 2 winners.
    page = client.get(reverse("trades")).text
    assert "3 trades · net PnL" in page
    assert "+$85.50" in page and "fees $3.70" in page and "2 winners" in page
    assert "9,999.00" not in page and "9999" not in page
    # MNQ only, closed 3 March: the loser alone.
    only = client.get(reverse("trades"), {"symbol": "mnq", "since": "2026-03-03"}).text
    assert "1 trade · net PnL" in only and "-$40.00" in only
    rows = (
        b"".join(
            client.get(reverse("trade_export"), {"symbol": "MNQ"}).streaming_content  # type: ignore[attr-defined]
        )
        .decode()
        .splitlines()
    )
    assert rows[0].startswith("closed_at_utc,opened_at_utc,account,symbol")
    assert len(rows) == 3  # header + alice's two MNQ trades


def test_bad_filters_are_field_errors_and_a_400_export(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("trades"), {"since": "2026-03-04", "until": "2026-03-01"}).text
    assert "The end date is before the start date." in page
    assert client.get(reverse("trade_export"), {"since": "nope"}).status_code == 400


def _fills(account_id: int, *legs: tuple[str, str, int, str, int]) -> None:
    """Store fills (id, side, qty, price, minute of 2026-03-03 15:00 UTC) on MNQH6."""
    fills_record(
        [
            FillInput(
                account_id=account_id,
                broker_fill_id=fill_id,
                symbol="MNQH6",
                side=side,
                qty=qty,
                price=Decimal(price),
                point_value=Decimal(2),
                filled_at=datetime(2026, 3, 3, 15, minute, tzinfo=UTC),
            )
            for fill_id, side, qty, price, minute in legs
        ]
    )


def test_copied_round_trips_rebuilt_from_fills_with_totals_and_csv(route: Route) -> None:
    # Eval 25K: long 2 (1 @ 21500 + 1 @ 21501 = avg 21500.50), out 2 @ 21510:
    # (21510 - 21500.50) x 2 x $2 = +$38.00; then short 1 @ 21505, bought back
    # @ 21507: -$4.00; then long 1 @ 21506 still open (not a trade yet).
    _fills(
        route.small.pk,
        ("s1", "buy", 1, "21500", 1),
        ("s2", "buy", 1, "21501", 2),
        ("s3", "sell", 2, "21510", 3),
        ("s4", "sell", 1, "21505", 4),
        ("s5", "buy", 1, "21507", 5),
        ("s6", "buy", 1, "21506", 6),
    )
    # Funded 150K: one long 3 @ 21500 out @ 21490: -$60.00.
    _fills(route.large.pk, ("l1", "buy", 3, "21500", 1), ("l2", "sell", 3, "21490", 7))
    client = Client()
    client.force_login(route.owner)

    page = client.get(reverse("trades"), {"source": "copied"}).text
    eval_only = client.get(reverse("trades"), {"source": "copied", "account": "Eval 25K"}).text
    later = client.get(
        reverse("trades"), {"source": "copied", "since": "2026-03-04", "until": "2026-03-05"}
    ).text
    body = b"".join(
        client.get(reverse("trade_export"), {"source": "copied"}).streaming_content  # type: ignore[attr-defined]
    ).decode()

    assert "3 trades · net PnL" in page and "-$26.00" in page  # 38 - 4 - 60
    assert "1 winner" in page
    assert "21500.50" in page and "21510.00" in page  # average entry, exit at the tick
    assert "2 trades · net PnL" in eval_only and "+$34.00" in eval_only
    assert "0 trades" in later
    lines = body.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("closed_at_utc,")
    assert lines[1].startswith("2026-03-03T15:07:00+00:00,2026-03-03T15:01:00+00:00,Funded 150K")
    assert ",copied," in lines[1]


def test_copied_trades_are_never_another_users(route: Route, bob: User) -> None:
    _fills(route.small.pk, ("s1", "buy", 1, "21500", 1), ("s2", "sell", 1, "21510", 3))
    client = Client()
    client.force_login(bob)

    page = client.get(reverse("trades"), {"source": "copied"}).text

    assert "0 trades" in page and "Eval 25K" not in page
