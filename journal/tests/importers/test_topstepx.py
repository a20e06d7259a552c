"""TopstepX trade dump (SOURCES.md section 4): trades with P&L but no prices, not replayable."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from journal.importers import ExportError, ImportedTrade, parse_export, read_export
from journal.tests.importers.exports import TOPSTEPX, data_file, data_text, edit_cell
from routing.engine.types import Side


def test_topstepx_rows_become_trades() -> None:
    result = read_export(data_file(TOPSTEPX))

    assert result.format == "topstepx_trades"
    assert result.fills == ()
    assert len(result.trades) == 667
    assert result.accounts == ("topstepx",)
    assert result.leader_account is None
    # Line 2: positionSize -3, profitAndLoss -88.5, fees 2.22, no prices, no entry time.
    assert result.trades[0] == ImportedTrade(
        external_id="topstepx-2025-05-07T13:00:46.732799+00:00-F.US.MNQ--3",
        account="topstepx",
        symbol="MNQ",
        side=Side.SELL,
        qty=3,
        entry_price=None,
        exit_price=None,
        pnl=Decimal("-88.5"),
        fees=Decimal("2.22"),
        opened_at=None,
        closed_at=datetime(2025, 5, 7, 13, 0, 46, 732799, tzinfo=UTC),
    )
    last = result.trades[-1]  # line 668
    assert (last.symbol, last.side, last.qty, last.pnl, last.fees, last.closed_at) == (
        "MNQ",
        Side.SELL,
        1,
        Decimal("191.0"),
        Decimal("0.74"),
        datetime(2025, 12, 5, 14, 30, 8, 303244, tzinfo=UTC),
    )
    long = result.trades[10]  # line 12: positionSize 2
    assert (long.side, long.qty, long.pnl) == (Side.BUY, 2, Decimal("-46.0"))


def test_topstepx_product_ids_map_to_roots() -> None:
    trades = read_export(data_file(TOPSTEPX)).trades

    # Counts per symbolId as listed in SOURCES.md.
    assert Counter(t.symbol for t in trades) == Counter(
        {
            "MNQ": 469,
            "MES": 96,
            "MYM": 55,
            "MGC": 25,
            "NQ": 8,
            "YM": 6,
            "NG": 4,
            "SI": 2,
            "ES": 1,
            "GC": 1,
        }
    )
    # The fee schedule in SOURCES.md: fees == per-contract fee x qty on every row.
    per_contract = {
        "MES": "0.74",
        "MNQ": "0.74",
        "MYM": "0.74",
        "MGC": "1.24",
        "ES": "2.80",
        "NQ": "2.80",
        "YM": "2.80",
        "GC": "3.24",
        "SI": "3.24",
        "NG": "3.24",
    }
    assert all(t.fees == Decimal(per_contract[t.symbol]) * t.qty for t in trades)
    assert len({t.external_id for t in trades}) == 667


def test_topstepx_is_not_replayable() -> None:
    result = read_export(data_file(TOPSTEPX))

    assert not result.replayable
    assert result.not_replayable_reason is not None
    assert "without entry/exit prices or fill times" in result.not_replayable_reason
    assert "import it into the journal as trades" in result.not_replayable_reason
    with pytest.raises(ExportError) as info:
        result.require_replayable()
    assert str(info.value) == f"topstepx_trades.csv: {result.not_replayable_reason}"


def test_identical_rows_get_distinct_stable_ids() -> None:
    lines = data_text(TOPSTEPX).splitlines(keepends=True)
    text = "".join([*lines[:3], lines[2]])  # header, line 2, line 3 twice

    ids = [t.external_id for t in parse_export(text, name="topstepx_trades.csv").trades]

    assert ids == [
        "topstepx-2025-05-07T13:00:46.732799+00:00-F.US.MNQ--3",
        "topstepx-2025-05-07T13:00:46.732820+00:00-F.US.MNQ--1",
        "topstepx-2025-05-07T13:00:46.732820+00:00-F.US.MNQ--1-2",
    ]


def test_account_from_the_repository_file_name() -> None:
    result = parse_export(data_text(TOPSTEPX), name="topstepx_trades_7534754.csv")

    assert result.accounts == ("topstepx-7534754",)
    assert {t.account for t in result.trades} == {"topstepx-7534754"}


def test_unknown_product_id_names_row_and_field() -> None:
    text = edit_cell(data_text(TOPSTEPX), 5, "symbolId", "F.US.ZB")

    with pytest.raises(ExportError) as info:
        parse_export(text, name="topstepx_trades.csv")

    assert (info.value.row, info.value.field) == (5, "symbolId")
    assert "unknown ProjectX product id 'F.US.ZB'" in str(info.value)
