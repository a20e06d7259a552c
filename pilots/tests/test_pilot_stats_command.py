"""manage.py pilot_stats on the real exports in shared/data (never copied here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from journal.tests.importers.exports import (
    PERFORMANCE,
    TRADOVATE_FILLS_HEADER,
    data_text,
    edit_cell,
    write,
)

pytestmark = pytest.mark.django_db

BARS_5M = "arielSofer_aiTradeReports/marketData_5m.json"
NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
# Zones from the importers' notes (journal/importers/tradovate.py): the hamtaro777 files
# were exported in Asia/Tokyo, the arielSofer Performance files at UTC+2 (Etc/GMT-2).
EXPORTS = [
    ("hamtaro777_tradovate-analytics-test/Fills_tradovate.csv", ()),
    ("hamtaro777_tradovate-analytics-test/Performance_trdovate.csv", ("--tz", "Asia/Tokyo")),
    ("arielSofer_aiTradeReports/Performance.csv", ("--tz", "Etc/GMT-2")),
    ("arielSofer_aiTradeReports/Performance (1).csv", ("--tz", "Etc/GMT-2")),
    ("arielSofer_aiTradeReports/Performance (2).csv", ("--tz", "Etc/GMT-2")),
    ("GeneBO98_tradetally/tradovate-paired-trades-sample.csv", ()),
    (NINJATRADER, ("--leader-account", "Sim101")),
    ("arielSofer_aiTradeReports/topstepx_trades.csv", ()),
]
# Exports whose zone is known: none of their rows may fail the trading-hours check.
KNOWN_ZONE = {name for name, _ in EXPORTS} - {NINJATRADER, EXPORTS[5][0]}


def run_json(export: Path | str, *extra: str) -> dict[str, Any]:
    out = StringIO()
    call_command("pilot_stats", str(export), "--json", *extra, stdout=out)
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def rows_by_number(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["row"]: row for row in data["verification"]["rows"]}


@pytest.mark.parametrize(("export", "extra"), EXPORTS)
def test_every_real_export_when_checked_then_reports_every_section(
    shared_data: Path, export: str, extra: tuple[str, ...]
) -> None:
    data = run_json(shared_data / export, *extra)
    stats = data["statistics"]
    assert stats["round_trips"] > 0
    assert stats["wins"] + stats["losses"] + stats["scratches"] == stats["round_trips"]
    rows = data["verification"]["rows"]
    assert rows and all(row["row"] >= 2 for row in rows)  # the header is row 1
    assert sum(data["verification"]["counts"].values()) == len(rows)
    # Without market data nothing can be verified: unverifiable, never verified.
    assert data["verification"]["counts"]["verified"] == 0
    assert {a["code"] for a in data["anomalies"]} == {
        "win_rate_too_high", "equity_too_smooth", "too_few_losing_days",
        "round_number_prices", "last_digit_not_uniform", "off_hours_cluster",
    }
    assert data["listing"]["eligible"] is False
    assert data["listing"]["reasons"]
    if export in KNOWN_ZONE:
        assert [r for r in rows if r["failures"]] == []
    # The text report prints too.
    out = StringIO()
    call_command("pilot_stats", str(shared_data / export), *extra, stdout=out)
    text = out.getvalue()
    for section in ("Statistics", "Verification", "Anomaly flags", "Listing"):
        assert section in text


def test_performance_with_nq_bars_then_nq_rows_verified_and_gold_unverifiable(
    shared_data: Path,
) -> None:
    # Rows 19-20 (sell 163781411176 @ 25660.00, 08:07:44 UTC, inside the 08:05 NQ bar
    # 25657.50-25664.75) are MNQZ5; rows 24-26 are MGCG6, which NQ bars do not price.
    data = run_json(shared_data / PERFORMANCE, "--tz", "Etc/GMT-2",
                    "--market-data", f"NQ={shared_data / BARS_5M}")
    rows = rows_by_number(data)
    assert rows[19]["status"] == rows[20]["status"] == "verified"
    assert {rows[n]["status"] for n in (24, 25, 26)} == {"unverifiable"}
    assert data["verification"]["counts"]["failed"] == 0
    assert data["source"]["market_data"][0].startswith("NQ 5-minute bars")


def test_tampered_rows_then_failed_with_row_check_and_reason(
    shared_data: Path, tmp_path: Path
) -> None:
    # Row 21: MNQZ5 bought 16:17:17, sold 16:18:58 (UTC+2: 14:17 / 14:18 UTC) at 25467.75,
    # inside the 14:15 UTC bar 25423.25-25483.00. Row 22: sold at 16:30:24 (14:30 UTC).
    text = data_text(PERFORMANCE)
    text = edit_cell(text, 21, "sellPrice", "25600.00")  # above the bar's high
    text = edit_cell(text, 22, "soldTimestamp", "12/06/2025 16:30:24")  # Saturday
    export = write(tmp_path, "Performance.csv", text)
    data = run_json(export, "--tz", "Etc/GMT-2", "--market-data",
                    f"NQ={shared_data / BARS_5M}")
    rows = rows_by_number(data)
    (price,) = rows[21]["failures"]
    assert (rows[21]["status"], price["check"], price["execution"]) == (
        "failed", "price_range", "exit",
    )
    assert "price 25600.00 is outside the NQ 5-minute bar" in price["reason"]
    assert rows[22]["status"] == "failed"
    assert rows[22]["failures"][0]["check"] == "trading_hours"
    assert "Sat 2025-12-06 08:30:24 CT is in the weekend close" in (
        rows[22]["failures"][0]["reason"]
    )
    assert rows[19]["status"] == "verified"  # the untouched rows still verify


def _too_perfect_fills(tmp_path: Path) -> Path:
    """A Tradovate Fills export: 3 NQ round trips of +5 points ($100) a day on 25 weekdays."""
    lines = [TRADOVATE_FILLS_HEADER]
    day = datetime(2025, 11, 3, 15, 0, tzinfo=UTC)  # Monday 09:00 CT
    fill_id = 900_000
    for _ in range(35):
        if day.weekday() < 5:
            for k in range(3):
                base = 25_000 + 7 * (fill_id % 13)
                legs = ((" Buy", 0, base, 0), (" Sell", 1, base + 5, 5))
                for side, action, price, offset in legs:
                    at = day + timedelta(minutes=20 * k + offset)
                    fill_id += 1
                    lines.append(
                        f"{fill_id},{fill_id},1,{at:%Y-%m-%d %H:%M:%S}.000Z,{at:%Y-%m-%d},"
                        f"{action},1,{price},true,1,{fill_id},{fill_id},{at:%m/%d/%Y %H:%M:%S},"
                        f"{at:%m/%d/%y},PILOT1,{side},1,{price}.00,-2,0,0.25,NQZ5,NQ,"
                        "E-Mini NASDAQ 100,0.79"
                    )
        day += timedelta(days=1)
    return write(tmp_path, "Fills.csv", "\r\n".join(lines) + "\r\n")


def test_too_perfect_record_then_flagged_for_review_not_removed(tmp_path: Path) -> None:
    # 75 round trips, all +$100 at whole-point prices: win rate, smooth equity, no losing
    # days and round-number prices are flagged; the trades all stay in the statistics.
    data = run_json(_too_perfect_fills(tmp_path), "--nominal-balance", "50000")
    flags = {a["code"]: a["status"] for a in data["anomalies"]}
    assert flags["win_rate_too_high"] == "flagged"
    assert flags["equity_too_smooth"] == "flagged"
    assert flags["too_few_losing_days"] == "flagged"
    assert flags["round_number_prices"] == "flagged"
    assert data["statistics"]["round_trips"] == 75
    assert data["statistics"]["net_pnl"] == "7500.00"  # 75 x 5 points x $20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.csv",), r"missing.csv: cannot read file"),
        ((PERFORMANCE, "--tz", "Mars/Olympus"), r"unknown time zone 'Mars/Olympus'"),
        ((PERFORMANCE, "--nominal-balance", "-5"), r"--nominal-balance: '-5' is not a dollar"),
        ((PERFORMANCE, "--nominal-balance", "lots"), r"--nominal-balance: 'lots'"),
        ((NINJATRADER,), r"several accounts in file"),
        ((PERFORMANCE, "--market-data", BARS_5M), r"the export trades GC, NQ; name the product"),
        ((PERFORMANCE, "--market-data", f"ZBZ5={BARS_5M}"), r"no contract spec for 'ZB'"),
        ((PERFORMANCE, "--market-data", f"X={BARS_5M}"), r"'X' is neither a product root"),
        ((PERFORMANCE, "--market-data", "NQ=nothing.json"), r"nothing.json: cannot read file"),
    ],
)
def test_bad_input_then_command_error_naming_it(
    shared_data: Path, args: tuple[str, ...], message: str
) -> None:
    resolved = [str(shared_data / a) if a.endswith((".csv", ".json")) and "=" not in a else a
                for a in args]
    resolved = [a.replace(f"={BARS_5M}", f"={shared_data / BARS_5M}") for a in resolved]
    with pytest.raises(CommandError, match=message):
        call_command("pilot_stats", *resolved, stdout=StringIO())


def test_bad_cell_then_error_names_file_row_and_field(shared_data: Path, tmp_path: Path) -> None:
    export = write(tmp_path, "Performance.csv", edit_cell(data_text(PERFORMANCE), 7, "qty", "x"))
    with pytest.raises(CommandError, match=r"Performance.csv, row 7, field 'qty'"):
        call_command("pilot_stats", str(export), stdout=StringIO())


def test_bad_bar_then_error_names_the_market_data_file_and_bar(
    shared_data: Path, tmp_path: Path
) -> None:
    bars = tmp_path / "bars.json"
    bars.write_text('[{"time": 1764651900, "open": 5, "high": 4, "low": 1, "close": 2},'
                    ' {"time": 1764652200, "open": 2, "high": 2, "low": 1, "close": 2}]')
    with pytest.raises(CommandError, match=r"bars.json, row 1: low 1, open 5"):
        call_command("pilot_stats", str(shared_data / PERFORMANCE), "--market-data",
                     f"NQ={bars}", stdout=StringIO())


def test_bare_market_data_file_with_equals_in_its_name_when_one_product(
    tmp_path: Path,
) -> None:
    # The hamtaro777 Fills export trades NQ and MES; its rows 2-3 alone are NQH6: sell
    # 25271.00 at 2026-02-11 06:34:46.772Z, buy 25266.00 at 07:10:55.153Z. One product, so a
    # bare file (its name holding "=") is taken as NQ bars: two bars 40 min apart (06:30Z
    # 25260-25280 and 07:10Z 25260-25270) cover both fills.
    rows = data_text("hamtaro777_tradovate-analytics-test/Fills_tradovate.csv").splitlines()
    export = write(tmp_path, "Fills.csv", "\r\n".join(rows[:3]) + "\r\n")
    bars = tmp_path / "nq=40m.json"
    bars.write_text(
        '[{"time": 1770791400, "open": 25270, "high": 25280, "low": 25260, "close": 25265},'
        ' {"time": 1770793800, "open": 25265, "high": 25270, "low": 25260, "close": 25266}]'
    )
    data = run_json(export, "--market-data", str(bars))
    assert data["source"]["market_data"][0].startswith("NQ 40-minute bars")
    assert data["verification"]["counts"] == {"verified": 2, "failed": 0, "unverifiable": 0}


def test_finer_bars_first_then_hourly_bars_where_they_end(shared_data: Path) -> None:
    # Performance.csv rows 2-4 trade MNQZ5 on 2025-12-01 between 14:19 and 14:44 UTC
    # (16:19-16:44 at UTC+2), before the first 5-minute bar (2025-12-02 05:05 UTC): with
    # 5-minute bars alone they are unverifiable. The 1-hour bar of 14:00 UTC spans
    # 25209.25-25379.50 and holds all their prices (25244.50 to 25292.00): verified.
    five = f"NQ={shared_data / BARS_5M}"
    hourly = f"NQ={shared_data / 'arielSofer_aiTradeReports/marketData_1h.json'}"
    alone = rows_by_number(run_json(shared_data / PERFORMANCE, "--tz", "Etc/GMT-2",
                                    "--market-data", five))
    both = rows_by_number(run_json(shared_data / PERFORMANCE, "--tz", "Etc/GMT-2",
                                   "--market-data", five, "--market-data", hourly))
    assert {alone[n]["status"] for n in (2, 3, 4)} == {"unverifiable"}
    assert {both[n]["status"] for n in (2, 3, 4)} == {"verified"}
    assert both[19]["status"] == "verified"  # rows inside the 5-minute bars stay verified
