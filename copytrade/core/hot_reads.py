"""Reads on the copy path: compiled by the ORM once, then run as plain SQL.

Each leader event runs about a dozen small reads (the leader's lock, the
configuration key, marks, session rows, tracked positions…). On the 2-core
machine the benchmark runs on, the ORM spends about 0.5 ms on each before
and after the database's own work (building the query, compiling it,
iterating the rows): building and compiling 0.26 ms and iterating 0.22 ms
of a 0.8 ms read whose statement alone costs 0.3 ms (measured with
``SessionRealized`` rows of 200 accounts). That is a fifth of a 20-follower
event's time, whatever the database does.

A :class:`HotRead` keeps the ORM's query as the definition: the first call
of each *shape* (database, and the argument lengths that change the SQL,
e.g. SQLite's ``IN`` lists) builds the queryset, compiles it, and checks
that the hand-written parameters equal the ORM's for those arguments; later
calls only run the stored SQL with the new parameters and pass the rows
through the same converters the ORM would apply (SQLite's decimals and
timestamps). A parameter function that drifts from the query raises
``HotReadMismatch`` on the first call of a shape, in tests as in
production: never a read with misplaced values.

:func:`hot_reads_ahead` runs several of them in one round trip (psycopg's
pipeline mode) where a caller knows the statements its functions will run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from threading import local
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.transaction import TransactionManagementError

# Compiled statements kept per read (each a few kilobytes at most).
MAX_SHAPES = 256
_UNSET: Any = object()


class HotReadMismatch(AssertionError):
    """The hand-written parameters of a :class:`HotRead` differ from the ORM's."""


class HotRead[**P]:
    """A ``values_list`` read of ``model`` compiled once per shape, run with
    new values.

    ``build(*args, **kwargs)`` returns the queryset (``values_list``, any
    filters, ``select_for_update``, slicing) for those arguments;
    ``params(connection, *args, **kwargs)`` returns the statement's
    parameters as the compiled SQL takes them on that connection (use
    :func:`ids_param` for an ``any_of`` list and ``connection.ops.adapt_*``
    for dates and times); ``shape(connection, *args, **kwargs)`` returns
    what, besides the database, changes the SQL text (default: nothing;
    :func:`ids_shape` for an ``any_of`` list); ``lock`` says the query
    locks its rows (``select_for_update``: run where writes go, as the
    queryset would be). Calling it returns the rows
    as tuples, converted as the ORM converts them. Raises
    :class:`HotReadMismatch` when the parameters differ from the ORM's on
    a shape's first call, and ``TransactionManagementError`` for a locking
    read outside a transaction (as the ORM does, on every call); a query
    the ORM finds empty before running it (``EmptyResultSet``: an empty
    ``any_of`` on SQLite) returns no rows without a statement.
    """

    def __init__(
        self,
        name: str,
        model: type[Model],
        build: Callable[P, QuerySet[Any, Any]],
        params: Callable[..., list[Any]],
        *,
        shape: Callable[..., Hashable] | None = None,
        lock: bool = False,
    ) -> None:
        self.name = name
        self._model = model
        self._build = build
        self._params = params
        self._shape = shape
        self._locks = lock
        # (database alias, shape) -> (SQL, converters by column), or None: no rows.
        self._compiled: dict[tuple[str, Hashable], _Compiled | None] = {}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[tuple[Any, ...]]:
        statement = self.statement(*args, **kwargs)
        return [] if statement is None else _run(statement)

    def statement(self, *args: P.args, **kwargs: P.kwargs) -> Statement | None:
        """What a call with these arguments runs: the connection, the SQL,
        the parameters and the converters of its rows; ``None`` when the
        ORM finds the read empty before running it. Raises as a call does
        (``HotReadMismatch``, ``TransactionManagementError``)."""
        # A locking read goes where writes go (as the queryset would send it).
        alias = router.db_for_write(self._model) if self._locks else router.db_for_read(self._model)
        connection = connections[alias]
        key = (alias, None if self._shape is None else self._shape(connection, *args, **kwargs))
        # One lookup, kept: another thread may clear the cache meanwhile.
        compiled = self._compiled.get(key, _UNSET)
        if compiled is _UNSET:
            if len(self._compiled) >= MAX_SHAPES:
                # Shapes that vary without bound (lists of any length on SQLite,
                # ``__in`` lists): start over rather than grow for ever.
                self._compiled.clear()
            compiled = self._compiled[key] = self._compile(alias, *args, **kwargs)
        if compiled is None:
            return None
        if self._locks and _locks_nothing(connection):
            # As the ORM refuses it: a lock that ends with the statement is none.
            raise TransactionManagementError(
                f"hot read {self.name}: select_for_update cannot be used outside of a transaction."
            )
        sql, converters = compiled
        return Statement(connection, sql, self._params(connection, *args, **kwargs), converters)

    def _compile(self, alias: str, *args: Any, **kwargs: Any) -> _Compiled | None:
        queryset = self._build(*args, **kwargs)
        if queryset.query.select_for_update != self._locks:
            raise HotReadMismatch(
                f"hot read {self.name}: lock={self._locks} but the query "
                f"{'locks' if queryset.query.select_for_update else 'does not lock'} its rows"
            )
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, orm_params = compiler.as_sql()
        except EmptyResultSet:
            return None
        mine = self._params(connections[alias], *args, **kwargs)
        if list(orm_params) != list(mine):
            raise HotReadMismatch(
                f"hot read {self.name}: parameters {mine!r} differ from the ORM's "
                f"{list(orm_params)!r}"
            )
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return sql, list(compiler.get_converters(fields).items())


