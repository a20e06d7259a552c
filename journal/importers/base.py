"""Result types and the error type shared by every broker-export importer.

An importer turns one exported file into an :class:`ImportResult`: the leader
fills to replay through the copy engine (``routing.engine``) and, when the
format has them, the closed round trips for the journal. Money and prices are
``Decimal``, quantities positive ``int`` contracts, times aware UTC
``datetime``. The formats and their columns are described in
``shared/data/SOURCES.md``; each format module names the section it follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath
from zoneinfo import ZoneInfo

from routing.engine.bounds import DecimalColumn
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import LeaderFill, Side

DEFAULT_TIMEZONE = "UTC"
"""Zone used for timestamps that carry no zone, unless the caller passes ``tz=``.

Tradovate's Performance and Position History exports and NinjaTrader's grid
write wall-clock times in the zone of the machine or browser that exported
them, without saying which. UTC is only a default: pass the exporter's zone
(e.g. ``"America/Chicago"``) to get the right instants.
"""

TRADOVATE_FILLS = "tradovate_fills"
TRADOVATE_PERFORMANCE = "tradovate_performance"
TRADOVATE_POSITION_HISTORY = "tradovate_position_history"
NINJATRADER_EXECUTIONS = "ninjatrader_executions"
TOPSTEPX_TRADES = "topstepx_trades"


class ExportError(ValueError):
    """A bad file, row or field in a broker export.

    ``path`` is the file name, ``row`` the 1-based physical line number in the
    file (the header is line 1) or ``None``, ``field`` the column name or
    ``None``, ``message`` what is wrong. ``str(e)`` reads
    ``"Fills.csv, row 7, field 'Price': 'abc' is not a number"``; the parts
    that are ``None`` are left out.
    """

    def __init__(self, path: str, row: int | None, field: str | None, message: str) -> None:
        self.path = path
        self.row = row
        self.field = field
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = [self.path] if self.path else []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[type[ExportError], tuple[str, int | None, str | None, str]]:
        return (type(self), (self.path, self.row, self.field, self.message))


@dataclass(frozen=True, slots=True)
class ImportedTrade:
    """One closed round trip as the export states it, for the journal.

    ``external_id`` is stable across re-imports of the same file (pair id,
    ``"<buyFillId>-<sellFillId>"`` or an id built from the row). ``symbol`` is
    the normalised contract code (``"MNQH5"``), or the bare root (``"MNQ"``)
    when the export names no contract month (TopstepX). ``side`` is
    :attr:`Side.BUY` for a long round trip and :attr:`Side.SELL` for a short
    one; ``qty`` > 0 contracts; prices in points or ``None`` when the file has
    none; ``pnl`` and ``fees`` in dollars as the file states them (``fees`` is
    ``Decimal("0")`` when the file has none); times aware UTC.
    """

    external_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    entry_price: Decimal | None
    exit_price: Decimal | None
    pnl: Decimal
    fees: Decimal
    opened_at: datetime | None
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Everything read from one export file.

    ``format`` is one of ``"tradovate_fills"``, ``"tradovate_performance"``,
    ``"tradovate_position_history"``, ``"ninjatrader_executions"``,
    ``"topstepx_trades"``. ``fills`` are the fills of ``leader_account`` in
    replay order (time, then numeric fill id, then file order); ``trades`` the
    round trips of every account, by close time. ``accounts`` is every account
    seen, sorted. ``timezone`` is the IANA zone used for timestamps without a
    zone. ``replayable`` is ``False`` when the fills cannot stand for the
    leader's trading, with the reason in ``not_replayable_reason``.
    """

    path: str
    format: str
    fills: tuple[LeaderFill, ...]
    trades: tuple[ImportedTrade, ...]
    accounts: tuple[str, ...]
    leader_account: str | None
    timezone: str
    replayable: bool
    not_replayable_reason: str | None
    notes: tuple[str, ...] = ()  # caveats a reader should see (e.g. fills missing from a report)

    def require_replayable(self) -> None:
        """Raise :class:`ExportError` (file name, no row or field) when not replayable."""
        if not self.replayable:
            raise ExportError(
                PurePath(self.path).name,
                None,
                None,
                self.not_replayable_reason or "export is not replayable",
            )


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Column limits an imported value must fit (issue 10, defect 8).

    ``price`` and ``money`` are the price and dollar-amount columns,
    ``fill_id`` / ``account`` / ``trade_id`` the ``max_length`` of the fill
    id, account name and round-trip id columns. Built from the models by
    ``journal.limits.import_limits`` (parsing itself stays free of Django).
    """

    price: DecimalColumn
    money: DecimalColumn
    fill_id: int
    account: int
    trade_id: int


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What every format parser needs besides the rows.

    ``path`` is reported in :attr:`ImportResult.path`; ``name`` is the file
    name used in errors (and as the account of a Tradovate Performance file);
    ``zone`` is ``ZoneInfo(tz_name)``; ``known_roots`` the product roots that
    have a contract spec; ``tick_sizes`` their tick sizes in price points
    (a root without one is refused where a price is read); ``limits`` the
    column limits every value is checked against.
    """

    path: str
    name: str
    tz_name: str
    zone: ZoneInfo
    leader_account: str | None
    known_roots: frozenset[str]
    tick_sizes: Mapping[str, Decimal]
    limits: ImportLimits

    def error(self, row: int | None, field: str | None, message: str) -> ExportError:
        """An :class:`ExportError` for this file."""
        return ExportError(self.name, row, field, message)

    def tick_size(self, symbol: str) -> Decimal | None:
        """Tick size (price points) of ``symbol``'s root (a code ``"MNQH5"`` or a bare root)."""
        try:
            root = parse_contract(symbol).root
        except SymbolError:
            root = symbol
        return self.tick_sizes.get(root)
