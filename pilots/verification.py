"""Per-row verification of a pilot's record: timestamps and prices.

Pure: the caller passes the rows, the bars (:mod:`pilots.bars`), the tick
sizes and the time of the check (no clock read here). Each export row (a
fill, or a paired trade with an entry and an exit) gets a :class:`RowResult`:

* ``verified``: every execution in it passed every check;
* ``failed``: at least one check failed (each failure names the check, the
  execution and why, with the numbers);
* ``unverifiable``: nothing failed, but a check could not be made (no price
  in the export, no bar covering the time, no tick size). Never verified:
  without evidence a row does not count (fail closed).

Checks, in order:

1. **Trading hours** (``trading_hours``): CME Globex, Sunday 17:00 to Friday
   16:00 America/Chicago, with the daily 16:00-17:00 maintenance halt
   (shared/data/SOURCES.md section 8; CME Globex trading hours). The window
   is ``[17:00, 16:00)``: a fill stamped 16:00:00 or later is in the halt.
   Exchange holidays and the equity 15:15-15:30 halt are not modelled (a fill
   then passes this check; the price check still needs a bar for it).
2. **Not in the future** (``not_in_future``): the time is at most
   :attr:`VerificationPolicy.clock_tolerance` after the row was received (or,
   for an export, after the check).
3. **Not backdated** (``not_backdated``): for a fill received live, at most
   :attr:`VerificationPolicy.max_backdate` before it was received. An export
   row has no receive time (its history is labelled imported and never ranks)
   and is not held to this check.
4. **Price range** (``price_range``): the price lies within the covering
   bar's low-high range widened by
   :attr:`VerificationPolicy.tick_allowance` ticks each side (bars of 1
   minute to 1 hour; a fill can print a tick beyond a bar built from another
   feed's prints). Micro and mini share bars (MNQ is priced by NQ bars).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from pilots.bars import MarketData
from routing.engine.sessions import CHICAGO
from routing.engine.symbols import SymbolError, root_of

GLOBEX_OPEN = time(17, 0)
GLOBEX_CLOSE = time(16, 0)


class Status(StrEnum):
    """Outcome of one row."""

    VERIFIED = "verified"  # every check made and passed
    FAILED = "failed"  # at least one check failed
    UNVERIFIABLE = "unverifiable"  # nothing failed, but a check could not be made


class Check(StrEnum):
    """The checks, by the code shown with a failure."""

    TRADING_HOURS = "trading_hours"
    NOT_IN_FUTURE = "not_in_future"
    NOT_BACKDATED = "not_backdated"
    PRICE_RANGE = "price_range"


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """Tolerances of the checks, each documented with why.

    ``clock_tolerance`` (2 s): broker and server clocks are NTP-synchronised
    to well under a second; 2 s allows for a broker's timestamp granularity
    (whole seconds in Tradovate's and NinjaTrader's exports) and skew,
    while a fill stamped later than that after it arrived cannot be real.
    ``max_backdate`` (15 min): a live fill reaches Copytrade within seconds
    on a stream, or at the latest through reconciliation after a broker
    reconnect; a fill first seen more than 15 minutes after its time is
    history being added after the fact. ``tick_allowance`` (1 tick): the
    issue's rule; bars from a data vendor can miss a single print at the
    extreme of the bar.
    """

    clock_tolerance: timedelta = timedelta(seconds=2)
    max_backdate: timedelta = timedelta(minutes=15)
    tick_allowance: int = 1


@dataclass(frozen=True, slots=True)
class Execution:
    """One price at one time in a row: ``label`` ``"fill"``, ``"entry"`` or ``"exit"``.

    ``price`` in points, ``None`` when the export states none (TopstepX);
    ``time`` aware UTC.
    """

    label: str
    time: datetime
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One export row to verify: its 1-based ``row`` (header = 1), contract and executions.

    ``received_at`` (aware UTC) is when a live fill arrived; ``None`` for a row
    read from an export (see the backdating check).
    """

    row: int
    symbol: str
    executions: tuple[Execution, ...]
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A failed or impossible check: which, on which execution, and why (with numbers)."""

    check: Check
    execution: str
    reason: str


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one row: ``failures`` when failed, ``missing`` when a check was not made."""

    row: int
    symbol: str
    status: Status
    failures: tuple[Finding, ...] = ()
    missing: tuple[Finding, ...] = field(default=())


