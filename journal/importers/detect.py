"""Recognise a broker export by its header row and read it (:func:`read_export`).

Accepted formats (columns in ``shared/data/SOURCES.md``): Tradovate Fills,
Performance and Position History (sections 1, 4, 5), NinjaTrader 8 Executions
grid (section 6) and the TopstepX trade dump (section 4).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journal.importers import ninjatrader, topstepx, tradovate
from journal.importers.base import (
    DEFAULT_TIMEZONE,
    NINJATRADER_EXECUTIONS,
    TOPSTEPX_TRADES,
    TRADOVATE_FILLS,
    TRADOVATE_PERFORMANCE,
    TRADOVATE_POSITION_HISTORY,
    ExportError,
    ImportLimits,
    ImportResult,
    ParseContext,
)
from journal.importers.stream import decode_lines, read_chunks
from journal.importers.table import Table, read_table
from routing.contract_specs import SPECS_BY_ROOT


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One accepted format: id, human label, required column groups, parser."""

    name: str
    label: str
    columns: tuple[tuple[str, ...], ...]
    parse: Callable[[Table, ParseContext], ImportResult]


FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat(
        TRADOVATE_FILLS, "Tradovate Fills export", tradovate.FILLS_COLUMNS, tradovate.parse_fills
    ),
    ExportFormat(
        TRADOVATE_PERFORMANCE,
        "Tradovate Performance export",
        tradovate.PERFORMANCE_COLUMNS,
        tradovate.parse_performance,
    ),
    ExportFormat(
        TRADOVATE_POSITION_HISTORY,
        "Tradovate Position History export",
        tradovate.POSITION_HISTORY_COLUMNS,
        tradovate.parse_position_history,
    ),
    ExportFormat(
        NINJATRADER_EXECUTIONS,
        "NinjaTrader 8 Executions export",
        ninjatrader.NINJATRADER_COLUMNS,
        ninjatrader.parse_executions,
    ),
    ExportFormat(
        TOPSTEPX_TRADES, "TopstepX trades export", topstepx.TOPSTEPX_COLUMNS, topstepx.parse_trades
    ),
)

# A header is taken for a format when it has at least this share of the
# format's required columns; the missing ones are then reported by name.
_MIN_SHARE = 0.6
_TRADOVATE_ORDERS = frozenset({"orderId", "Order ID", "Fill Time", "filledQty", "Status"})


def detect_format(table: Table) -> ExportFormat:
    """The format whose required columns the header matches best.

    Raises :class:`ExportError` on the header line when no format has at
    least 60 % of its columns; the message lists the accepted formats.
    """
    header = set(table.header)

    def share(fmt: ExportFormat) -> float:
        found = sum(1 for group in fmt.columns if header.intersection(group))
        return found / len(fmt.columns)

    best = max(FORMATS, key=share)
    if share(best) >= _MIN_SHARE:
        return best
    accepted = "; ".join(f"{fmt.label} ({fmt.name})" for fmt in FORMATS)
    if header >= _TRADOVATE_ORDERS:
        raise ExportError(
            table.path,
            table.header_line,
            None,
            f"this is a Tradovate Orders export, which is not accepted: export the Fills report "
            f"instead; accepted formats: {accepted}",
        )
    names = [name for name in table.header if name]
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    raise ExportError(
        table.path,
        table.header_line,
        None,
        f"unrecognised header ({shown}); accepted formats: {accepted}",
    )


def parse_export(
    text: str,
    *,
    name: str,
    tz: str = DEFAULT_TIMEZONE,
    leader_account: str | None = None,
    known_roots: Collection[str] | None = None,
    tick_sizes: Mapping[str, Decimal] | None = None,
    limits: ImportLimits | None = None,
) -> ImportResult:
    """Read an export already in memory; ``name`` is used in errors.

    Same as :func:`read_export` with ``ImportResult.path == name``. Uploads
    are read with :func:`parse_export_chunks` instead, never whole.
    """
    return parse_export_lines(
        io.StringIO(text, newline=""),
        name=name,
        tz=tz,
        leader_account=leader_account,
        known_roots=known_roots,
        tick_sizes=tick_sizes,
        limits=limits,
    )