_Compiled = tuple[str, list[tuple[int, tuple[list[Any], Any]]]]


@dataclass(frozen=True, slots=True)
class Statement:
    """One run of a :class:`HotRead`: ``sql`` with ``params`` on
    ``connection``, its rows passed through ``converters`` (column
    position -> the ORM's converter functions and expression)."""

    connection: Any
    sql: str
    params: list[Any]
    converters: list[tuple[int, tuple[list[Any], Any]]]

    def key(self) -> Hashable:
        """The statement as a dictionary key: same key, same rows (within
        one transaction, with nothing written in between)."""
        return (self.connection.alias, self.sql, *map(_hashable, self.params))

    def rows(self) -> list[tuple[Any, ...]]:
        """Run the statement now: its rows as the database returns them."""
        with reading_cursor(self.connection) as cursor:
            cursor.execute(self.sql, self.params)
            return cursor.fetchall()

    def converted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` as the ORM would give them (its converters applied)."""
        if not self.converters:
            return rows
        connection, converted = self.connection, []
        for row in rows:
            values = list(row)
            for position, (functions, expression) in self.converters:
                value = values[position]
                for function in functions:
                    value = function(value, expression, connection)
                values[position] = value
            converted.append(tuple(values))
        return converted


def reading_cursor(connection: Any) -> Any:
    """A cursor of ``connection`` (Django's) for a hot read.

    On PostgreSQL, with the session's time zone UTC as Django sets it, its
    timestamps load through psycopg's own loader, in C, instead of Django's,
    which calls that loader from Python and then sets the time zone the
    value already has (UTC): the same value, four times faster; a thousand
    followers' session rows hold three thousand timestamps."""
    cursor = connection.cursor()
    if (
        connection.vendor == "postgresql"
        and connection.timezone is UTC
        and connection.connection.info.parameter_status("TimeZone") == "UTC"
    ):
        from django.db.backends.postgresql.psycopg_any import orig_tz_loader_cls

        cursor.cursor.adapters.register_loader("timestamptz", orig_tz_loader_cls)
    return cursor


def _hashable(value: Any) -> Hashable:
    return tuple(map(_hashable, value)) if isinstance(value, list | tuple) else value


def _locks_nothing(connection: Any) -> bool:
    """A locking read on ``connection`` now would hold no lock past its
    statement (autocommit on a database that locks rows), as the ORM's
    compiler checks before every ``select_for_update``."""
    features = connection.features
    return bool(
        features.has_select_for_update
        and features.supports_transactions
        and connection.get_autocommit()
    )


def ids_param(connection: Any, ids: Sequence[int]) -> list[Any]:
    """The parameters an ``any_of`` lookup sends for ``ids``
    (:class:`copytrade.core.lookups.AnyOf`): one array literal on
    PostgreSQL, one value per id on SQLite."""
    if connection.vendor == "postgresql":
        return [_ids_literal(tuple(ids))]
    return list(ids)


@functools.lru_cache(maxsize=64)
def _ids_literal(ids: tuple[int, ...]) -> str:
    # Each event reads its followers' rows by the same few id lists (every
    # event of a leader alike): a thousand ids written out cost 0.2-0.3 ms,
    # looking them up here 15 µs.
    return "{" + ",".join(map(str, ids)) + "}"


def ids_shape(connection: Any, ids: Sequence[int]) -> Hashable:
    """What an ``any_of`` list changes in the SQL: nothing on PostgreSQL
    (one array parameter), the number of ids on SQLite (one ``%s`` each)."""
    return None if connection.vendor == "postgresql" else len(ids)


# One read to run ahead (:func:`hot_reads_ahead`): the read and its arguments.
type ReadAhead = tuple[HotRead[...] | RawRead[...], tuple[Any, ...]]

# Rows read ahead by :func:`hot_reads_ahead`, per thread: statement key -> rows.
_ahead = local()


class RawRead[**P]:
    """A read whose SQL no queryset writes (a join to ``UNNEST``), run alone
    or ahead like a :class:`HotRead`: ``statement(*args, **kwargs)`` returns
    the :class:`Statement` to run (no converters: the rows are the
    driver's), or ``None`` for no rows without a statement."""

    def __init__(self, name: str, statement: Callable[P, Statement | None]) -> None:
        self.name = name
        self.statement = statement

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[tuple[Any, ...]]:
        statement = self.statement(*args, **kwargs)
        return [] if statement is None else _run(statement)


def _run(statement: Statement) -> list[tuple[Any, ...]]:
    """``statement``'s rows: read ahead in this block, else run now."""
    kept = _prefetched(statement)
    if kept is not None:
        return kept
    return statement.converted(statement.rows())


def _prefetched(statement: Statement) -> list[tuple[Any, ...]] | None:
    kept: dict[Hashable, list[tuple[Any, ...]]] | None = getattr(_ahead, "rows", None)
    if not kept:
        return None
    return kept.pop(statement.key(), None)


@contextmanager
def hot_reads_ahead(calls: Sequence[ReadAhead]) -> Iterator[None]:
    """Run the hot reads ``calls`` (each ``(read, arguments)``) now, in one
    round trip on PostgreSQL (psycopg's pipeline mode: the server runs them
    one after the other, in order, as separate statements would run); on
    SQLite one after the other. Inside the block, the first call of a read
    that would run the same statement (same SQL, same parameters) returns
    those rows instead of running it; later ones run it again.

    Keep the block to the stretch where nothing the transaction writes
    could change the rows read ahead: a row read ahead is the row as it was
    when the block began (or call :func:`hot_reads_forget` after such a
    write). Rows left unused are dropped at the end of the block. A
    statement whose rows an enclosing block holds unused is not run again:
    an outer block can send a later stretch's reads ahead with its own.
    Raises the database's error (Django's, as a cursor would) when a
    statement fails; nothing is kept then.
    """
    kept: dict[Hashable, list[tuple[Any, ...]]] = getattr(_ahead, "rows", None) or {}
    statements = [
        s
        for read, args in calls
        if (s := read.statement(*args)) is not None and s.key() not in kept
    ]
    rows = _run_together(statements)
    added = []
    for statement, found in zip(statements, rows, strict=True):
        key = statement.key()
        if key not in kept:
            kept[key] = statement.converted(found)
            added.append(key)
    _ahead.rows = kept
    try:
        yield
    finally:
        for key in added:
            kept.pop(key, None)


def hot_reads_forget() -> None:
    """Drop every row read ahead and not used yet, in every enclosing block
    of this thread: call it after a write that may change them (their reads
    then run again when called)."""
    kept = getattr(_ahead, "rows", None)
    if kept:
        kept.clear()


def _run_together(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """The raw rows of ``statements`` (all on one connection), in order."""
    if not statements:
        return []
    connection = statements[0].connection
    if any(s.connection is not connection for s in statements):
        raise ValueError("hot reads run ahead together must share one database")
    if connection.vendor != "postgresql" or len(statements) == 1:
        return [statement.rows() for statement in statements]
    cursors = [reading_cursor(connection) for _ in statements]
    try:
        # Errors raised when the pipeline syncs, outside any cursor call,
        # are translated as a cursor's are.
        with connection.wrap_database_errors, connection.connection.pipeline():
            for cursor, statement in zip(cursors, statements, strict=True):
                cursor.execute(statement.sql, statement.params)
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
