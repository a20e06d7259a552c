"""Round trips and fills for tests, at times given in America/Chicago."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pilots.trades import RoundTrip
from routing.engine.types import LeaderFill, Side

CHICAGO = ZoneInfo("America/Chicago")


def ct(year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0
       ) -> datetime:
    """An aware UTC time given as America/Chicago wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=CHICAGO).astimezone(UTC)


def trip(pnl: str | int, closed_at: datetime, *, symbol: str = "MNQZ5",
         side: Side = Side.BUY, qty: int = 1, rows: tuple[int, ...] = ()) -> RoundTrip:
    """A round trip of ``pnl`` dollars closed at ``closed_at``."""
    return RoundTrip(symbol=symbol, side=side, qty=qty, pnl=Decimal(pnl), closed_at=closed_at,
                     opened_at=closed_at, rows=rows)


def fill(event_id: str, side: Side, qty: int, price: str, time: datetime,
         symbol: str = "MNQZ5") -> LeaderFill:
    """A leader fill on account ``"pilot"``."""
    return LeaderFill(event_id=event_id, account="pilot", symbol=symbol, side=side, qty=qty,
                      price=Decimal(price), time=time)
