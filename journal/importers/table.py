"""Read CSV text into a header and rows that remember their physical line number.

Every typed getter on :class:`Row` turns a bad cell into an
:class:`~journal.importers.base.ExportError` naming the file, the 1-based line
(header = line 1) and the column, so format parsers never build error
messages by hand.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
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

    def local_time(self, field: str, formats: Sequence[str], zone: ZoneInfo,
                   expected: str) -> datetime:
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
    """A parsed CSV file: ``header`` names (stripped; blank names kept as ``""``) and rows."""

    path: str
    header: tuple[str, ...]
    header_line: int
    rows: tuple[Row, ...]

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
            names = ", ".join(
                " or ".join(repr(name) for name in group) for group in missing
            )
            raise ExportError(
                self.path, self.header_line, missing[0][0],
                f"missing required column ({label} needs {names})",
            )
        counts = Counter(self.header)
        for group in groups:
            for name in group:
                if counts[name] > 1:
                    raise ExportError(
                        self.path, self.header_line, name,
                        f"column appears {counts[name]} times in the header",
                    )


def read_table(text: str, path: str) -> Table:
    """Split CSV ``text`` into a :class:`Table`; ``path`` is the file name used in errors.

    A leading UTF-8 BOM is dropped, blank lines are skipped, cells are
    stripped. Raises :class:`ExportError` ``"empty file"`` when there is no
    header, and naming the row when a row has fewer cells than the header or
    extra non-empty cells (NinjaTrader's trailing empty column is fine).
    ``"no data rows"`` is left to the caller, after the format is known.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header: tuple[str, ...] | None = None
    header_line = 0
    rows: list[Row] = []
    previous_line = 0
    try:
        for record in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue
            if header is None:
                header, header_line = tuple(cells), line
                continue
            rows.append(_row(path, line, header, cells))
    except csv.Error as exc:
        raise ExportError(path, previous_line + 1, None, f"unreadable CSV: {exc}") from None
    if header is None:
        raise ExportError(path, None, None, "empty file")
    return Table(path=path, header=header, header_line=header_line, rows=tuple(rows))


def _row(path: str, line: int, header: tuple[str, ...], cells: list[str]) -> Row:
    if len(cells) < len(header) or any(cells[len(header):]):
        raise ExportError(
            path, line, None, f"row has {len(cells)} fields but the header has {len(header)}"
        )
    mapping: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if name and name not in mapping:
            mapping[name] = cell
    return Row(path=path, line=line, cells=mapping)
