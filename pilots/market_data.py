"""Read market data bars from a file into a :class:`pilots.bars.BarSeries`.

Accepted files (1-minute to 1-hour bars, the interval is the smallest gap
between two bar starts):

* JSON: a list of objects ``{"time", "open", "high", "low", "close"}`` with
  ``time`` the bar's start in epoch seconds UTC (the NQ bars of
  shared/data/arielSofer_aiTradeReports/marketData_{5m,15m,1h}.json, see
  SOURCES.md section 4), or an object with such a list under ``"bars"``.
* CSV with columns ``open,high,low,close`` and the start as ``time`` (epoch
  seconds, or ISO 8601 with an offset) or ``bar_start_ct`` (wall-clock
  America/Chicago, as shared/data/cdries_rTrawl/ESM8_1min_*.derived.csv).

Prices are read as ``Decimal`` from the file's text, never through float.
Errors are :class:`MarketDataError` naming the file, the bar (1-based
position in a JSON list, line in a CSV) and the field.
"""

from __future__ import annotations

import csv
import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from journal.importers.base import ExportError
from pilots.bars import Bar, BarError, BarSeries
from routing.engine.sessions import CHICAGO

_PRICES = ("open", "high", "low", "close")


class MarketDataError(ExportError):
    """A bad market data file, bar or field (``row`` is the bar's position or CSV line)."""


def load_bars(path: str | Path, *, family: str, month: str | None = None) -> BarSeries:
    """The bars in ``path`` as prices of ``family`` (a mini root, e.g. ``"NQ"``).

    ``month`` (``"Z5"``) limits them to one contract month. Raises
    :class:`MarketDataError` for an unreadable file, a bad bar or field, fewer
    than 2 bars (the interval cannot be told) or an interval outside 1 minute
    to 1 hour.
    """
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MarketDataError(name, None, None, f"cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise MarketDataError(name, None, None, "not UTF-8 text") from None
    read = _csv_bars if Path(path).suffix.lower() == ".csv" else _json_bars
    bars = read(text, name)
    if len(bars) < 2:
        raise MarketDataError(name, None, None,
                              f"{len(bars)} bar(s): at least 2 are needed to tell the interval")
    starts = sorted(bar.start for bar in bars)
    gaps = [b - a for a, b in itertools.pairwise(starts) if b > a]
    interval = min(gaps, default=timedelta(0))
    try:
        return BarSeries(bars, interval=interval, family=family, month=month, source=name)
    except BarError as exc:
        row = None if exc.index is None else exc.index + 1
        raise MarketDataError(name, row, None, exc.message) from None


def _json_bars(text: str, name: str) -> list[Bar]:
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise MarketDataError(name, None, None,
                              f"not JSON: {exc.msg} (line {exc.lineno})") from None
    if isinstance(data, dict):
        data = data.get("bars")
    if not isinstance(data, list):
        raise MarketDataError(name, None, None,
                              'expected a list of bars (or an object with "bars")')
    bars = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise MarketDataError(name, index, None, "a bar must be an object")
        raw = item.get("time")
        if not isinstance(raw, Decimal) or raw != raw.to_integral_value():
            raise MarketDataError(name, index, "time",
                                  f"{raw!r} is not a whole number of epoch seconds")
        start = datetime.fromtimestamp(int(raw), tz=UTC)
        bars.append(_bar(start, {key: item.get(key) for key in _PRICES}, name, index))
    return bars


def _csv_bars(text: str, name: str) -> list[Bar]:
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    time_field = next((key for key in ("time", "bar_start_ct") if key in header), None)
    missing = [key for key in _PRICES if key not in header]
    if time_field is None or missing:
        need = ", ".join(missing + ([] if time_field else ["time or bar_start_ct"]))
        raise MarketDataError(name, 1, None, f"missing column(s): {need}")
    bars = []
    for line, record in enumerate(reader, start=2):
        raw = (record.get(time_field) or "").strip()
        try:
            if time_field == "bar_start_ct":
                start = datetime.fromisoformat(raw).replace(tzinfo=CHICAGO).astimezone(UTC)
            elif raw.isdigit():
                start = datetime.fromtimestamp(int(raw), tz=UTC)
            else:
                start = datetime.fromisoformat(raw)
                if start.tzinfo is None:
                    raise ValueError
                start = start.astimezone(UTC)
        except ValueError:
            raise MarketDataError(
                name, line, time_field, f"{raw!r} is not a time (epoch seconds or ISO 8601)"
            ) from None
        bars.append(_bar(start, {key: record.get(key) for key in _PRICES}, name, line))
    return bars


def _bar(start: datetime, prices: dict[str, Any], name: str, where: int) -> Bar:
    values = {}
    for key, raw in prices.items():
        try:
            value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            value = None
        if raw is None or value is None or not value.is_finite() or value <= 0:
            raise MarketDataError(name, where, key, f"{raw!r} is not a price > 0")
        values[key] = value
    return Bar(start=start, **values)