def read_export(
    path: str | Path,
    *,
    tz: str = DEFAULT_TIMEZONE,
    leader_account: str | None = None,
    known_roots: Collection[str] | None = None,
    tick_sizes: Mapping[str, Decimal] | None = None,
    limits: ImportLimits | None = None,
) -> ImportResult:
    """Read a broker export file (UTF-8, optional BOM) into an :class:`ImportResult`.

    The format is detected from the header row. ``tz`` is the IANA zone of
    the file's zone-less timestamps (default ``"UTC"``, see
    :data:`~journal.importers.base.DEFAULT_TIMEZONE`). ``leader_account``
    chooses whose fills are returned when the file holds several accounts (for
    Tradovate Performance, which has no account column, it names the
    account). ``known_roots`` are the product roots accepted (default: every
    root in ``routing.contract_specs.SPECS_BY_ROOT``); ``tick_sizes`` maps
    roots to tick sizes in price points (default: that table's); ``limits``
    are the column limits (default: read from the models by
    ``journal.limits.import_limits``, which needs Django set up).

    Every price must be > 0 and on its contract's tick grid, every quantity
    1 to 10,000 contracts, every price, amount and id must fit its column
    (:mod:`routing.engine.bounds`, issue 10 defect 8).

    The file is read in chunks (:func:`parse_export_chunks`). All or
    nothing: raises :class:`ExportError` (file name, line, column) for an
    unreadable file, an invalid ``tz``, an unrecognised header, a missing
    column, a file without data rows, or any bad row; nothing partial is
    returned.
    """
    name = PurePath(path).name
    try:
        # Opened apart from the with below so that only opening errors are named here.
        handle = Path(path).open("rb")  # noqa: SIM115
    except OSError as exc:
        raise ExportError(name, None, None, f"cannot read file: {exc.strerror}") from None
    with handle:
        return parse_export_chunks(
            read_chunks(handle, name),
            name=name,
            path=str(path),
            tz=tz,
            leader_account=leader_account,
            known_roots=known_roots,
            tick_sizes=tick_sizes,
            limits=limits,
        )


def parse_export_chunks(
    chunks: Iterable[bytes],
    *,
    name: str,
    path: str | None = None,
    tz: str = DEFAULT_TIMEZONE,
    leader_account: str | None = None,
    known_roots: Collection[str] | None = None,
    tick_sizes: Mapping[str, Decimal] | None = None,
    limits: ImportLimits | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ImportResult:
    """Read an export from its bytes, a chunk at a time (an upload stored on disk).

    ``chunks`` are the file's bytes in order (:func:`~journal.importers.stream.read_chunks`);
    they are decoded as UTF-8 and parsed as they come, so only one chunk and
    the rows' parsed values are held, never the file. ``path`` is reported
    in :attr:`ImportResult.path` (default ``name``). Other arguments,
    errors and the result as :func:`parse_export_lines`; bytes that are not
    UTF-8 raise :class:`ExportError` naming their offset.
    """
    return parse_export_lines(
        decode_lines(chunks, name),
        name=name,
        path=path,
        tz=tz,
        leader_account=leader_account,
        known_roots=known_roots,
        tick_sizes=tick_sizes,
        limits=limits,
        on_row=on_row,
    )


def parse_export_lines(
    lines: Iterable[str],
    *,
    name: str,
    path: str | None = None,
    tz: str = DEFAULT_TIMEZONE,
    leader_account: str | None = None,
    known_roots: Collection[str] | None = None,
    tick_sizes: Mapping[str, Decimal] | None = None,
    limits: ImportLimits | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ImportResult:
    """Read an export from its text lines (each with its line end), in one pass.

    ``name`` is the file name used in errors; ``path`` is reported in
    :attr:`ImportResult.path` (default ``name``). ``on_row(n)`` is called
    before the n-th data row is parsed (progress; it may raise to stop the
    read, e.g. :class:`ExportError` for a row cap). Other arguments and the
    errors as :func:`read_export`. A bad row is reported when it is reached:
    the rows before it have been read, but nothing is returned.
    """
    path = name if path is None else path
    if limits is None:
        from journal.limits import import_limits  # Django models: only when not given

        limits = import_limits()
    ctx = ParseContext(
        path=path,
        name=name,
        tz_name=tz,
        zone=_zone(tz, name),
        leader_account=leader_account,
        known_roots=frozenset(SPECS_BY_ROOT if known_roots is None else known_roots),
        tick_sizes=(
            {root: spec.tick_size for root, spec in SPECS_BY_ROOT.items()}
            if tick_sizes is None
            else dict(tick_sizes)
        ),
        limits=limits,
    )
    table = read_table(lines, name, on_row=on_row)
    fmt = detect_format(table)
    table.require_columns(fmt.columns, fmt.label)
    if not table.has_rows:
        raise ExportError(name, None, None, "no data rows")
    return fmt.parse(table, ctx)


def _zone(tz: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(
            name,
            None,
            None,
            f"unknown time zone {tz!r} (expected an IANA name like 'America/Chicago')",
        ) from None
