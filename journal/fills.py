"""Fills: executions stored in the journal, positions moved by them.

Idempotent on ``(account, broker fill id)``; a fill id re-used with other
content is returned as a :class:`FillConflict` (or raised by
:func:`fill_record`), never stored or dropped silently (issue 10, defect 1).
Call inside the caller's transaction (Zulip's RealmAuditLog rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from copytrade.core.bulk import bulk_set
from journal.models import Fill, Position
from routing.engine.types import Side


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
class FillsRecorded:
    """What :func:`fills_record` did: the fills ``stored`` (journal rows) and
    the ``conflicts`` (fills not stored: their id holds other content)."""

    stored: list[Fill]
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
) -> Fill | None:
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
    ends; call inside it.
    """
    if not fills:
        return FillsRecorded([], [])
    # The stored content comes with the ids, in the one read: no statement per fill.
    present = Fill.objects.filter(
        account_id__any_of=sorted({f.account_id for f in fills}),
        broker_fill_id__in={f.broker_fill_id for f in fills},
    ).only(
        "account_id",
        "broker_fill_id",
        "symbol",
        "side",
        "qty",
        "price",
        "filled_at",
        "copy_order_id",
    )
    known: dict[tuple[int, str], FillInput] = {
        (row.account_id, row.broker_fill_id): FillInput(
            account_id=row.account_id,
            broker_fill_id=row.broker_fill_id,
            symbol=row.symbol,
            side=row.side,
            qty=row.qty,
            price=row.price,
            point_value=Decimal(0),  # not stored, not content
            filled_at=row.filled_at,
            copy_order_id=row.copy_order_id,
        )
        for row in present
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
    if not fresh:
        return FillsRecorded([], conflicts)
    pairs = {(f.account_id, f.symbol) for f in fresh}
    Position.objects.bulk_create(
        [Position(account_id=a, symbol=s) for a, s in sorted(pairs)], ignore_conflicts=True
    )
    # A superset of the pairs (every symbol of every account named) keeps
    # the statement small; only the pairs' rows are written back.
    locked = Position.objects.select_for_update().filter(
        account_id__any_of=sorted({a for a, _ in pairs}), symbol__in={s for _, s in pairs}
    )
    positions = {
        (p.account_id, p.symbol): p
        for p in locked.order_by("pk")
        if (p.account_id, p.symbol) in pairs
    }
    rows = []
    for fill in fresh:
        position = positions[(fill.account_id, fill.symbol)]
        book, realized = position.to_engine().apply_fill(
            Side(fill.side), fill.qty, fill.price, fill.point_value
        )
        position.qty = book.qty
        position.avg_price = book.avg_price
        position.realized_pnl = book.realized_pnl
        position.mark_price = fill.price
        position.unrealized_pnl = book.unrealized_pnl(fill.price, fill.point_value)
        rows.append(
            Fill(
                account_id=fill.account_id,
                copy_order_id=fill.copy_order_id,
                broker_fill_id=fill.broker_fill_id,
                symbol=fill.symbol,
                side=fill.side,
                qty=fill.qty,
                price=fill.price,
                realized_pnl=realized,
                filled_at=fill.filled_at,
            )
        )
    now = timezone.now()
    for position in positions.values():
        position.updated_at = now
    bulk_set(
        list(positions.values()),
        ["qty", "avg_price", "realized_pnl", "mark_price", "unrealized_pnl", "updated_at"],
    )
    return FillsRecorded(Fill.objects.bulk_create(rows), conflicts)
