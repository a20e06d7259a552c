"""The reads that open a batch of fills (:func:`journal.fills.fills_record`):
which fills are stored already, and the positions they move, locked.
Both run in one round trip; each is also run alone when its arguments
differ from the ones read ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router

from copytrade.core.array_params import array_param
from copytrade.core.hot_reads import (
    HotRead,
    RawRead,
    ReadAhead,
    Statement,
    ids_param,
    ids_shape,
)
from journal.models import Fill, Position
from routing.engine.positions import Position as EnginePosition

_PRESENT_COLUMNS = (
    "account_id",
    "broker_fill_id",
    "symbol",
    "side",
    "qty",
    "price",
    "filled_at",
    "copy_order_id",
)


def fills_stored_ahead(pairs: Sequence[tuple[int, str]]) -> ReadAhead:
    """The stored fills among ``(account id, broker fill id)`` pairs, as
    ``_PRESENT_COLUMNS`` values: the read, to run or to run ahead.

    On PostgreSQL each pair probes the unique index, one probe each:
    asked as ``account_id = ANY(…) AND broker_fill_id IN (…)``, the planner
    priced the cross product of the two lists (200 accounts x 158 fills for
    one event's answers) and scanned the whole fills table instead, 44 ms
    with a day's fills stored and growing with each one. Joined to the
    pairs, the table was still read whole and hashed while it held less
    than about 60,000 fills (each probe priced as a random read from disk):
    19 ms per 200-follower event's answers before the plan changed. So each
    pair looks its fill up in a ``LATERAL`` subquery whose ``LIMIT`` (one
    row: the pair is unique) keeps it a probe of the index whatever the
    table's size or statistics. SQLite (the embedded default, a few
    followers) keeps the query the ORM writes.
    """
    connection = connections[router.db_for_read(Fill)]
    if connection.vendor != "postgresql":
        return (_present, (sorted({a for a, _ in pairs}), sorted({f for _, f in pairs})))
    return (_present_joined, (connection, list(pairs)))


def _joined(connection: Any, pairs: Sequence[tuple[int, str]]) -> Statement:
    table = connection.ops.quote_name(Fill._meta.db_table)
    columns = ", ".join(f"f.{connection.ops.quote_name(c)}" for c in _PRESENT_COLUMNS)
    return Statement(
        connection,
        f"SELECT {columns} "  # noqa: S608 - names from the model
        "FROM UNNEST(%s::bigint[], %s::varchar[]) AS v (account_id, broker_fill_id) "
        f"CROSS JOIN LATERAL (SELECT {columns} FROM {table} AS f "
        "WHERE f.account_id = v.account_id AND f.broker_fill_id = v.broker_fill_id "
        "LIMIT 1) AS f",
        # Array literals: a thousand answers' ids left to the driver took it
        # 0.8 ms to write out, element by element.
        [array_param([a for a, _ in pairs]), array_param([f for _, f in pairs])],
        [],
    )


_present_joined = RawRead("fills present, joined", _joined)


# Read for every batch of fills (a leader event's, its answers'): compiled once.
_present = HotRead(
    "fills present",
    Fill,
    lambda ids, fill_ids: Fill.objects.filter(
        account_id__any_of=ids, broker_fill_id__in=fill_ids
    ).values_list(*_PRESENT_COLUMNS),
    lambda connection, ids, fill_ids: [*ids_param(connection, ids), *fill_ids],
    shape=lambda connection, ids, fill_ids: (ids_shape(connection, ids), len(fill_ids)),
)
_locked = HotRead(
    "positions locked",
    Position,
    lambda ids, symbols: (
        Position.objects.select_for_update()
        .filter(account_id__any_of=ids, symbol__in=symbols)
        .order_by("pk")
        .values_list("pk", "account_id", "symbol", "qty", "avg_price", "realized_pnl")
    ),
    lambda connection, ids, symbols: [*ids_param(connection, ids), *symbols],
    shape=lambda connection, ids, symbols: (ids_shape(connection, ids), len(symbols)),
    lock=True,
)


def positions_locked_ahead(pairs: Sequence[tuple[int, str]]) -> ReadAhead:
    """:func:`positions_locked`'s read for the same pairs, to run ahead."""
    # A superset of the pairs (every symbol of every account named) keeps
    # the statement small; only the pairs' rows are written back.
    return (_locked, (sorted({a for a, _ in pairs}), sorted({s for _, s in pairs})))


def positions_locked(
    pairs: Sequence[tuple[int, str]],
) -> dict[tuple[int, str], tuple[int, EnginePosition]]:
    """The position rows of ``(account id, contract)`` ``pairs`` that exist,
    locked in pk order: pair -> (row id, position)."""
    wanted = set(pairs)
    read, args = positions_locked_ahead(pairs)
    locked = read(*args)
    return {
        (account_id, symbol): (pk, EnginePosition(qty, avg_price, realized))
        for pk, account_id, symbol, qty, avg_price, realized in locked
        if (account_id, symbol) in wanted
    }