def globex_closed_reason(at: datetime) -> str | None:
    """Why CME Globex was closed at ``at`` (aware), or ``None`` when it was open.

    Open Sunday 17:00 to Friday 16:00 America/Chicago, except the daily
    16:00-17:00 halt. Raises ``ValueError`` for a naive time.
    """
    if at.tzinfo is None:
        raise ValueError("globex_closed_reason needs a timezone-aware datetime")
    local = at.astimezone(CHICAGO)
    clock, weekday = local.time(), local.weekday()  # Monday = 0 ... Sunday = 6
    stamp = f"{local:%a %Y-%m-%d %H:%M:%S} CT"
    if weekday == 5 or (weekday == 6 and clock < GLOBEX_OPEN):
        return f"{stamp} is in the weekend close (Friday 16:00 to Sunday 17:00 CT)"
    if weekday == 4 and clock >= GLOBEX_CLOSE:
        return f"{stamp} is in the weekend close (Friday 16:00 to Sunday 17:00 CT)"
    if GLOBEX_CLOSE <= clock < GLOBEX_OPEN:
        return f"{stamp} is in the daily halt (16:00 to 17:00 CT)"
    return None


def timestamp_findings(
    execution: Execution, *, checked_at: datetime, received_at: datetime | None,
    policy: VerificationPolicy,
) -> list[Finding]:
    """Failures of the trading-hours, future and backdating checks for one execution."""
    found = []
    closed = globex_closed_reason(execution.time)
    if closed is not None:
        found.append(Finding(Check.TRADING_HOURS, execution.label, closed))
    reference = received_at if received_at is not None else checked_at
    if execution.time > reference + policy.clock_tolerance:
        ahead = execution.time - reference
        found.append(Finding(
            Check.NOT_IN_FUTURE, execution.label,
            f"time {execution.time.isoformat()} is {_duration(ahead)} after it was "
            f"{'received' if received_at is not None else 'checked'} "
            f"({reference.isoformat()}; tolerance {_duration(policy.clock_tolerance)})",
        ))
    if received_at is not None and execution.time < received_at - policy.max_backdate:
        behind = received_at - execution.time
        found.append(Finding(
            Check.NOT_BACKDATED, execution.label,
            f"time {execution.time.isoformat()} is {_duration(behind)} before it was received "
            f"({received_at.isoformat()}; at most {_duration(policy.max_backdate)})",
        ))
    return found


def price_finding(
    execution: Execution, symbol: str, *, market: MarketData,
    tick_sizes: Mapping[str, Decimal], policy: VerificationPolicy,
) -> tuple[Finding | None, Finding | None]:
    """``(failure, missing)`` of the price-range check: at most one is not ``None``."""
    label = execution.label
    if execution.price is None:
        return None, Finding(Check.PRICE_RANGE, label, "the export states no price")
    try:
        tick = tick_sizes.get(root_of(symbol))
    except SymbolError:
        tick = None
    if tick is None:
        return None, Finding(Check.PRICE_RANGE, label, f"no tick size for {symbol}")
    covered = market.covering(symbol, execution.time)
    if covered is None:
        available = "; ".join(s.describe() for s in market.for_symbol(symbol))
        return None, Finding(
            Check.PRICE_RANGE, label,
            f"no bar covers {execution.time.isoformat()} for {symbol} "
            f"({available or 'no market data for this contract'})",
        )
    series, bar = covered
    widen = tick * policy.tick_allowance
    low, high = bar.low - widen, bar.high + widen
    if low <= execution.price <= high:
        return None, None
    return Finding(
        Check.PRICE_RANGE, label,
        f"price {execution.price} is outside the {series.name} bar "
        f"starting {bar.start.isoformat()}: low {bar.low} - high {bar.high}, widened by "
        f"{policy.tick_allowance} tick ({tick}) to {low} - {high}",
    ), None


def verify_row(
    row: RecordRow, *, market: MarketData, tick_sizes: Mapping[str, Decimal],
    checked_at: datetime, policy: VerificationPolicy | None = None,
) -> RowResult:
    """Run every check on every execution of ``row`` (see the module docstring).

    ``tick_sizes`` maps roots to tick sizes in points; ``checked_at`` (aware)
    is the time of the check. Raises ``ValueError`` for a naive time.
    """
    policy = policy or VerificationPolicy()
    failures: list[Finding] = []
    missing: list[Finding] = []
    for execution in row.executions:
        failures.extend(timestamp_findings(
            execution, checked_at=checked_at, received_at=row.received_at, policy=policy,
        ))
        failed, absent = price_finding(
            execution, row.symbol, market=market, tick_sizes=tick_sizes, policy=policy,
        )
        failures.extend([failed] if failed else [])
        missing.extend([absent] if absent else [])
    if failures:
        status = Status.FAILED
    elif missing or not row.executions:
        status = Status.UNVERIFIABLE
    else:
        status = Status.VERIFIED
    return RowResult(row.row, row.symbol, status, tuple(failures), tuple(missing))


def verify_rows(
    rows: Iterable[RecordRow], *, market: MarketData, tick_sizes: Mapping[str, Decimal],
    checked_at: datetime, policy: VerificationPolicy | None = None,
) -> tuple[RowResult, ...]:
    """:func:`verify_row` for each row, in the given order."""
    return tuple(
        verify_row(row, market=market, tick_sizes=tick_sizes, checked_at=checked_at,
                   policy=policy)
        for row in rows
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{seconds} s"] if seconds or not parts else []
    return " ".join(parts)
