"""Tradovate Fills export (SOURCES.md section 1): one leader fill per row."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from journal.importers import read_export
from journal.tests.importers.exports import FILLS, PERFORMANCE_HAMTARO, data_file
from routing.engine.types import LeaderFill, Side

ACCOUNT = "ELTDEN260204090946817029"


def test_fills_file_reads_every_row_as_a_leader_fill() -> None:
    result = read_export(data_file(FILLS))

    assert result.format == "tradovate_fills"
    assert len(result.fills) == 20
    assert result.trades == ()
    assert result.accounts == (ACCOUNT,)
    assert result.leader_account == ACCOUNT
    assert result.timezone == "UTC"
    assert result.replayable
    assert result.not_replayable_reason is None
    # Line 2 of the file: the earliest fill, a " Sell" with the leading space.
    assert result.fills[0] == LeaderFill(
        event_id="393570670781",
        account=ACCOUNT,
        symbol="NQH6",
        side=Side.SELL,
        qty=1,
        price=Decimal("25271.00"),
        time=datetime(2026, 2, 11, 6, 34, 46, 772000, tzinfo=UTC),
    )
    # Lines 19-21 share 16:46:35.462Z; the numeric fill id orders them (file: 261, 253, 245).
    assert [f.event_id for f in result.fills[-3:]] == [
        "393570671245",
        "393570671253",
        "393570671261",
    ]
    assert result.fills[-1] == LeaderFill(
        event_id="393570671261",
        account=ACCOUNT,
        symbol="MESH6",
        side=Side.SELL,
        qty=1,
        price=Decimal("6968.25"),
        time=datetime(2026, 2, 11, 16, 46, 35, 462000, tzinfo=UTC),
    )


def test_fills_are_in_time_order_though_the_file_is_not() -> None:
    fills = read_export(data_file(FILLS)).fills

    assert [f.time for f in fills] == sorted(f.time for f in fills)
    # File line 8 (393570670875, 16:33:16.631Z) comes before line 5 (...881, 16:33:17.743Z).
    ids = [f.event_id for f in fills]
    assert ids.index("393570670875") < ids.index("393570670881")


def test_fills_end_flat_per_contract() -> None:
    # Hand count: NQH6 1 sell + 1 buy; MESH6 9 buys and 9 sells of 1 lot.
    bought: Counter[str] = Counter()
    sold: Counter[str] = Counter()
    for fill in read_export(data_file(FILLS)).fills:
        (bought if fill.side is Side.BUY else sold)[fill.symbol] += fill.qty
    assert bought == sold == Counter({"NQH6": 1, "MESH6": 9})


def test_iso_utc_timestamps_ignore_the_tz_option() -> None:
    in_utc = read_export(data_file(FILLS))
    in_chicago = read_export(data_file(FILLS), tz="America/Chicago")

    assert in_chicago.timezone == "America/Chicago"
    assert [f.time for f in in_chicago.fills] == [f.time for f in in_utc.fills]


def test_performance_read_in_tokyo_rebuilds_exactly_the_fills_file() -> None:
    # The same account's Performance export writes its times in the browser's zone,
    # Asia/Tokyo (UTC+9), to the second: read that way it gives back all 20 fills.
    fills = read_export(data_file(FILLS)).fills
    rebuilt = read_export(
        data_file(PERFORMANCE_HAMTARO), tz="Asia/Tokyo", leader_account=ACCOUNT
    ).fills

    assert rebuilt == tuple(
        LeaderFill(
            event_id=f.event_id,
            account=f.account,
            symbol=f.symbol,
            side=f.side,
            qty=f.qty,
            price=f.price,
            time=f.time.replace(microsecond=0),
        )
        for f in fills
    )
