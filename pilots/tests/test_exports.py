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
    PERFORMANCE_HAMTARO,
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


def test_ninjatrader_sim101_round_trips_worked_by_hand(shared_data: Path) -> None:
    # Sim101 trades 10 MNQ ($2/point) six times (rows 2-20), all long:
    # 1 rows 2-5:   buy 9 @ 21539.50 + 1 @ 21539.75 = 215,395.25; sell 6 @ 21535.75
    #               + 4 @ 21535.50 = 215,356.50 -> -38.75 pt x $2 = -77.50
    # 2 rows 6-8:   buy 10 @ 21537.50 = 215,375.00; sell 4 @ 21533.50 + 6 @ 21533.25
    #               = 215,333.50 -> -41.50 pt -> -83.00
    # 3 rows 9-11:  buy 10 @ 21533.00 = 215,330.00; sell 7 @ 21529.25 + 3 @ 21529.00
    #               = 215,291.75 -> -38.25 pt -> -76.50
    # 4 rows 12-13: 10 x (21524.75 - 21528.50) = -37.50 pt -> -75.00
    # 5 rows 14-16: buy 5 @ 21519.75 + 5 @ 21520.00 = 215,198.75; sell 10 @ 21515.75
    #               = 215,157.50 -> -41.25 pt -> -82.50
    # 6 rows 17-20: buy 6 @ 21517.75 + 4 @ 21518.00 = 215,178.50; sell 2 @ 21542.25
    #               + 8 @ 21542.00 = 215,420.50 -> +242.00 pt -> +484.00
    # (The repository's TradeLog.csv says -75.50 for the first: it prices all 10 exits at
    # 21535.75, missing the 4 filled at 21535.50.)
    record = read_record(shared_data / NINJATRADER, specs=SPECS_BY_ROOT, tz="UTC",
                         leader_account="Sim101")
    trips = record.round_trips.trips
    assert [t.pnl for t in trips] == [
        Decimal("-77.50"), Decimal("-83.00"), Decimal("-76.50"), Decimal("-75.00"),
        Decimal("-82.50"), Decimal("484.00"),
    ]
    assert [t.rows for t in trips] == [
        (2, 3, 4, 5), (6, 7, 8), (9, 10, 11), (12, 13), (14, 15, 16), (17, 18, 19, 20),
    ]
    assert {t.qty for t in trips} == {10}


def test_fills_and_performance_of_one_account_give_the_same_round_trips(
    shared_data: Path,
) -> None:
    # hamtaro777's Fills and Performance exports describe the same trades (SOURCES.md
    # section 1): rebuilt from either, the round trips agree contract by contract.
    fills = read_record(shared_data / FILLS, specs=SPECS_BY_ROOT, tz="UTC")
    pairs = read_record(shared_data / PERFORMANCE_HAMTARO, specs=SPECS_BY_ROOT,
                        tz="Asia/Tokyo")
    assert [(t.symbol, t.side, t.qty, t.pnl) for t in fills.round_trips.trips] == [
        (t.symbol, t.side, t.qty, t.pnl) for t in pairs.round_trips.trips
    ]
    assert fills.round_trips.trips[0].pnl == Decimal(100)  # NQH6: (25271 - 25266) x $20
