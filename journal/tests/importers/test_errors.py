"""Malformed exports, built by editing a real file's text: every error names file, row, field."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from journal.importers import ExportError, parse_export, read_export
from journal.tests.importers.exports import (
    FILLS,
    NINJATRADER,
    PERFORMANCE,
    data_text,
    drop_column,
    edit_cell,
    write,
)


def _error(path: Path, **options: Any) -> ExportError:
    with pytest.raises(ExportError) as info:
        read_export(path, **options)
    return info.value


def test_export_error_renders_only_the_known_parts() -> None:
    error = ExportError("Fills.csv", 7, "Price", "'abc' is not a number")

    assert str(error) == "Fills.csv, row 7, field 'Price': 'abc' is not a number"
    assert str(ExportError("Fills.csv", None, None, "empty file")) == "Fills.csv: empty file"
    assert str(ExportError("a.csv", None, "Account", "x")) == "a.csv, field 'Account': x"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.row, copy.field, copy.message) == (
        "Fills.csv",
        7,
        "Price",
        "'abc' is not a number",
    )


def test_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", drop_column(data_text(FILLS), "Price"))

    error = _error(path)

    assert (error.path, error.row, error.field) == ("Fills.csv", 1, "Price")
    assert str(error).startswith("Fills.csv, row 1, field 'Price': missing required column")


def test_bad_number(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 7, "Price", "abc"))

    assert str(_error(path)) == "Fills.csv, row 7, field 'Price': 'abc' is not a number"


def test_unknown_symbol(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 9, "Contract", "XYZH5"))

    assert str(_error(path)) == (
        "Fills.csv, row 9, field 'Contract': unknown symbol 'XYZH5' (no contract spec for root "
        "'XYZ')"
    )


def test_known_roots_restricts_the_products(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", data_text(FILLS))

    error = _error(path, known_roots=("NQ",))

    assert (error.row, error.field) == (4, "Contract")  # line 4 is the first MESH6 fill
    assert "no contract spec for root 'MES'" in error.message


def test_unreadable_contract(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 3, "Contract", "Nasdaq"))

    error = _error(path)

    assert (error.row, error.field) == (3, "Contract")
    assert "cannot read contract 'Nasdaq'" in error.message


@pytest.mark.parametrize("text", ["", "\r\n\r\n", "\ufeff"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert str(_error(write(tmp_path, "Fills.csv", text))) == "Fills.csv: empty file"


def test_header_only(tmp_path: Path) -> None:
    header = data_text(PERFORMANCE).splitlines(keepends=True)[0]

    assert str(_error(write(tmp_path, "Performance.csv", header))) == (
        "Performance.csv: no data rows"
    )


def test_bad_date(tmp_path: Path) -> None:
    text = edit_cell(data_text(PERFORMANCE), 5, "boughtTimestamp", "2025-12-01 17:00")

    assert str(_error(write(tmp_path, "Performance.csv", text))) == (
        "Performance.csv, row 5, field 'boughtTimestamp': '2025-12-01 17:00' is not a date and "
        "time (expected MM/DD/YYYY HH:MM:SS)"
    )


def test_bad_ninjatrader_time(tmp_path: Path) -> None:
    text = edit_cell(data_text(NINJATRADER), 3, "Time", "28/01/2025 10:59:52")

    error = _error(write(tmp_path, "grid.csv", text), leader_account="Sim101")

    assert (error.path, error.row, error.field) == ("grid.csv", 3, "Time")
    assert "expected M/D/YYYY h:mm:ss AM/PM" in error.message


def test_bad_iso_time(tmp_path: Path) -> None:
    text = edit_cell(data_text(FILLS), 2, "_timestamp", "11 Feb 2026")

    error = _error(write(tmp_path, "Fills.csv", text))

    assert (error.row, error.field) == (2, "_timestamp")
    assert "'11 Feb 2026' is not a date and time (expected ISO 8601" in error.message


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("0", "quantity must be > 0, got '0'"),
        ("-1", "quantity must be > 0, got '-1'"),
        ("1.5", "'1.5' is not a whole number of contracts"),
        ("", "value is empty"),
    ],
)
def test_bad_quantity(tmp_path: Path, qty: str, message: str) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 6, "Quantity", qty))

    assert str(_error(path)) == f"Fills.csv, row 6, field 'Quantity': {message}"


def test_bad_side(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 2, "B/S", " Short"))

    error = _error(path)

    assert (error.row, error.field) == (2, "B/S")
    assert error.message == "'Short' is not a side (expected one of 'Buy', 'Sell')"


def test_a_bad_last_row_fails_the_whole_file(tmp_path: Path) -> None:
    path = write(tmp_path, "Fills.csv", edit_cell(data_text(FILLS), 21, "Price", "6,968.2.5"))

    assert _error(path).row == 21


def test_fill_seen_again_with_another_price(tmp_path: Path) -> None:
    # Sell fill 163781410701 is in lines 2 and 3; give line 3 another sell price.
    text = edit_cell(data_text(PERFORMANCE), 3, "sellPrice", "25271.75")

    error = _error(write(tmp_path, "Performance.csv", text))

    assert (error.row, error.field) == (3, "sellPrice")
    assert "fill 163781410701 (first seen in row 2) was at price 25271.50, here 25271.75" in str(
        error
    )


def test_fill_seen_again_with_another_time(tmp_path: Path) -> None:
    text = edit_cell(data_text(PERFORMANCE), 3, "soldTimestamp", "12/01/2025 16:19:50")

    error = _error(write(tmp_path, "Performance.csv", text))

    assert (error.row, error.field) == (3, "soldTimestamp")


def test_repeated_pair(tmp_path: Path) -> None:
    lines = data_text(PERFORMANCE).splitlines(keepends=True)

    error = _error(write(tmp_path, "Performance.csv", "".join([*lines, lines[1]])))

    assert (error.row, error.field) == (45, "sellFillId")
    assert "pair 163781410766-163781410701 repeats row 2" in error.message


def test_repeated_fill_id(tmp_path: Path) -> None:
    lines = data_text(FILLS).splitlines(keepends=True)

    error = _error(write(tmp_path, "Fills.csv", "".join([*lines, lines[1]])))

    assert (error.row, error.field) == (22, "Fill ID")


def test_row_with_missing_cells(tmp_path: Path) -> None:
    lines = data_text(FILLS).splitlines(keepends=True)
    lines[4] = lines[4].rsplit(",", 3)[0] + "\r\n"

    error = _error(write(tmp_path, "Fills.csv", "".join(lines)))

    assert (error.row, error.field) == (5, None)
    assert error.message == "row has 22 fields but the header has 25"


def test_unrecognised_header_lists_the_formats(tmp_path: Path) -> None:
    error = _error(write(tmp_path, "x.csv", "date,open,high,low,close\r\n1,2,3,4,5\r\n"))

    assert error.row == 1
    for name in (
        "tradovate_fills",
        "tradovate_performance",
        "tradovate_position_history",
        "ninjatrader_executions",
        "topstepx_trades",
    ):
        assert name in error.message


def test_invalid_time_zone() -> None:
    with pytest.raises(ExportError, match="unknown time zone 'Mars/Olympus'"):
        parse_export("a,b\r\n1,2\r\n", name="x.csv", tz="Mars/Olympus")


def test_missing_file(tmp_path: Path) -> None:
    error = _error(tmp_path / "nope.csv")

    assert error.path == "nope.csv"
    assert error.message.startswith("cannot read file")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "Fills.csv"
    path.write_bytes(data_text(FILLS).encode("utf-8") + b"\xff\r\n")

    assert "not UTF-8 text" in str(_error(path))


def test_bom_blank_lines_and_thousands_separators(tmp_path: Path) -> None:
    # A BOM, a blank line after the header and "25,271.00": line numbers stay physical.
    lines = edit_cell(data_text(FILLS), 2, "Price", "25,271.00").splitlines(keepends=True)
    text = "\ufeff" + lines[0] + "\r\n" + "".join(lines[1:])
    path = tmp_path / "Fills.csv"
    path.write_bytes(text.encode("utf-8"))

    fills = read_export(path).fills
    assert fills[0].price == 25271
    bad = edit_cell(text.removeprefix("\ufeff"), 4, "Price", "x")  # line 4 is the 2nd data row
    error = _error(write(tmp_path, "Fills.csv", "\ufeff" + bad))
    assert error.row == 4


def test_parse_export_uses_name_in_errors_and_result() -> None:
    result = parse_export(data_text(FILLS), name="upload-17.csv")
    assert result.path == "upload-17.csv"

    with pytest.raises(ExportError) as info:
        parse_export(edit_cell(data_text(FILLS), 7, "Price", "abc"), name="upload-17.csv")
    assert str(info.value).startswith("upload-17.csv, row 7, field 'Price'")
