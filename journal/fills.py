"""Fills: executions stored in the journal, positions moved by them.

Idempotent on ``(account, broker fill id)``; a fill id re-used with other
content is returned as a :class:`FillConflict` (or raised by
:func:`fill_record`), never stored or dropped silently (issue 10, defect 1).
Call inside the caller's transaction (Zulip's RealmAuditLog rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.utils import timezone

from copytrade.core.bulk import bulk_accumulate, bulk_insert, bulk_set_columns
from copytrade.core.hot_reads import ReadAhead, hot_reads_ahead
from copytrade.core.writes_ahead import inserted_ahead
from journal.fill_reads import fills_stored_ahead, positions_locked, positions_locked_ahead
from journal.models import Fill, Position, SessionRealized
from routing.engine.positions import Position as EnginePosition
from routing.engine.sessions import trading_date
from routing.engine.types import Side

# A position row before its first fill (the model's defaults).
_FLAT: dict[str, Any] = {
    "qty": 0,
    "avg_price": Decimal(0),
    "realized_pnl": Decimal(0),
    "mark_price": None,
    "unrealized_pnl": Decimal(0),
}


@dataclass(frozen=True, slots=True)
class FillInput:
    """One execution to store: ``side`` "buy"/"sell", ``qty`` contracts > 0,
    ``price`` in points, ``point_value`` dollars per point per contract,
    ``filled_at`` aware UTC; ``copy_order_id`` when it fills a copy order."""

    account_id: int
    broker_fill_id: str
    symbol: str
    side: str
    qty: int
    price: Decimal
    point_value: Decimal
    filled_at: datetime
    copy_order_id: int | None = None


@dataclass(frozen=True, slots=True)
class FillConflict:
    """A broker fill id the account already has, received with other content.

    ``received`` was not stored; ``stored`` is what the id holds (the journal
    row, or the first fill of the same batch with that id). Content is
    symbol, side, qty, price, time and copy order: a real re-delivery repeats
    all of them, so any difference means the broker re-used the id for
    another execution (the paper broker did, counting from 1 after each
    restart).
    """

    received: FillInput
    stored: FillInput

    def describe(self) -> str:
        """``"fill paper-1: stored buy 1 MNQH6 @ 21000 at 2026-03-03T15:30:00+00:00
        (copy order 7), received sell 2 ..."`` (prices in points, times UTC)."""
        return (
            f"fill {self.received.broker_fill_id}: stored {_content_text(self.stored)}, "
            f"received {_content_text(self.received)}"
        )

    def numbers(self) -> dict[str, Any]:
        """Both contents as JSON-ready figures (for a journal entry)."""
        return {
            "fill_id": self.received.broker_fill_id,
            "stored": _content_numbers(self.stored),
            "received": _content_numbers(self.received),
        }


