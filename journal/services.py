"""Journal writes. Call inside the transaction of the change being recorded
(Zulip's RealmAuditLog rule): the entry commits or rolls back with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Required, TypedDict, Unpack

from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone

from copytrade.core.bulk import bulk_insert, bulk_set_columns
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from copytrade.core.writes_ahead import inserted_ahead
from journal.importers.base import ImportResult
from journal.models import EventType, ExportImport, JournalEntry, Position, Trade
from routing.engine.positions import Position as EnginePosition


class JournalFields(TypedDict, total=False):
    """What one journal entry says, the keyword arguments of
    :func:`journal_row`, :func:`journal_entry` and :func:`journal_record`.

    ``message`` is the human sentence shown in the dashboard (it carries the
    reason and numbers); ``actor_label`` who or what acted (``"engine"``,
    ``"broker"``, a user name); ``before``/``after`` JSON-able state
    snapshots; ``extra_data`` JSON-able figures; ``occurred_at`` aware,
    now when left out.
    """

    owner_id: Required[int]
    event_type: Required[EventType | str]
    message: Required[str]
    actor_label: Required[str]
    actor_user_id: int | None
    group_id: int | None
    account_id: int | None
    before: Any
    after: Any
    extra_data: dict[str, Any] | None
    occurred_at: datetime | None


def journal_entry(**fields: Unpack[JournalFields]) -> JournalEntry:
    """One journal entry, unsaved: for :func:`journal_entries_add`, which
    writes many in one statement. Arguments: :class:`JournalFields`."""
    return JournalEntry(**journal_row(**fields)._asdict())


class JournalRow(NamedTuple):
    """One journal entry's columns as values, in the model's field order, for
    :func:`journal_rows_add`: the copy path journals hundreds of orders per
    leader event, and a model instance per row cost more than its INSERT."""

    occurred_at: datetime
    owner_id: int
    actor_user_id: int | None
    actor_label: str
    event_type: str
    group_id: int | None
    account_id: int | None
    message: str
    before: Any
    after: Any
    extra_data: dict[str, Any]


def journal_row(**fields: Unpack[JournalFields]) -> JournalRow:
    """The row :func:`journal_entry` would build, as values (``event_type``
    as its text). Arguments: :class:`JournalFields`."""
    extra_data = fields.get("extra_data")
    return JournalRow(
        fields.get("occurred_at") or timezone.now(),
        fields["owner_id"],
        fields.get("actor_user_id"),
        fields["actor_label"],
        str(fields["event_type"]),  # an EventType member's text is its value
        fields.get("group_id"),
        fields.get("account_id"),
        fields["message"],
        fields.get("before"),
        fields.get("after"),
        extra_data or {},
    )


# Every column of a journal row (the id comes back from the INSERT).
_ENTRY_FIELDS = tuple(f.name for f in JournalEntry._meta.concrete_fields if not f.primary_key)


def journal_entries_add(entries: Sequence[JournalEntry]) -> None:
    """Append unsaved ``entries`` (from :func:`journal_entry`) in one INSERT;
    each gets its id, as ``bulk_create`` would give it.

    Call inside the transaction of the change being recorded. Written from
    the entries' values as they are (:func:`copytrade.core.bulk.bulk_insert`):
    the ORM's per-row preparation cost more than the statement on the copy
    path.
    """
    if not entries:
        return
    pks = bulk_insert(
        JournalEntry, {name: [getattr(e, name) for e in entries] for name in _ENTRY_FIELDS}
    )
    for entry, pk in zip(entries, pks, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = router.db_for_write(JournalEntry)


def journal_rows_add(rows: Sequence[JournalRow]) -> list[int]:
    """Append ``rows`` (from :func:`journal_row`) in one INSERT, as
    :func:`journal_entries_add` appends entries, and return their ids in
    row order (none: nothing written, ``[]``). Call inside the transaction
    of the change being recorded."""
    return journal_rows_send(rows)()


def journal_rows_send(rows: Sequence[JournalRow]) -> Callable[[], list[int]]:
    """:func:`journal_rows_add`, sent ahead inside
    :func:`copytrade.core.writes_ahead.writes_ahead` (written now outside
    it): returns a function that returns the rows' ids, to call once the
    block has ended."""
    if not rows:
        return list
    columns = zip(*rows, strict=True)
    return inserted_ahead(
        JournalEntry,
        {name: list(column) for name, column in zip(_ENTRY_FIELDS, columns, strict=True)},
    )


def journal_record(**fields: Unpack[JournalFields]) -> JournalEntry:
    """Append one journal entry and return it. Arguments: :class:`JournalFields`."""
    entry = journal_entry(**fields)
    entry.save()
    return entry


def _open_positions(symbol: str) -> QuerySet[Position, tuple[Any, ...]]:
    """Open positions in ``symbol``, locked in pk order, as the mark reads them."""
    return (
        Position.objects.select_for_update()
        .filter(symbol=symbol)
        .exclude(qty=0)
        .order_by("pk")
        .values_list(
            "pk", "qty", "avg_price", "realized_pnl", "account_id", "mark_price", "unrealized_pnl"
        )
    )


# Every leader event marks its followers' positions (compiled once).
_open_locked = HotRead(
    "open positions locked",
    Position,
    _open_positions,
    lambda connection, symbol: [symbol, 0],
    lock=True,
)
_open_locked_of = HotRead(
    "open positions of accounts locked",
    Position,
    lambda symbol, ids: _open_positions(symbol).filter(account_id__any_of=ids),
    lambda connection, symbol, ids: [symbol, 0, *ids_param(connection, ids)],
    shape=lambda connection, symbol, ids: ids_shape(connection, ids),
    lock=True,
)


class PositionsMarked(NamedTuple):
    """What :func:`positions_mark` changed: ``moved``, the ids of the
    accounts whose mark moved (their pages show it); ``unrealized``, account
    id -> how much its stored unrealized PnL changed (dollars, every account
    marked, zero included)."""

    moved: list[int]
    unrealized: dict[int, Decimal]


def positions_mark(
    *, account_ids: list[int] | None, symbol: str, price: Decimal, point_value: Decimal
) -> PositionsMarked:
    """Revalue open positions in ``symbol`` of ``account_ids`` (every account
    when ``None``) at ``price`` (points); two statements whatever their number
    (the rows are locked, read as values and written back in one UPDATE)."""
    marked, store = positions_revalued(
        account_ids=account_ids, symbol=symbol, price=price, point_value=point_value
    )
    store()
    return marked


def positions_revalued(
    *, account_ids: list[int] | None, symbol: str, price: Decimal, point_value: Decimal
) -> tuple[PositionsMarked, Callable[[], None]]:
    """:func:`positions_mark`'s figures, and the write that stores them, to
    call later in the same transaction (the rows are locked by the read):
    a leader event works out its followers' risk with the figures and sends
    the write with its orders (:mod:`copytrade.core.writes_ahead`)."""
    locked, args = positions_mark_ahead(account_ids=account_ids, symbol=symbol)
    read = locked(*args)
    if not read:
        return PositionsMarked([], {}), lambda: None
    unrealized = [
        EnginePosition(qty=qty, avg_price=avg, realized_pnl=realized).unrealized_pnl(
            price, point_value
        )
        for _, qty, avg, realized, *_ in read
    ]

    def store() -> None:
        now = timezone.now()  # bulk writes skip auto_now
        bulk_set_columns(
            Position,
            [pk for pk, *_ in read],
            {
                "mark_price": [price] * len(read),
                "unrealized_pnl": unrealized,
                "updated_at": [now] * len(read),
            },
        )

    changed: dict[int, Decimal] = {}
    for (*_, account_id, _, before), after in zip(read, unrealized, strict=True):
        changed[account_id] = changed.get(account_id, Decimal(0)) + after - before
    marked = PositionsMarked(
        [account_id for *_, account_id, mark, _ in read if mark != price], changed
    )
    return marked, store


def positions_mark_ahead(*, account_ids: list[int] | None, symbol: str) -> ReadAhead:
    """:func:`positions_mark`'s read (it locks the rows) for the same
    accounts and contract, to run ahead
    (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    if account_ids is None:
        return (_open_locked, (symbol,))
    return (_open_locked_of, (symbol, account_ids))


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
