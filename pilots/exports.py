"""A pilot's record read from a broker export, every fill and trade with its row.

The export is parsed by the journal's importers (:func:`journal.importers.read_export`:
Tradovate Fills / Performance / Position History, NinjaTrader 8 Executions,
TopstepX); their results carry no row numbers, so the file's rows are read
once more (:func:`journal.importers.table.read_table`) to find each fill's
and trade's row by its id:

* Tradovate Fills: ``Fill ID`` (or ``_id``); NinjaTrader: ``ID``;
* Tradovate Performance: ``buyFillId``-``sellFillId``; Position History:
  ``Pair ID`` (a fill paired in several rows belongs to each of them);
* TopstepX (no ids): the trades are sorted by ``createdAt`` keeping file
  order, so the rows sorted the same way line up with them.

Round trips: for every format with fills, rebuilt flat to flat from the
fills (:func:`pilots.trades.round_trips_from_fills`, PnL before commissions,
which these importers do not read); for TopstepX each row is a round trip
(PnL net of the dump's ``fees``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from journal.importers import ExportError, ImportedTrade, ImportResult, read_export
from journal.importers.base import (
    NINJATRADER_EXECUTIONS,
    TOPSTEPX_TRADES,
    TRADOVATE_FILLS,
    TRADOVATE_PERFORMANCE,
    TRADOVATE_POSITION_HISTORY,
)
from journal.importers.table import Row, read_table
from journal.importers.values import BadValue, parse_iso_time
from pilots.trades import RoundTrip, RoundTrips, RowFill, round_trips_from_fills
from pilots.verification import Execution, RecordRow
from routing.engine.types import ContractSpec


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """A pilot's record from one export.

    ``rows`` are the rows to verify (one per fill, or per paired trade with
    its entry and exit), by row number; ``round_trips`` the record's round
    trips with the rows each comes from; ``prices`` every distinct fill's
    ``(contract, price)`` and ``times`` every fill's time (each trade's close
    for TopstepX), for the anomaly checks; ``notes`` what the reader should
    know (positions left open, missing fills).
    """

    path: str
    format: str
    account: str | None
    rows: tuple[RecordRow, ...]
    round_trips: RoundTrips
    prices: tuple[tuple[str, Decimal], ...]
    times: tuple[datetime, ...]
    notes: tuple[str, ...]


def read_record(path: str | Path, *, specs: Mapping[str, ContractSpec], tz: str,
                leader_account: str | None = None) -> ExportRecord:
    """Read ``path`` as a pilot's record (see the module docstring).

    ``specs`` are the contract specs by root (tick sizes, point values);
    ``tz`` the zone of zone-less timestamps; ``leader_account`` the account
    when the file holds several. Raises
    :class:`~journal.importers.base.ExportError` naming the file, row and
    field on any bad input.
    """
    result = read_export(
        path, tz=tz, leader_account=leader_account, known_roots=specs.keys(),
        tick_sizes={root: spec.tick_size for root, spec in specs.items()},
    )
    lines = _lines(path, result)
    point_values = {root: spec.point_value for root, spec in specs.items()}
    notes = list(result.notes)
    if result.format == TOPSTEPX_TRADES:
        rows, trips = _trade_rows(result, lines)
        round_trips = RoundTrips(trips=trips)
        prices: tuple[tuple[str, Decimal], ...] = ()
        times = tuple(trip.closed_at for trip in trips)
    else:
        fill_rows = _fill_rows(result, lines)
        round_trips = round_trips_from_fills(
            (RowFill(fill, fill_rows.get(fill.event_id, ())) for fill in result.fills),
            point_values,
        )
        if result.format in (TRADOVATE_FILLS, NINJATRADER_EXECUTIONS):
            rows = tuple(sorted(
                (RecordRow(row, fill.symbol, (Execution("fill", fill.time, fill.price),))
                 for fill in result.fills for row in fill_rows.get(fill.event_id, ())),
                key=lambda r: r.row,
            ))
        else:
            rows = _pair_rows(result, lines)
        prices = tuple((fill.symbol, fill.price) for fill in result.fills)
        times = tuple(fill.time for fill in result.fills)
        for symbol, qty in sorted(round_trips.open_positions.items()):
            notes.append(f"{symbol}: {qty:+d} contracts still open after the last fill "
                         "(those fills are in no round trip)")
    return ExportRecord(
        path=result.path, format=result.format, account=result.leader_account or
        (result.accounts[0] if result.accounts else None), rows=rows, round_trips=round_trips,
        prices=prices, times=times, notes=tuple(notes),
    )


def _lines(path: str | Path, result: ImportResult) -> dict[str, list[int]]:
    """Each fill's or trade's id -> the rows holding it (TopstepX: ``"#<n>"`` by sort order)."""
    name = Path(path).name
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        table = read_table(handle, name)
        found: dict[str, list[int]] = {}
        if result.format == TOPSTEPX_TRADES:
            ordered = sorted((_created_at(row, result), row.line) for row in table.rows)
            return {f"#{index}": [line] for index, (_, line) in enumerate(ordered)}
        for row in table.rows:
            for key in _keys(result.format, row):
                found.setdefault(key, []).append(row.line)
    return found


def _keys(fmt: str, row: Row) -> list[str]:
    if fmt == TRADOVATE_FILLS:
        return [row.raw("Fill ID") or row.raw("_id")]  # as the importer reads the id
    if fmt == NINJATRADER_EXECUTIONS:
        return [row.raw("ID")]
    if fmt == TRADOVATE_PERFORMANCE:
        buy, sell = row.raw("buyFillId"), row.raw("sellFillId")
        return [f"trade:{buy}-{sell}", f"fill:{buy}", f"fill:{sell}"]
    if fmt == TRADOVATE_POSITION_HISTORY:
        buy, sell = row.raw("Buy Fill ID"), row.raw("Sell Fill ID")
        return [f"trade:{row.raw('Pair ID')}", f"fill:{buy}", f"fill:{sell}"]
    raise ExportError(row.path, None, None, f"no row locator for format {fmt}")


def _created_at(row: Row, result: ImportResult) -> datetime:
    try:
        return parse_iso_time(row.raw("createdAt"), ZoneInfo(result.timezone))
    except BadValue as exc:  # pragma: no cover - read_export has refused the file already
        raise row.error("createdAt", str(exc)) from None


def _fill_rows(result: ImportResult, lines: Mapping[str, list[int]]) -> dict[str, tuple[int, ...]]:
    paired = result.format in (TRADOVATE_PERFORMANCE, TRADOVATE_POSITION_HISTORY)
    return {
        fill.event_id: tuple(sorted(set(lines.get(
            f"fill:{fill.event_id}" if paired else fill.event_id, [],
        ))))
        for fill in result.fills
    }


def _pair_rows(result: ImportResult, lines: Mapping[str, list[int]]) -> tuple[RecordRow, ...]:
    rows = []
    for trade in result.trades:
        if trade.account != result.leader_account:
            continue
        key = f"trade:{trade.external_id}"
        for line in lines.get(key, []):
            rows.append(RecordRow(line, trade.symbol, _executions(trade)))
    return tuple(sorted(rows, key=lambda r: r.row))


def _executions(trade: ImportedTrade) -> tuple[Execution, ...]:
    entry = () if trade.opened_at is None else (
        Execution("entry", trade.opened_at, trade.entry_price),
    )
    return (*entry, Execution("exit", trade.closed_at, trade.exit_price))


def _trade_rows(
    result: ImportResult, lines: Mapping[str, list[int]]
) -> tuple[tuple[RecordRow, ...], tuple[RoundTrip, ...]]:
    rows, trips = [], []
    for index, trade in enumerate(result.trades):
        (line,) = lines[f"#{index}"]
        rows.append(RecordRow(line, trade.symbol, _executions(trade)))
        trips.append(RoundTrip(
            symbol=trade.symbol, side=trade.side, qty=trade.qty, pnl=trade.pnl - trade.fees,
            closed_at=trade.closed_at, opened_at=trade.opened_at, fees=trade.fees,
            rows=(line,),
        ))
    return tuple(sorted(rows, key=lambda r: r.row)), tuple(trips)
