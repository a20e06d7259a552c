"""Writes sent without waiting for the server, on PostgreSQL (pipeline mode).

A leader event's writes (its copy orders, its followers' marks and expected
positions, its journal rows) need nothing back from the server but the
orders' ids, and those only once every write is sent. Sent one at a time,
each waits for the server: at a thousand followers the inserted orders'
foreign-key checks and the two updates held the event some 50 ms while the
worker's process had work of its own to do (building the journal rows and
the brokers' requests). Inside :func:`writes_ahead` the connection is in
psycopg's pipeline mode: a statement is sent and the block goes on, so the
server runs the writes while Python builds what comes next, and the block's
end waits for all of them.

Only the bulk writes of :mod:`copytrade.core.bulk` go ahead: nobody reads
their outcome before the block ends (an ``UPDATE``'s row count is -1, an
``INSERT``'s ids come from :func:`inserted_ahead`'s handle). Any other
statement (a Django ``save()`` or ``update()``, which reads its row count;
a savepoint) waits for its own outcome, and for every write before it, as
it would outside the block: its row count is right and its error, or an
earlier write's, is raised where it runs. A read runs, waiting for the
writes before it. So a block may open before the rare write that must
wait (a session reset, a halt) is known, and the common writes still go
ahead. Foreign
keys are checked as each statement runs (``SET CONSTRAINTS ALL
IMMEDIATE``, back to deferred at the block's end), not at the commit, so
their checks run while Python works too; an error is raised, as Django's,
where the block ends (or where a result is fetched), and the caller's
transaction is rolled back as for any failed statement.

On SQLite (the embedded default) the block changes nothing: each statement
runs as it is sent. Source: PostgreSQL's libpq pipeline mode
(https://www.postgresql.org/docs/current/libpq-pipeline-mode.html) and
psycopg's (https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from threading import local
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router

# The alias of the connection whose writes are being sent ahead, per thread.
_state = local()


def writing_ahead(connection: Any) -> bool:
    """Whether ``connection`` (a Django connection) is inside :func:`writes_ahead`."""
    return getattr(_state, "alias", None) == connection.alias


@contextmanager
def writes_ahead(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Send the block's bulk writes without waiting for each (see the
    module docstring); wait for all of them at the end, raising the first error
    (Django's ``IntegrityError``, ``DatabaseError``). Must run inside
    ``transaction.atomic``: raises ``RuntimeError`` otherwise, since a write
    left in flight outside a transaction would commit on its own. A block
    inside another changes nothing (the outer one waits)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or writing_ahead(connection):
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("writes_ahead needs a transaction (transaction.atomic)")
    connection.ensure_connection()
    with (
        connection.wrap_database_errors,
        connection.connection.pipeline() as pipeline,
        connection.execute_wrapper(functools.partial(_counted_writes_wait, connection, pipeline)),
    ):
        _state.alias = connection.alias
        try:
            _constraints(connection, "IMMEDIATE")
            yield
            _constraints(connection, "DEFERRED")
        finally:
            _state.alias = None


@contextmanager
def bulk_statement() -> Iterator[None]:
    """Mark the statements run inside as bulk writes that read no row count
    before the block ends (:mod:`copytrade.core.bulk`'s), so
    :func:`writes_ahead` lets them through."""
    before = getattr(_state, "bulk", False)
    _state.bulk = True
    try:
        yield
    finally:
        _state.bulk = before


def _counted_writes_wait(
    connection: Any,
    pipeline: Any,
    execute: Callable[..., Any],
    sql: str,
    params: Any,
    many: bool,
    context: Any,
) -> Any:
    # A bulk write or a read goes as it is (a read waits for its rows by
    # itself). Any other statement (a save(), an update(), a savepoint)
    # waits for its own outcome, so its row count and errors are where the
    # code that made it looks for them.
    if getattr(_state, "bulk", False) or sql.lstrip()[:6].upper() in ("SELECT", "SET CO"):
        return execute(sql, params, many, context)
    result = execute(sql, params, many, context)
    with connection.wrap_database_errors:
        pipeline.sync()
    return result


def _constraints(connection: Any, when: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS ALL {when}")


def inserted_ahead(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> Callable[[], list[Any]]:
    """:func:`copytrade.core.bulk.bulk_insert`, sent ahead inside
    :func:`writes_ahead`: returns a function that returns the rows' primary
    keys in row order, to call once the block has ended (called inside it,
    it waits for every write sent before). Outside the block, or on SQLite,
    the rows are inserted now and the function returns their keys. Raises
    ``ValueError`` when the column lengths differ; the database's errors
    where the block ends (or now, when not sent ahead)."""
    from copytrade.core.bulk import bulk_insert, insert_statements

    connection = connections[router.db_for_write(model)]
    names = list(columns)
    if not writing_ahead(connection) or not names or not columns[names[0]]:
        keys = bulk_insert(model, columns, same=same)
        return lambda: keys
    pk = connection.ops.quote_name(model._meta.pk.column)
    _, statements = insert_statements(model, columns, same or {}, f"RETURNING {pk}")
    (sql, params) = statements[0]  # one statement on PostgreSQL
    cursor = connection.cursor()
    with bulk_statement():
        cursor.execute(sql, params)

    def keys() -> list[Any]:
        try:
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()

    return keys
