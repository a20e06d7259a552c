"""Journal writes. Call inside the transaction of the change being recorded
(Zulip's RealmAuditLog rule): the entry commits or rolls back with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from copytrade.core.bulk import bulk_set
from journal.importers.base import ImportResult
from journal.models import EventType, ExportImport, Fill, JournalEntry, Position, Trade
from routing.engine.types import Side


def journal_entry(
    *,
    owner_id: int,
    event_type: EventType,
    message: str,
    actor_label: str,
    actor_user_id: int | None = None,
    group_id: int | None = None,
    account_id: int | None = None,
    before: Any = None,
    after: Any = None,
    extra_data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> JournalEntry:
    """One journal entry, unsaved: for :func:`journal_entries_add`, which
    writes many in one statement (the hot path journals an event's orders
    together). Arguments as :func:`journal_record`."""
    return JournalEntry(
        occurred_at=occurred_at or timezone.now(),
        owner_id=owner_id,
        actor_user_id=actor_user_id,
        actor_label=actor_label,
        event_type=event_type,
        group_id=group_id,
        account_id=account_id,
        message=message,
        before=before,
        after=after,
        extra_data=extra_data or {},
    )


def journal_entries_add(entries: Sequence[JournalEntry]) -> None:
    """Append unsaved ``entries`` (from :func:`journal_entry`) in one INSERT.

    Call inside the transaction of the change being recorded.
    """
    if entries:
        JournalEntry.objects.bulk_create(entries)


def journal_record(
    *,
    owner_id: int,
    event_type: EventType,
    message: str,
    actor_label: str,
    actor_user_id: int | None = None,
    group_id: int | None = None,
    account_id: int | None = None,
    before: Any = None,
    after: Any = None,
    extra_data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> JournalEntry:
    """Append one journal entry and return it.

    ``message`` is the human sentence shown in the dashboard (it carries the
    reason and numbers); ``before``/``after`` are JSON-able state snapshots.
    """
    entry = journal_entry(
        owner_id=owner_id,
        event_type=event_type,
        message=message,
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        group_id=group_id,
        account_id=account_id,
        before=before,
        after=after,
        extra_data=extra_data,
        occurred_at=occurred_at,
    )
    entry.save()
    return entry


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

    Idempotent on ``(account, broker_fill_id)``: a fill already stored is
    ignored and ``None`` returned. Realized PnL in dollars uses
    ``point_value`` (dollars per point per contract). Locks the position row;
    call inside the caller's transaction.
    """
    stored = fills_record(
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
    return stored[0] if stored else None


def fills_record(fills: Sequence[FillInput]) -> list[Fill]:
    """Store ``fills`` in order and move each account's positions by them,
    with a constant number of statements whatever their count.

    Idempotent on ``(account, broker_fill_id)``: fills already stored (or
    repeated within ``fills``) are skipped. Returns the fills stored. The
    position rows touched are locked (``SELECT ... FOR UPDATE``, in pk order)
    until the caller's transaction ends; call inside it.
    """
    if not fills:
        return []
    stored_ids = set(
        Fill.objects.filter(
            account_id__in={f.account_id for f in fills},
            broker_fill_id__in={f.broker_fill_id for f in fills},
        ).values_list("account_id", "broker_fill_id")
    )
    fresh: list[FillInput] = []
    for fill in fills:
        key = (fill.account_id, fill.broker_fill_id)
        if key not in stored_ids:
            stored_ids.add(key)
            fresh.append(fill)
    if not fresh:
        return []
    pairs = {(f.account_id, f.symbol) for f in fresh}
    Position.objects.bulk_create(
        [Position(account_id=a, symbol=s) for a, s in sorted(pairs)], ignore_conflicts=True
    )
    # A superset of the pairs (every symbol of every account named) keeps
    # the statement small; only the pairs' rows are written back.
    locked = Position.objects.select_for_update().filter(
        account_id__in={a for a, _ in pairs}, symbol__in={s for _, s in pairs}
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
    return Fill.objects.bulk_create(rows)


def positions_mark(
    *, account_ids: list[int] | None, symbol: str, price: Decimal, point_value: Decimal
) -> None:
    """Revalue open positions in ``symbol`` of ``account_ids`` (every account
    when ``None``) at ``price`` (points); two statements whatever their number."""
    rows = Position.objects.select_for_update().filter(symbol=symbol).exclude(qty=0)
    if account_ids is not None:
        rows = rows.filter(account_id__in=account_ids)
    now = timezone.now()
    marked = list(rows.order_by("pk"))
    for position in marked:
        position.mark_price = price
        position.unrealized_pnl = position.to_engine().unrealized_pnl(price, point_value)
        position.updated_at = now  # bulk_update skips auto_now
    if marked:
        bulk_set(marked, ["mark_price", "unrealized_pnl", "updated_at"])


@transaction.atomic
def export_import_create(
    *,
    owner_id: int,
    result: ImportResult,
    actor_label: str,
) -> ExportImport:
    """Keep a parsed export: its leader fills (for replay) and its round-trip
    trades (journal). ``result`` comes from ``journal.importers`` which has
    already refused a bad file whole, so this never stores half a file.

    Trades already imported (same source format, account and external id)
    are kept as they were, so importing a file twice loses and doubles nothing.
    """
    record = ExportImport.objects.create(
        owner_id=owner_id,
        file_name=result.path,
        format=result.format,
        timezone=result.timezone,
        leader_account_name=result.leader_account or "",
        replayable=result.replayable,
        fills=[
            {
                "event_id": f.event_id,
                "account": f.account,
                "symbol": f.symbol,
                "side": f.side.value,
                "qty": f.qty,
                "price": str(f.price),
                "time": f.time.isoformat(),
            }
            for f in result.fills
        ],
        fill_count=len(result.fills),
        trade_count=len(result.trades),
    )
    Trade.objects.bulk_create(
        [
            Trade(
                owner_id=owner_id,
                export_import=record,
                source_format=result.format,
                account_name=t.account,
                external_id=t.external_id,
                symbol=t.symbol,
                side=t.side.value,
                qty=t.qty,
                entry_price=t.entry_price,
                exit_price=t.exit_price,
                pnl=t.pnl,
                fees=t.fees,
                opened_at=t.opened_at,
                closed_at=t.closed_at,
            )
            for t in result.trades
        ],
        ignore_conflicts=True,
    )
    note = "" if result.replayable else f" Not replayable: {result.not_replayable_reason}"
    journal_record(
        owner_id=owner_id,
        event_type=EventType.EXPORT_IMPORTED,
        actor_label=actor_label,
        actor_user_id=owner_id,
        message=(
            f"Imported {result.path} ({result.format}): {len(result.fills)} leader fills, "
            f"{len(result.trades)} trades; zone-less times read as {result.timezone}.{note}"
        ),
        extra_data={"import_id": record.pk, "leader_account": result.leader_account},
    )
    return record
