"""Market data bars a fill price is checked against.

Pure: bars are values; :mod:`pilots.market_data` reads them from files. A
:class:`BarSeries` holds the bars of one *price family* (a mini and its
micro share prices: NQ bars price MNQ fills too, as CME's micro contracts
are a tenth of the same index, ``ContractSpec.micro_of``), at one interval
from 1 minute to 1 hour, optionally for one contract month. A bar covers
``[start, start + interval)`` (bars are stamped by their start, as Yahoo
and CME bar data are). Prices are ``Decimal`` points, times aware UTC.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import ContractSpec

MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(hours=1)


class BarError(ValueError):
    """Bars that cannot be used: ``index`` is the 0-based position of the bad bar or ``None``."""

    def __init__(self, index: int | None, message: str) -> None:
        self.index = index
        self.message = message
        super().__init__(message if index is None else f"bar {index}: {message}")


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLC bar starting at ``start`` (aware UTC); prices in points."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


def price_family(root: str, specs: Mapping[str, ContractSpec]) -> str:
    """The root whose bars price ``root``: its mini for a micro (MNQ -> NQ), else itself."""
    spec = specs.get(root)
    return spec.micro_of if spec is not None and spec.micro_of else root


class BarSeries:
    """Bars of one price family at one interval, sorted by start.

    ``family`` is a mini root (``"NQ"``); ``month`` a contract month and year
    (``"Z5"``) when the bars are of one contract, ``None`` when they stand
    for every month (a continuous front-month series such as Yahoo's
    ``NQ=F``: a deferred month trades at a spread to it, so its fills can
    fail the range check). ``source`` names where the bars came from.

    Raises :class:`BarError` for an interval outside 1 minute to 1 hour, a
    naive start time, a bar whose low is above its open, close or high (or
    high below them), or two bars with the same start.
    """

    def __init__(self, bars: Iterable[Bar], *, interval: timedelta, family: str,
                 month: str | None = None, source: str = "") -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise BarError(None, f"bars are {_span(interval)} apart: 1-minute to 1-hour bars "
                                 "are accepted")
        ordered = sorted(bars, key=lambda bar: bar.start)
        for index, bar in enumerate(ordered):
            if bar.start.tzinfo is None:
                raise BarError(index, "start time has no time zone")
            if not bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high:
                raise BarError(
                    index, f"low {bar.low}, open {bar.open}, close {bar.close}, high {bar.high} "
                           "are not low <= open, close <= high",
                )
            if index and ordered[index - 1].start == bar.start:
                raise BarError(index, f"two bars start at {bar.start.isoformat()}")
        self.bars: tuple[Bar, ...] = tuple(ordered)
        self.interval = interval
        self.family = family
        self.month = month
        self.source = source
        self._starts = [bar.start for bar in ordered]

    def covering(self, at: datetime) -> Bar | None:
        """The bar whose ``[start, start + interval)`` holds ``at``, or ``None``."""
        index = bisect.bisect_right(self._starts, at) - 1
        if index < 0:
            return None
        bar = self.bars[index]
        return bar if at < bar.start + self.interval else None

    def applies_to(self, symbol: str, specs: Mapping[str, ContractSpec]) -> bool:
        """Whether these bars price contract ``symbol`` (same family, and month if set)."""
        try:
            contract = parse_contract(symbol)
        except SymbolError:
            return False
        if price_family(contract.root, specs) != self.family:
            return False
        return self.month is None or f"{contract.month}{contract.year}" == self.month

    @property
    def name(self) -> str:
        """``"NQ 5-minute"`` (``"NQZ5 5-minute"`` for one contract month)."""
        return f"{self.family}{self.month or ''} {_span(self.interval)}"

    def describe(self) -> str:
        """``"NQ 5-minute bars 2025-12-02T05:05Z to 2025-12-05T21:55Z"`` (first to last start)."""
        span = f"{self.name} bars"
        if not self.bars:
            return f"{span}, none"
        first, last = self.bars[0].start, self.bars[-1].start
        return f"{span} {first:%Y-%m-%dT%H:%MZ} to {last:%Y-%m-%dT%H:%MZ}"


@dataclass(frozen=True, slots=True)
class MarketData:
    """Every bar series available, and the contract specs that name price families."""

    series: Sequence[BarSeries]
    specs: Mapping[str, ContractSpec]

    def for_symbol(self, symbol: str) -> tuple[BarSeries, ...]:
        """The series that price ``symbol``, finest interval first."""
        found = [s for s in self.series if s.applies_to(symbol, self.specs)]
        return tuple(sorted(found, key=lambda s: s.interval))

    def covering(self, symbol: str, at: datetime) -> tuple[BarSeries, Bar] | None:
        """The finest bar pricing ``symbol`` that covers ``at``, with its series, or ``None``."""
        for series in self.for_symbol(symbol):
            bar = series.covering(at)
            if bar is not None:
                return series, bar
        return None


def _span(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    if seconds % 60 == 0:
        return f"{seconds // 60}-minute"
    return f"{seconds}-second"
