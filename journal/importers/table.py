"""Read CSV lines into a header and rows that remember their physical line number.

Every typed getter on :class:`Row` turns a bad cell into an
:class:`~journal.importers.base.ExportError` naming the file, the 1-based line
(header = line 1) and the column, so format parsers never build error
messages by hand.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from journal.importers.base import ExportError, ParseContext
from journal.importers.values import (
    BadValue,
    parse_count,
    parse_decimal,
    parse_iso_time,
    parse_local_time,
    parse_quantity,
    parse_side,
    parse_signed_quantity,
    parse_symbol,
)
from routing.engine.bounds import DecimalColumn, amount_problem, length_problem, price_problem
from routing.engine.types import Side


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: ``cells`` maps header names to stripped cell text; ``line`` is 1-based."""

    path: str
    line: int
    cells: Mapping[str, str]

    def error(self, field: str | None, message: str) -> ExportError:
        """An :class:`ExportError` for this row and ``field``."""
        return ExportError(self.path, self.line, field, message)

    def raw(self, field: str) -> str:
        """The stripped cell text, ``""`` when empty or when the column is absent."""
        return self.cells.get(field, "")

    def text(self, field: str) -> str:
        """The stripped cell text; raises :class:`ExportError` when it is empty."""
        value = self.raw(field)
        if not value:
            raise self.error(field, "value is empty")
        return value

    def decimal(self, field: str) -> Decimal:
        """A price or amount (``"25,271.00"``, ``"$23.75"``, ``"$(41.25)"``) as ``Decimal``."""
        text = self.text(field)
        try:
            return parse_decimal(text)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None

    def optional_decimal(self, field: str) -> Decimal | None:
        """Like :meth:`decimal`, but ``None`` for an empty cell or a missing column."""
        return self.decimal(field) if self.raw(field) else None

    def price(self, field: str, symbol: str, ctx: ParseContext) -> Decimal:
        """A price of ``symbol``: > 0, on its tick grid, fitting the price column.

        Raises :class:`ExportError` naming this row and ``field`` otherwise
        (see :func:`routing.engine.bounds.price_problem`).
        """
        value = self.decimal(field)
        problem = price_problem(value, ctx.tick_size(symbol), ctx.limits.price)
        if problem is not None:
            raise self.error(field, problem)
        return value

    def amount(self, field: str, column: DecimalColumn) -> Decimal:
        """A dollar amount (either sign) that fits ``column``."""
        value = self.decimal(field)
        problem = amount_problem(value, column)
        if problem is not None:
            raise self.error(field, problem)
        return value

    def bounded_text(self, field: str, max_length: int) -> str:
        """Non-empty cell text (an id, an account) of at most ``max_length`` characters."""
        return self.check_length(field, self.text(field), max_length)

    def check_length(self, field: str, value: str, max_length: int) -> str:
        """``value`` (read from ``field``) if it fits ``max_length`` characters, else an error."""
        problem = length_problem(value, max_length)
        if problem is not None:
            raise self.error(field, problem)
        return value

    def quantity(self, field: str) -> int:
        """A whole number of contracts > 0."""
        return self._parse(field, parse_quantity)

    def count(self, field: str) -> int:
        """A whole number >= 0."""
        return self._parse(field, parse_count)

    def signed_quantity(self, field: str) -> int:
        """A whole, non-zero, signed number of contracts."""
        return self._parse(field, parse_signed_quantity)

    def local_time(
        self, field: str, formats: Sequence[str], zone: ZoneInfo, expected: str
    ) -> datetime:
        """A zone-less wall-clock time read in ``zone`` (see ``values.parse_local_time``), UTC."""
        text = self.text(field)
        try:
            return parse_local_time(text, formats, zone, expected)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None

    def iso_time(self, field: str, zone: ZoneInfo) -> datetime:
        """An ISO 8601 time as aware UTC; a value without offset is read in ``zone``."""
        text = self.text(field)
        try:
            return parse_iso_time(text, zone)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None

    def side(self, field: str, names: Mapping[str, Side]) -> Side:
        """A side from its spelling (``names`` maps lower-case spellings to sides)."""
        text = self.text(field)
        try:
            return parse_side(text, names)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None

    def symbol(self, field: str, known_roots: Collection[str]) -> str:
        """The normalised contract code, checked against ``known_roots``."""
        text = self.text(field)
        try:
            return parse_symbol(text, known_roots)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None

    def _parse(self, field: str, parse: Callable[[str], int]) -> int:
        text = self.text(field)
        try:
            return parse(text)
        except BadValue as exc:
            raise self.error(field, str(exc)) from None


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file being read: ``header`` names (stripped; blank names kept as
    ``""``), the header's line, and ``rows``.

    ``rows`` reads the data rows from the file one at a time as it is
    iterated (a file is never held whole, issue 10 defect 9), so it can be
    walked once: a format parser keeps what it needs as it goes.
    ``has_rows`` says whether there is at least one data row.
    """

    path: str
    header: tuple[str, ...]
    header_line: int
    rows: Iterator[Row]
    has_rows: bool

    def has(self, column: str) -> bool:
        """Whether the header names ``column``."""
        return column in self.header

    def require_columns(self, groups: Sequence[Sequence[str]], label: str) -> None:
        """Check that each group has one of its column names in the header.

        A group lists a column and its accepted fallbacks (``("Fill ID",
        "_id")``). Raises :class:`ExportError` on the header line naming the
        first missing column and listing all missing ones, or naming a needed
        column that the header holds twice.
        """
        missing = [group for group in groups if not any(name in self.header for name in group)]
        if missing:
            names = ", ".join(" or ".join(repr(name) for name in group) for group in missing)
            raise ExportError(
                self.path,
                self.header_line,
                missing[0][0],
                f"missing required column ({label} needs {names})",
            )
        counts = Counter(self.header)
        for group in groups:
            for name in group:
                if counts[name] > 1:
                    raise ExportError(
                        self.path,
                        self.header_line,
                        name,
                        f"column appears {counts[name]} times in the header",
                    )


def read_table(
    lines: Iterable[str], path: str, *, on_row: Callable[[int], None] | None = None
) -> Table:
    """Read the header of CSV ``lines``; the :class:`Table`'s rows follow as it is iterated.

    ``lines`` are text lines with their line ends, as iterating a file opened
    with ``newline=""``, ``io.StringIO(text, newline="")`` or
    :func:`journal.importers.stream.decode_lines` gives them; ``path`` is the
    file name used in errors. A leading UTF-8 BOM is dropped, blank lines are
    skipped, cells are stripped. ``on_row(n)`` is called before the n-th
    data row (1-based) is handed on, for progress and caps: what it raises
    ends the read.

    Raises :class:`ExportError` ``"empty file"`` when there is no header.
    While ``rows`` is iterated it raises naming the line of an unreadable
    record, and of a row with fewer cells than the header or extra non-empty
    cells (NinjaTrader's trailing empty column is fine). ``"no data rows"``
    is left to the caller (``has_rows``), after the format is known.
    """
    records = _records(_without_bom(lines), path)
    found = next(records, None)
    if found is None:
        raise ExportError(path, None, None, "empty file")
    header_line, header = found[0], tuple(found[1])
    rows = _rows(records, path, header, on_row)
    # The first data row is read now so that ``has_rows`` is known before the
    # format is parsed; it is handed on first.
    first = next(rows, None)
    return Table(
        path=path,
        header=header,
        header_line=header_line,
        rows=iter(()) if first is None else itertools.chain((first,), rows),
        has_rows=first is not None,
    )


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from iterator


def _records(lines: Iterable[str], path: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records as (1-based first physical line, stripped cells)."""
    reader = csv.reader(lines)
    previous_line = 0
    try:
        for record in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            cells = [cell.strip() for cell in record]
            if any(cells):
                yield line, cells
    except csv.Error as exc:
        raise ExportError(path, previous_line + 1, None, f"unreadable CSV: {exc}") from None


def _rows(
    records: Iterator[tuple[int, list[str]]],
    path: str,
    header: tuple[str, ...],
    on_row: Callable[[int], None] | None,
) -> Iterator[Row]:
    for count, (line, cells) in enumerate(records, start=1):
        if on_row is not None:
            on_row(count)
        yield _row(path, line, header, cells)


def _row(path: str, line: int, header: tuple[str, ...], cells: list[str]) -> Row:
    if len(cells) < len(header) or any(cells[len(header) :]):
        raise ExportError(
            path, line, None, f"row has {len(cells)} fields but the header has {len(header)}"
        )
    mapping: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if name and name not in mapping:
            mapping[name] = cell
    return Row(path=path, line=line, cells=mapping)