class FillIdReusedError(Exception):
    """Raised by :func:`fill_record` for a :class:`FillConflict` (in ``conflict``)."""

    def __init__(self, conflict: FillConflict) -> None:
        super().__init__(f"broker fill id re-used with other content: {conflict.describe()}")
        self.conflict = conflict


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A fill :func:`fills_record` stored: what was received and the dollars
    it realized on its position (0 when it opened or added)."""

    fill: FillInput
    realized_pnl: Decimal

    @property
    def broker_fill_id(self) -> str:
        return self.fill.broker_fill_id

    @property
    def qty(self) -> int:
        return self.fill.qty


@dataclass(frozen=True, slots=True)
class FillsRecorded:
    """What :func:`fills_record` did: the fills ``stored`` (journal rows, in
    the order received) and the ``conflicts`` (fills not stored: their id
    holds other content)."""

    stored: list[StoredFill]
    conflicts: list[FillConflict]


def _content(fill: FillInput) -> tuple[object, ...]:
    return (fill.symbol, fill.side, fill.qty, fill.price, fill.filled_at, fill.copy_order_id)


def _content_text(fill: FillInput) -> str:
    order = f" (copy order {fill.copy_order_id})" if fill.copy_order_id is not None else ""
    return (
        f"{fill.side} {fill.qty} {fill.symbol} @ {_plain(fill.price)} "
        f"at {fill.filled_at.isoformat()}"
        f"{order}"
    )


def _content_numbers(fill: FillInput) -> dict[str, Any]:
    return {
        "symbol": fill.symbol,
        "side": fill.side,
        "qty": fill.qty,
        "price": str(_plain(fill.price)),
        "filled_at": fill.filled_at.isoformat(),
        "copy_order_id": fill.copy_order_id,
    }


def _plain(price: Decimal) -> Decimal:
    """``21000.000000`` -> ``21000``, ``21001.250000`` -> ``21001.25``: the
    stored and the received price written alike, as people write them."""
    price = price.normalize()
    return price.quantize(Decimal(1)) if price == price.to_integral_value() else price


def fill_record(
    *,
    account_id: int,
    broker_fill_id: str,
    symbol: str,
    side: str,
    qty: int,
    price: Decimal,
    point_value: Decimal,
    filled_at: datetime,
    copy_order_id: int | None = None,
) -> StoredFill | None:
    """Store one execution and move the account's position by it.

    Idempotent on ``(account, broker_fill_id)``: the same fill already
    stored is ignored and ``None`` returned. Raises :class:`FillIdReusedError`
    (nothing stored) when the id holds a fill with other content. Realized
    PnL in dollars uses ``point_value`` (dollars per point per contract).
    Locks the position row; call inside the caller's transaction.
    """
    recorded = fills_record(
        [
            FillInput(
                account_id=account_id,
                broker_fill_id=broker_fill_id,
                symbol=symbol,
                side=side,
                qty=qty,
                price=price,
                point_value=point_value,
                filled_at=filled_at,
                copy_order_id=copy_order_id,
            )
        ]
    )
    if recorded.conflicts:
        raise FillIdReusedError(recorded.conflicts[0])
    return recorded.stored[0] if recorded.stored else None


def fills_record(fills: Sequence[FillInput]) -> FillsRecorded:
    """Store ``fills`` in order and move each account's positions by them,
    with a constant number of statements whatever their count.

    Idempotent on ``(account, broker_fill_id)``: a fill already stored (or
    repeated within ``fills``) with the same content is skipped. One whose
    id holds other content (see :class:`FillConflict`) is not stored either,
    and is returned in ``conflicts`` for the caller to raise as an incident:
    storing it under the old id is impossible, and dropping it silently left
    positions and PnL wrong. The position rows touched are locked
    (``SELECT ... FOR UPDATE``, in pk order) until the caller's transaction
    ends; call inside it. Rows are read and written as plain values (no
    model instances): the broker answers of a 200-follower event spent most
    of their time building ``Fill`` and ``Position`` objects.
    """
    if not fills:
        return FillsRecorded([], [])
    reads = fills_record_ahead([(f.account_id, f.broker_fill_id, f.symbol) for f in fills])
    with hot_reads_ahead(reads):
        stored, _ = reads
        fresh, conflicts = _fresh(fills, stored[0](*stored[1]))
        if not fresh:
            return FillsRecorded([], conflicts)
        pairs = sorted({(f.account_id, f.symbol) for f in fresh})
        books = positions_locked(pairs)
    return _fills_write(fresh, conflicts, pairs, books)


def fills_record_ahead(keys: Iterable[tuple[int, str, str]]) -> list[ReadAhead]:
    """The reads :func:`fills_record` starts with for fills ``keys``
    (``(account id, broker fill id, contract)``), to send ahead in a
    caller's round trip (:func:`copytrade.core.hot_reads.hot_reads_ahead`)
    with nothing written in between: which are stored already (their
    content comes with the ids: no statement per fill), then the positions
    of every fill, locked. Usually every fill is new, and the lock of a
    repeat's position is held anyway."""
    named = list(keys)
    return [
        fills_stored_ahead(sorted({(account, fill_id) for account, fill_id, _ in named})),
        positions_locked_ahead(sorted({(account, symbol) for account, _, symbol in named})),
    ]


class _Sorted(NamedTuple):
    fresh: list[FillInput]
    conflicts: list[FillConflict]


def _fresh(fills: Sequence[FillInput], present: Sequence[tuple[Any, ...]]) -> _Sorted:
    """``fills`` sorted into the ones to store and the conflicts, given the
    stored fills ``present`` (:func:`journal.fill_reads.fills_stored_ahead`'s rows)."""
    known: dict[tuple[int, str], FillInput] = {
        (account_id, fill_id): FillInput(
            account_id=account_id,
            broker_fill_id=fill_id,
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            point_value=Decimal(0),  # not stored, not content
            filled_at=filled_at,
            copy_order_id=copy_order_id,
        )
        for account_id, fill_id, symbol, side, qty, price, filled_at, copy_order_id in present
    }
    fresh: list[FillInput] = []
    conflicts: list[FillConflict] = []
    for fill in fills:
        key = (fill.account_id, fill.broker_fill_id)
        stored = known.get(key)
        if stored is None:
            known[key] = fill
            fresh.append(fill)
        elif _content(stored) != _content(fill):
            conflicts.append(FillConflict(received=fill, stored=stored))
    return _Sorted(fresh, conflicts)


