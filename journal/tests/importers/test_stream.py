"""Reading an export as a stream (issue 10, defect 9): rows are parsed as the
lines arrive, the file is never read whole, and decoding in chunks gives the
same lines and errors as decoding the whole text."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal.importers import ExportError
from journal.importers.detect import parse_export_chunks, parse_export_lines
from journal.importers.stream import decode_lines, read_chunks
from journal.tests.importers.exports import (
    FILLS,
    TRADOVATE_FILLS_HEADER,
    data_text,
    tradovate_fills_row,
)

ROWS = 5000


def _lines(rows: int) -> Iterator[str]:
    yield TRADOVATE_FILLS_HEADER + "\r\n"
    for index in range(rows):
        yield tradovate_fills_row(index) + "\r\n"


class _Counted:
    """An iterator that counts what was taken from it."""

    def __init__(self, items: Iterator[str] | Iterator[bytes]) -> None:
        self.items = items
        self.taken = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> str | bytes:
        item = next(self.items)
        self.taken += 1
        return item


def test_parse_when_lines_stream_in_then_each_row_parsed_before_the_next_is_read() -> None:
    # Arrange: 5,000 rows from a generator; the parser reports each row.
    lines = _Counted(_lines(ROWS))
    ahead: list[int] = []

    def on_row(count: int) -> None:
        # Lines taken when row ``count`` is handed on: the header, the rows
        # so far, at most one more.
        ahead.append(lines.taken - 1 - count)

    # Act
    result = parse_export_lines(lines, name="Fills.csv", on_row=on_row)

    # Assert: never more than one line read ahead of the parser.
    assert len(result.fills) == ROWS
    assert len(ahead) == ROWS
    assert max(ahead) <= 1


def test_parse_when_on_row_raises_then_reading_stops_there() -> None:
    lines = _Counted(_lines(ROWS))

    def cap(count: int) -> None:
        if count > 50:
            raise ExportError("Fills.csv", None, None, "more than 50 rows")

    with pytest.raises(ExportError, match="more than 50 rows"):
        parse_export_lines(lines, name="Fills.csv", on_row=cap)
    assert lines.taken <= 53  # header + 51 rows (+1 read ahead), not 5,001


def test_parse_file_object_in_chunks_then_file_read_as_parsing_goes(tmp_path: Path) -> None:
    path = tmp_path / "Fills.csv"
    path.write_text("".join(_lines(ROWS)), newline="")
    size = path.stat().st_size
    with path.open("rb") as handle:
        chunks = _Counted(read_chunks(handle, "Fills.csv", size=4096))
        seen: list[int] = []
        result = parse_export_chunks(
            chunks, name="Fills.csv", on_row=lambda n: seen.append(chunks.taken)
        )
    # The first row is parsed after one chunk of ~200; the last after all of them.
    assert len(result.fills) == ROWS
    assert seen[0] == 1
    assert seen[-1] == -(-size // 4096)


def test_chunks_give_the_same_result_as_whole_text() -> None:
    text = data_text(FILLS)
    data = text.encode()
    whole = parse_export_lines(io.StringIO(text, newline=""), name="Fills.csv")
    chunked = parse_export_chunks(
        (data[i : i + 7] for i in range(0, len(data), 7)), name="Fills.csv"
    )
    assert chunked == whole


_TEXT = st.text(alphabet=st.sampled_from(["a", ",", '"', "é", "€", "𝄞", "\r", "\n", "\x85"]))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(text=_TEXT, cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_decode_lines_cut_anywhere_then_lines_as_a_text_file_reads_them(
    text: str, cuts: list[int]
) -> None:
    chunks = _split(text.encode(), cuts)
    assert list(decode_lines(chunks, "x.csv")) == list(io.StringIO(text, newline=""))


@given(text=_TEXT, at=st.integers(min_value=0), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_decode_lines_bad_byte_then_error_names_its_offset_in_the_file(
    text: str, at: int, cuts: list[int]
) -> None:
    data = text.encode()
    at %= len(data) + 1
    bad = data[:at] + b"\xff" + data[at:]
    try:
        bad.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    with pytest.raises(ExportError) as info:
        list(decode_lines(_split(bad, cuts), "x.csv"))
    assert info.value.message == f"not UTF-8 text (byte {bad[offset]:#04x} at offset {offset})"


def test_decode_lines_when_a_line_never_ends_then_refused() -> None:
    chunks = (b"a" * 65536 for _ in range(20))  # 1.25 MB without a line end
    with pytest.raises(ExportError, match="line longer than 1,048,576 characters"):
        list(decode_lines(chunks, "x.csv"))
