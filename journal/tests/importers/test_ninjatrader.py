"""NinjaTrader 8 Executions grid (SOURCES.md section 6): one leader and three copied accounts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from journal.importers import ExportError, parse_export, read_export
from journal.tests.importers.exports import NINJATRADER, data_file, data_text, edit_cell
from routing.engine.types import LeaderFill, Side

APEX = ("APEX1279810000026", "APEX1279810000027", "APEX1279810000028")
NAME = Path(NINJATRADER).name


def test_several_accounts_need_a_leader() -> None:
    with pytest.raises(ExportError) as info:
        read_export(data_file(NINJATRADER))

    assert str(info.value) == (
        f"{NAME}, field 'Account': several accounts in file: {', '.join(APEX)}, Sim101; "
        "choose the leader with --leader-account"
    )


def test_unknown_leader_lists_the_accounts() -> None:
    with pytest.raises(ExportError, match="leader account 'Sim102' is not in the file") as info:
        read_export(data_file(NINJATRADER), leader_account="Sim102")

    assert "APEX1279810000026, APEX1279810000027, APEX1279810000028, Sim101" in str(info.value)


def test_sim101_leader_fills() -> None:
    result = read_export(data_file(NINJATRADER), leader_account="Sim101")

    assert result.format == "ninjatrader_executions"
    assert result.accounts == (*APEX, "Sim101")
    assert result.leader_account == "Sim101"
    assert result.replayable
    # 19 Sim101 rows out of 55; the rest are the three Apex accounts (12 each).
    assert len(result.fills) == 19
    assert {(f.account, f.symbol) for f in result.fills} == {("Sim101", "MNQH5")}
    # The first 10-lot entry was filled 9 + 1 in the same second (lines 2 and 3).
    assert result.fills[:2] == (
        LeaderFill(
            event_id="e6c4685b7fa74bb6a8af5cacebc76cb7",
            account="Sim101",
            symbol="MNQH5",
            side=Side.BUY,
            qty=9,
            price=Decimal("21539.50"),
            time=datetime(2025, 1, 28, 10, 59, 52, tzinfo=UTC),
        ),
        LeaderFill(
            event_id="14a8742a4ded432980180c537a8bdf0c",
            account="Sim101",
            symbol="MNQH5",
            side=Side.BUY,
            qty=1,
            price=Decimal("21539.75"),
            time=datetime(2025, 1, 28, 10, 59, 52, tzinfo=UTC),
        ),
    )
    # Line 20: the last exit, 8 of the final 2 + 8.
    assert result.fills[-1] == LeaderFill(
        event_id="eb96bfef683d4139b6ae698848c03dd7",
        account="Sim101",
        symbol="MNQH5",
        side=Side.SELL,
        qty=8,
        price=Decimal("21542.00"),
        time=datetime(2025, 1, 28, 11, 17, 43, tzinfo=UTC),
    )
    # Hand sum: bought 9+1+10+10+10+5+5+6+4 = 60, sold 6+4+4+6+7+3+10+10+2+8 = 60.
    assert sum(f.qty for f in result.fills if f.side is Side.BUY) == 60
    assert sum(f.qty for f in result.fills if f.side is Side.SELL) == 60


@pytest.mark.parametrize("account", APEX)
def test_each_apex_account_trades_one_nq_six_times(account: str) -> None:
    fills = read_export(data_file(NINJATRADER), leader_account=account).fills

    assert len(fills) == 12
    assert {f.symbol for f in fills} == {"NQH5"}
    assert Counter(f.side for f in fills) == Counter({Side.BUY: 6, Side.SELL: 6})
    assert {f.qty for f in fills} == {1}


def test_tz_shifts_the_wall_clock_times() -> None:
    in_utc = read_export(data_file(NINJATRADER), leader_account="Sim101")
    in_chicago = read_export(data_file(NINJATRADER), leader_account="Sim101", tz="America/Chicago")

    assert in_chicago.timezone == "America/Chicago"
    assert in_chicago.fills[0].time == datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)  # CST = -6 h
    shifts = {b.time - a.time for a, b in zip(in_utc.fills, in_chicago.fills, strict=True)}
    assert shifts == {timedelta(hours=6)}


def test_buy_to_cover_and_sell_short_are_buy_and_sell() -> None:
    text = data_text(NINJATRADER)
    text = edit_cell(text, 2, "Action", "Sell Short")
    text = edit_cell(text, 4, "Action", "Buy to Cover")

    fills = {f.event_id: f for f in parse_export(text, name=NAME, leader_account="Sim101").fills}

    assert fills["e6c4685b7fa74bb6a8af5cacebc76cb7"].side is Side.SELL
    assert fills["51ffcc4bd918474cac55756c91676067"].side is Side.BUY


def test_bad_action_names_row_and_field() -> None:
    text = edit_cell(data_text(NINJATRADER), 30, "Action", "Hold")

    with pytest.raises(ExportError) as info:
        parse_export(text, name=NAME, leader_account="Sim101")

    # Rows of non-leader accounts are checked too (line 30 is an Apex row).
    assert (info.value.path, info.value.row, info.value.field) == (NAME, 30, "Action")
    assert "'Hold' is not a side" in str(info.value)
