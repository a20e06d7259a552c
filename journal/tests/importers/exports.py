"""Find the real broker exports in ``shared/data`` (never copied here), edit their text,
and generate exports in their format."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

# The one setting that says where shared/data is (env SHARED_DATA_DIR; by
# default beside the repository); the conftest fixture reads it too.
DATA_DIR: Path | None = settings.SHARED_DATA_DIR if settings.SHARED_DATA_DIR.is_dir() else None

FILLS = "hamtaro777_tradovate-analytics-test/Fills_tradovate.csv"
PERFORMANCE_HAMTARO = "hamtaro777_tradovate-analytics-test/Performance_trdovate.csv"
PERFORMANCE = "arielSofer_aiTradeReports/Performance.csv"
PERFORMANCE_1 = "arielSofer_aiTradeReports/Performance (1).csv"
PERFORMANCE_2 = "arielSofer_aiTradeReports/Performance (2).csv"
POSITION_HISTORY = "GeneBO98_tradetally/tradovate-paired-trades-sample.csv"
NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
TOPSTEPX = "arielSofer_aiTradeReports/topstepx_trades.csv"


def data_file(relative: str) -> Path:
    """The path of a real export; fails the test loudly when ``shared/data`` is absent
    (CI always has it beside the clone: a silent skip would hide lost coverage)."""
    if DATA_DIR is None:
        pytest.fail("shared/data not found beside the repository (set SHARED_DATA_DIR)")
    path = DATA_DIR / relative
    if not path.is_file():
        pytest.fail(f"{relative} not found in {DATA_DIR}")
    return path


def data_text(relative: str) -> str:
    """The text of a real export (UTF-8, BOM dropped)."""
    return data_file(relative).read_text(encoding="utf-8-sig")


def csv_rows(text: str) -> list[list[str]]:
    """Split CSV text into rows (every physical line here is one row)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_text(rows: list[list[str]]) -> str:
    """Join rows back into CSV text with CRLF line ends, as the real files have."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def edit_cell(text: str, line: int, column: str, value: str) -> str:
    """``text`` with the cell at 1-based ``line`` (header = 1) in ``column`` set to ``value``."""
    rows = csv_rows(text)
    rows[line - 1][rows[0].index(column)] = value
    return csv_text(rows)


def drop_column(text: str, column: str) -> str:
    """``text`` without ``column``."""
    rows = csv_rows(text)
    index = rows[0].index(column)
    return csv_text([row[:index] + row[index + 1 :] for row in rows])


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``tmp_path / name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# Generated exports (uploads, caps, streaming): the header of a real Tradovate
# Fills export (SOURCES.md section 1) and rows shaped like its rows.
TRADOVATE_FILLS_HEADER = (
    "_id,_orderId,_contractId,_timestamp,_tradeDate,_action,_qty,_price,_active,_accountId,"
    "Fill ID,Order ID,Timestamp,Date,Account,B/S,Quantity,Price,_priceFormat,_priceFormatType,"
    "_tickSize,Contract,Product,Product Description,commission"
)


def tradovate_fills_row(index: int, *, price: str | None = None) -> str:
    """Data row ``index`` (0-based) of :func:`tradovate_fills`: NQH6, 1 lot, buy then sell."""
    fill_id = 393570670781 + index
    at = datetime(2026, 2, 11, 6, 34, 46, tzinfo=UTC) + timedelta(seconds=10 * index)
    side, action = (" Buy", 0) if index % 2 == 0 else (" Sell", 1)
    price = price or f"{25271 + (index % 7) * 0.25:.2f}"
    return (
        f"{fill_id},{fill_id - 11},4086428,{at:%Y-%m-%d %H:%M:%S}.000Z,2026-02-11,{action},1,"
        f"{price},true,39681696,{fill_id},{fill_id - 11},{at:%m/%d/%Y %H:%M:%S},2/11/26,"
        f"ELTDEN260204090946817029,{side},1,{price},-2,0,0.25,NQH6,NQ,E-Mini NASDAQ 100,0.79"
    )


def tradovate_fills(rows: int) -> bytes:
    """A Tradovate Fills export of ``rows`` data rows (CRLF line ends, as the real files)."""
    lines = [TRADOVATE_FILLS_HEADER, *(tradovate_fills_row(i) for i in range(rows))]
    return ("\r\n".join(lines) + "\r\n").encode()