def _fills_write(
    fresh: list[FillInput],
    conflicts: list[FillConflict],
    pairs: list[tuple[int, str]],
    books: dict[tuple[int, str], tuple[int, EnginePosition]],
) -> FillsRecorded:
    """Store the ``fresh`` fills, moving the positions ``books`` (locked,
    by ``(account, contract)`` of ``pairs``) and the session totals."""
    now = timezone.now()
    # A contract an account never traded has no row yet: made flat, then
    # locked like the others (usually none, so usually no statement).
    missing = [pair for pair in pairs if pair not in books]
    if missing:
        bulk_insert(
            Position,
            {"account": [a for a, _ in missing], "symbol": [s for _, s in missing]},
            same={**_FLAT, "created_at": now, "updated_at": now},
            ignore_conflicts=True,
        )
        books.update(positions_locked(missing))
    stored_fills: list[StoredFill] = []
    last: dict[tuple[int, str], FillInput] = {}  # each position is marked at its last fill
    for fill in fresh:
        key = (fill.account_id, fill.symbol)
        pk, book = books[key]
        book, realized = book.apply_fill(Side(fill.side), fill.qty, fill.price, fill.point_value)
        books[key] = (pk, book)
        last[key] = fill
        stored_fills.append(StoredFill(fill=fill, realized_pnl=realized))
    keys = list(books)
    bulk_set_columns(
        Position,
        [books[k][0] for k in keys],
        {
            "qty": [books[k][1].qty for k in keys],
            "avg_price": [books[k][1].avg_price for k in keys],
            "realized_pnl": [books[k][1].realized_pnl for k in keys],
            "mark_price": [last[k].price for k in keys],
            "unrealized_pnl": [
                books[k][1].unrealized_pnl(last[k].price, last[k].point_value) for k in keys
            ],
            "updated_at": [now] * len(keys),
        },
    )
    inserted_ahead(  # sent ahead inside writes_ahead (the ids are not needed)
        Fill,
        {
            "account": [s.fill.account_id for s in stored_fills],
            "copy_order": [s.fill.copy_order_id for s in stored_fills],
            "broker_fill_id": [s.fill.broker_fill_id for s in stored_fills],
            "symbol": [s.fill.symbol for s in stored_fills],
            "side": [s.fill.side for s in stored_fills],
            "qty": [s.fill.qty for s in stored_fills],
            "price": [s.fill.price for s in stored_fills],
            "realized_pnl": [s.realized_pnl for s in stored_fills],
            "filled_at": [s.fill.filled_at for s in stored_fills],
        },
        same={"created_at": now, "updated_at": now},
    )
    session_realized_add(
        [(s.fill.account_id, s.fill.filled_at, s.realized_pnl) for s in stored_fills]
    )
    return FillsRecorded(stored_fills, conflicts)


def session_realized_add(fills: Sequence[tuple[int, datetime, Decimal]]) -> None:
    """Count stored fills, ``(account id, aware filled_at, realized
    dollars)``, in the running totals of their accounts' trading sessions
    (:class:`journal.models.SessionRealized`), in the caller's transaction:
    one statement. :func:`fills_record` calls it for every fill it stores
    (a repeat is never stored, so never counted twice); nothing else
    should store fills."""
    if not fills:
        return
    totals: dict[tuple[int, date], tuple[Decimal, int]] = {}
    for account_id, filled_at, realized_pnl in fills:
        key = (account_id, trading_date(filled_at))
        realized, count = totals.get(key, (Decimal(0), 0))
        totals[key] = (realized + realized_pnl, count + 1)
    keys = list(totals)
    now = timezone.now()
    bulk_accumulate(
        SessionRealized,
        {"account": [a for a, _ in keys], "trading_date": [d for _, d in keys]},
        {
            "realized_pnl": [totals[k][0] for k in keys],
            "fills": [totals[k][1] for k in keys],
        },
        same={"created_at": now, "updated_at": now},
        replace=["updated_at"],
    )
