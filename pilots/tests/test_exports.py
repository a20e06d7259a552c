"""Every fill and trade of a real export keeps its row number (read back with csv here)."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from journal.tests.importers.exports import (
    FILLS,
    NINJATRADER,
    PERFORMANCE,
    POSITION_HISTORY,
    TOPSTEPX,
)
from pilots.exports import read_record
from routing.contract_specs import SPECS_BY_ROOT


def csv_rows(path: Path) -> dict[int, dict[str, str]]:
    """Data rows by their line number (header = 1); every record here is one line."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {line: row for line, row in enumerate(csv.DictReader(handle), start=2)}


def test_tradovate_fills_rows_are_the_fill_rows(shared_data: Path) -> None:
    record = read_record(shared_data / FILLS, specs=SPECS_BY_ROOT, tz="UTC")
    rows = csv_rows(shared_data / FILLS)
    assert [r.row for r in record.rows] == sorted(rows)
    for item in record.rows:
        (execution,) = item.executions
        assert execution.price == Decimal(rows[item.row]["Price"].replace(",", ""))
    # Every fill is in a round trip or an open position, and each trip's rows are fill rows.
    assert {row for trip in record.round_trips.trips for row in trip.rows} <= set(rows)


def test_performance_rows_carry_entry_and_exit(shared_data: Path) -> None:
    record = read_record(shared_data / PERFORMANCE, specs=SPECS_BY_ROOT, tz="Etc/GMT-2")
    rows = csv_rows(shared_data / PERFORMANCE)
    assert [r.row for r in record.rows] == sorted(rows)
    for item in record.rows:
        raw = rows[item.row]
        prices = {e.price for e in item.executions}
        assert prices == {Decimal(raw["buyPrice"]), Decimal(raw["sellPrice"])}
        assert item.symbol == raw["symbol"]


def test_position_history_rows_by_pair_id(shared_data: Path) -> None:
    record = read_record(shared_data / POSITION_HISTORY, specs=SPECS_BY_ROOT, tz="UTC")
    rows = csv_rows(shared_data / POSITION_HISTORY)
    assert [r.row for r in record.rows] == sorted(rows)
    assert record.notes  # the file's pairs do not cover the position: said, not hidden


def test_ninjatrader_rows_are_the_leader_account_only(shared_data: Path) -> None:
    record = read_record(shared_data / NINJATRADER, specs=SPECS_BY_ROOT, tz="UTC",
                         leader_account="Sim101")
    rows = csv_rows(shared_data / NINJATRADER)
    assert [r.row for r in record.rows] == sorted(
        line for line, row in rows.items() if row["Account"] == "Sim101"
    )
    assert record.round_trips.open_positions == {}


def test_topstepx_rows_line_up_with_their_trades(shared_data: Path) -> None:
    # No ids in the dump: each trade's row must hold its own close time and P&L - fees.
    record = read_record(shared_data / TOPSTEPX, specs=SPECS_BY_ROOT, tz="UTC")
    rows = csv_rows(shared_data / TOPSTEPX)
    assert len(record.round_trips.trips) == len(rows)
    for trip in record.round_trips.trips:
        (line,) = trip.rows
        raw = rows[line]
        assert trip.closed_at == datetime.fromisoformat(raw["createdAt"])
        assert trip.pnl == Decimal(raw["profitAndLoss"]) - Decimal(raw["fees"])
