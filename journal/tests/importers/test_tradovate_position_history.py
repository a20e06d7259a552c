"""Tradovate Position History export (SOURCES.md section 5): a position plus one pair per row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from journal.importers import ImportedTrade, read_export
from journal.tests.importers.exports import POSITION_HISTORY, data_file
from routing.engine.types import LeaderFill, Side

ACCOUNT = "APEX4977960000002"


def test_position_history_pairs_become_trades_and_fills() -> None:
    result = read_export(data_file(POSITION_HISTORY))

    assert result.format == "tradovate_position_history"
    assert result.accounts == (ACCOUNT,)
    assert result.leader_account == ACCOUNT
    assert [t.external_id for t in result.trades] == [  # Pair IDs, by close time
        "465747740096",
        "465747740127",
        "465747740158",
        "465747740193",
        "465747740223",
    ]
    # Each fill id occurs once: 5 pairs give 10 fills of the Paired Qty.
    assert len(result.fills) == 10
    assert result.fills[0] == LeaderFill(  # line 6: sold 5 at 15:30:37 (short first)
        event_id="465747740075",
        account=ACCOUNT,
        symbol="MNQM6",
        side=Side.SELL,
        qty=5,
        price=Decimal("25073.75"),
        time=datetime(2026, 4, 9, 15, 30, 37, tzinfo=UTC),
    )
    # Line 2: buy 203 and sell 221 share 17:14:44; the lower fill id goes first.
    assert [f.event_id for f in result.fills[-2:]] == ["465747740203", "465747740221"]
    assert result.fills[-1] == LeaderFill(
        event_id="465747740221",
        account=ACCOUNT,
        symbol="MNQM6",
        side=Side.SELL,
        qty=5,
        price=Decimal("25072.00"),
        time=datetime(2026, 4, 9, 17, 14, 44, tzinfo=UTC),
    )
    bought = sum(f.qty for f in result.fills if f.side is Side.BUY)
    sold = sum(f.qty for f in result.fills if f.side is Side.SELL)
    assert bought == sold == 5 + 1 + 2 + 2 + 5


def test_position_history_short_pair() -> None:
    trades = {t.external_id: t for t in read_export(data_file(POSITION_HISTORY)).trades}

    # Line 6: sold 15:30:37 at 25073.75, bought back 15:30:48 at 25082.75, P/L -90.00.
    assert trades["465747740096"] == ImportedTrade(
        external_id="465747740096",
        account=ACCOUNT,
        symbol="MNQM6",
        side=Side.SELL,
        qty=5,
        entry_price=Decimal("25073.75"),
        exit_price=Decimal("25082.75"),
        pnl=Decimal("-90.00"),
        fees=Decimal("0"),
        opened_at=datetime(2026, 4, 9, 15, 30, 37, tzinfo=UTC),
        closed_at=datetime(2026, 4, 9, 15, 30, 48, tzinfo=UTC),
    )


def test_position_history_sample_replays_its_pairs_and_notes_the_missing_lots() -> None:
    # Every row repeats the position: Bought 24, Sold 24 (Avg. Buy 25065.97), but
    # the five pairs add up to 15 lots (average buy 25071.75): 9 lots of fills are
    # not in the file. The pairs still open and close, so they replay as a stream.
    result = read_export(data_file(POSITION_HISTORY))

    assert result.replayable
    result.require_replayable()
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "position 465747740010" in note
    assert "bought 24 and sold 24" in note
    assert "add up to 15" in note
    assert "fills are missing" in note
    bought = sum(f.qty for f in result.fills if f.side is Side.BUY)
    sold = sum(f.qty for f in result.fills if f.side is Side.SELL)
    assert bought == sold == 15
