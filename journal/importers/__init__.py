"""Importers for real broker exports: Tradovate, NinjaTrader 8, TopstepX.

Parsing is pure Python: :func:`read_export` / :func:`parse_export` detect the
format from the header row and return an :class:`ImportResult` with leader
fills for replay and round trips for the journal; :func:`parse_export_chunks`
and :func:`parse_export_lines` read a file as a stream of rows (uploads),
never whole. Only the default column
limits (``limits=None``) are read from the Django models. See ``base`` for the result
types and ``shared/data/SOURCES.md`` for the formats.
"""

from __future__ import annotations

from journal.importers.base import (
    DEFAULT_TIMEZONE,
    ExportError,
    ImportedTrade,
    ImportResult,
)
from journal.importers.detect import (
    parse_export,
    parse_export_chunks,
    parse_export_lines,
    read_export,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "ExportError",
    "ImportResult",
    "ImportedTrade",
    "parse_export",
    "parse_export_chunks",
    "parse_export_lines",
    "read_export",
]
