"""Tradovate Performance export (SOURCES.md sections 1 and 4): paired trades -> trades + fills."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from journal.importers import ImportedTrade, read_export
from journal.tests.importers.exports import (
    PERFORMANCE,
    PERFORMANCE_1,
    PERFORMANCE_2,
    PERFORMANCE_HAMTARO,
    data_file,
)
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.symbols import root_of
from routing.engine.types import LeaderFill, Side


def test_performance_file_gives_trades_and_merged_fills() -> None:
    result = read_export(data_file(PERFORMANCE))

    assert result.format == "tradovate_performance"
    assert len(result.trades) == 43
    # 43 rows name 86 fill ids; 69 are distinct because some fills are paired twice.
    assert len(result.fills) == 69
    # No account column: the file's stem names the account.
    assert result.accounts == ("Performance",)
    assert result.leader_account == "Performance"
    assert {f.account for f in result.fills} == {"Performance"}
    assert result.replayable


def test_a_fill_paired_in_two_rows_becomes_one_fill_with_the_summed_qty() -> None:
    by_id = {f.event_id: f for f in read_export(data_file(PERFORMANCE)).fills}

    # Rows 2 and 3 both close against sell fill 163781410701 (1 lot each).
    assert by_id["163781410701"] == LeaderFill(
        event_id="163781410701",
        account="Performance",
        symbol="MNQZ5",
        side=Side.SELL,
        qty=2,
        price=Decimal("25271.50"),
        time=datetime(2025, 12, 1, 16, 19, 49, tzinfo=UTC),
    )
    # Rows 13-15 pair buy fill 163781411091 with three different sells.
    assert by_id["163781411091"].qty == 3
    assert by_id["163781411091"].side is Side.BUY
    # Rows 11 and 12: sell 163781411052 is paired 3 + 1.
    assert by_id["163781411052"].qty == 4


def test_performance_first_and_last_fill_in_replay_order() -> None:
    fills = read_export(data_file(PERFORMANCE)).fills

    assert fills[0].event_id == "163781410701"  # 12/01/2025 16:19:49, the earliest time
    assert fills[-1] == LeaderFill(  # row 44: 5 lots bought 12/09/2025 10:39:24
        event_id="163781412095",
        account="Performance",
        symbol="MGCG6",
        side=Side.BUY,
        qty=5,
        price=Decimal("4215.9"),
        time=datetime(2025, 12, 9, 10, 39, 24, tzinfo=UTC),
    )
    assert [f.time for f in fills] == sorted(f.time for f in fills)


def test_performance_bought_equals_sold_per_contract() -> None:
    # Hand sum of the qty column: MNQZ5 19 rows = 36 lots, MGCG6 24 rows = 45 lots.
    bought: Counter[str] = Counter()
    sold: Counter[str] = Counter()
    for fill in read_export(data_file(PERFORMANCE)).fills:
        (bought if fill.side is Side.BUY else sold)[fill.symbol] += fill.qty
    assert bought == sold == Counter({"MNQZ5": 36, "MGCG6": 45})


def test_performance_rows_become_trades() -> None:
    trades = {t.external_id: t for t in read_export(data_file(PERFORMANCE)).trades}

    # Row 2: sold 16:19:49 before bought 16:33:05, so a 1-lot short, "$1.00".
    assert trades["163781410766-163781410701"] == ImportedTrade(
        external_id="163781410766-163781410701",
        account="Performance",
        symbol="MNQZ5",
        side=Side.SELL,
        qty=1,
        entry_price=Decimal("25271.50"),
        exit_price=Decimal("25271.00"),
        pnl=Decimal("1.00"),
        fees=Decimal("0"),
        opened_at=datetime(2025, 12, 1, 16, 19, 49, tzinfo=UTC),
        closed_at=datetime(2025, 12, 1, 16, 33, 5, tzinfo=UTC),
    )
    # Row 11: bought 10:22:55, sold 10:30:12, 3 lots long, "$(42.00)".
    long = trades["163781411024-163781411052"]
    assert (long.side, long.qty, long.entry_price, long.exit_price, long.pnl) == (
        Side.BUY,
        3,
        Decimal("4247.0"),
        Decimal("4245.6"),
        Decimal("-42.00"),
    )


@pytest.mark.parametrize(
    ("relative", "rows", "fills"),
    [
        (PERFORMANCE, 43, 69),
        (PERFORMANCE_1, 52, 89),
        (PERFORMANCE_2, 71, 113),
        (PERFORMANCE_HAMTARO, 10, 20),
    ],
)
def test_every_performance_pnl_reconciles_with_the_contract_specs(
    relative: str,
    rows: int,
    fills: int,
) -> None:
    # SOURCES.md: pnl == (sellPrice - buyPrice) * qty * point_value on every row.
    result = read_export(data_file(relative))

    assert (len(result.trades), len(result.fills)) == (rows, fills)
    for trade in result.trades:
        assert trade.entry_price is not None
        assert trade.exit_price is not None
        move = (trade.exit_price - trade.entry_price) * trade.side.sign
        point_value = SPECS_BY_ROOT[root_of(trade.symbol)].point_value
        assert trade.pnl == move * trade.qty * point_value, trade.external_id


def test_performance_1_covers_the_z5_to_h6_roll() -> None:
    symbols = {t.symbol for t in read_export(data_file(PERFORMANCE_1)).trades}

    assert symbols == {"MNQZ5", "MNQH6", "MESH6", "ESH6", "NQH6", "YMZ5", "YMH6"}


def test_tz_option_reads_zone_less_timestamps_in_that_zone() -> None:
    # The arielSofer files were exported at UTC+2 (Asia/Jerusalem in December):
    # only then do the MNQZ5 fill prices fall inside the NQ 5-minute bars.
    fill = {f.event_id: f for f in read_export(data_file(PERFORMANCE), tz="Asia/Jerusalem").fills}[
        "163781410701"
    ]

    assert fill.time == datetime(2025, 12, 1, 14, 19, 49, tzinfo=UTC)


def test_leader_account_names_the_account_of_a_performance_file() -> None:
    result = read_export(data_file(PERFORMANCE), leader_account="APEX-123")

    assert result.accounts == ("APEX-123",)
    assert result.leader_account == "APEX-123"
    assert {f.account for f in result.fills} == {t.account for t in result.trades} == {"APEX-123"}
