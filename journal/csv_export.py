"""What the journal's CSV downloads share: lines streamed from rows, text
cells a spreadsheet would run as a formula defused (OWASP "CSV injection"),
the download response, and a range of UTC dates as instants."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.http import StreamingHttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose ``write`` returns the line (csv into a stream)."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return f"'{value}"
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV lines, ``header`` first; ``None`` is an empty cell and a text cell
    starting with ``= + - @`` (or a tab, a carriage return) gets a leading ``'``."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def csv_download(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    """``lines`` streamed as the attachment ``filename``."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def stamped(name: str) -> str:
    """``<name>-<UTC date and time>.csv``."""
    return f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.csv"


def utc_days(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` instants covering the UTC dates ``since`` to ``until``,
    both included (``None`` for an open end)."""
    start = None if since is None else datetime.combine(since, time.min, UTC)
    end = None if until is None else datetime.combine(until, time.min, UTC) + timedelta(days=1)
    return start, end
