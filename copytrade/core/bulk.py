"""Write many rows in one statement, without the ORM's per-row machinery.

Django's ``bulk_update`` builds one ``CASE WHEN pk = … THEN …`` per row and
field and resolves every branch as an expression, and ``bulk_create`` runs
each field's ``pre_save`` and preparation per row through the SQL compiler:
on the copy path (one event, 200 followers) that cost tens of milliseconds
of Python before the database saw anything. Here the values travel as
columns: on PostgreSQL one array per column (``UNNEST``, a handful of
parameters whatever the row count, so the driver does not compose a
statement that grows with it); on SQLite (the embedded default) one
``VALUES`` list.

- :func:`bulk_set` stores some columns of many saved rows (``UPDATE … FROM``,
  SQLite 3.33+), given model instances; :func:`bulk_set_columns` the same
  from plain values, without instances.
- :func:`bulk_insert` inserts many rows and returns their primary keys
  (``INSERT … RETURNING``, SQLite 3.35+).
- :func:`bulk_accumulate` adds to running totals keyed by a unique
  constraint, creating missing rows (``INSERT … ON CONFLICT DO UPDATE``).
- :func:`loaded` makes the instance of a row written here, as a query
  would load it, without the constructor's per-field work.

Values are prepared as ``save()`` would, except that an ``int``, ``str``,
``bool`` or ``None`` for an integer, text or boolean column (or a foreign
key to an integer key), or a finite ``Decimal`` for a decimal column, goes
to the driver as it is: that is all the field would do with it, and the
check costs a fraction of the call; a column holding one object for every
row (a timestamp) is prepared once. On
PostgreSQL a column whose prepared values are all plain (integers, text,
decimals, booleans, dates, aware datetimes, JSON with its encoder, ``None``)
travels as one array literal, or distinct aware instants as a binary list
(:mod:`copytrade.core.array_params`): psycopg composes a list parameter
value by value in Python, which cost more than the server's work on a
200-row insert.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from django.db import connections, models, router
from django.db.models import signals
from django.db.models.base import ModelState

from copytrade.core.array_params import array_params
from copytrade.core.writes_ahead import bulk_statement, writing_ahead

# A text type's length modifier: ``varchar(100)`` -> ``varchar``.
_LENGTH = re.compile(r"^(varchar)\(\d+\)$")

# The value types each field's preparation returns unchanged, by field type.
_INTEGER = frozenset({int, type(None)})
_TEXT = frozenset({str, type(None)})
_PLAIN: dict[str, frozenset[type]] = {
    **dict.fromkeys(
        [
            "AutoField",
            "BigAutoField",
            "SmallAutoField",
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "PositiveIntegerField",
            "PositiveBigIntegerField",
            "PositiveSmallIntegerField",
        ],
        _INTEGER,
    ),
    "CharField": _TEXT,
    "TextField": _TEXT,
    "BooleanField": frozenset({bool, type(None)}),
}


def bulk_set(
    objs: Sequence[models.Model], fields: Iterable[str], *, never_lower: Iterable[str] = ()
) -> int:
    """Store ``fields`` of every object in ``objs`` (saved rows of one model)
    in one ``UPDATE``; returns the rows matched. Values are taken from the
    objects as they are (``auto_now`` does not apply: set ``updated_at``
    yourself) and prepared by each field as ``save()`` would. A field named
    in ``never_lower`` keeps its stored value when that is greater (a mark
    that only rises, written by concurrent passes). Raises ``ValueError`` for
    an object without a primary key or of another model.
    """
    if not objs:
        return 0
    model = type(objs[0])
    opts = model._meta
    names = list(fields)
    for obj in objs:
        if type(obj) is not model or obj.pk is None:
            raise ValueError(f"bulk_set needs saved {model.__name__} rows, got {obj!r}")
    attnames = {name: opts.get_field(name).attname for name in names}
    return bulk_set_columns(
        model,
        [obj.pk for obj in objs],
        {name: [getattr(obj, attname) for obj in objs] for name, attname in attnames.items()},
        never_lower=never_lower,
    )


def bulk_set_columns(
    model: type[models.Model],
    pks: Sequence[Any],
    columns: Mapping[str, Sequence[Any]],
    *,
    never_lower: Iterable[str] = (),
) -> int:
    """Store, for each primary key in ``pks`` (rows of ``model``), the values
    at the same index in ``columns`` (field name -> one value per key), in
    one ``UPDATE``; returns the rows matched (-1 inside
    :func:`copytrade.core.writes_ahead.writes_ahead`: sent, not yet run).
    As :func:`bulk_set` otherwise
    (prepared as ``save()`` would, no ``auto_now``, ``never_lower``). Raises
    ``ValueError`` when a column's length is not the keys'.
    """
    if not pks:
        return 0
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = opts.pk
    targets = [opts.get_field(name) for name in columns]
    values = [_prepared(pk, pks, connection)]
    for field, column in zip(targets, columns.values(), strict=True):
        if len(column) != len(pks):
            raise ValueError(f"{field.name}: {len(column)} values for {len(pks)} rows")
        values.append(_prepared(field, column, connection))
    table = quote(opts.db_table)
    postgres = connection.vendor == "postgresql"
    greatest = "GREATEST" if postgres else "MAX"  # SQLite's two-argument MAX is a scalar
    keep = set(never_lower)

    def assign(field: Any) -> str:
        col = quote(field.column)
        if field.name in keep:
            return f"{col} = {greatest}({table}.{col}, v.{col})"
        return f"{col} = v.{col}"

    assignments = ", ".join(assign(f) for f in targets)
    names = ", ".join(["_pk", *(quote(f.column) for f in targets)])
    if postgres:
        params, marks = array_params(values)
        source = f"UNNEST({_arrays([pk, *targets], connection, marks)}) AS v ({names})"
        sql = (
            f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608
            f"WHERE {table}.{quote(pk.column)} = v._pk"
        )
    else:
        row_sql = "(" + ", ".join(["%s"] * len(values)) + ")"
        params = [column[i] for i in range(len(pks)) for column in values]
        sql = (
            f"WITH v ({names}) AS (VALUES {', '.join([row_sql] * len(pks))}) "  # noqa: S608
            f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote(pk.column)} = v._pk"
        )
    with connection.cursor() as cursor, bulk_statement():
        cursor.execute(sql, params)
        # Sent ahead, the count is not known before the block ends: -1, as
        # PEP 249 has a cursor say it (copytrade.core.writes_ahead).
        return -1 if writing_ahead(connection) else cursor.rowcount


def bulk_insert(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    ignore_conflicts: bool = False,
) -> list[Any]:
    """Insert rows of ``model`` and return their primary keys, in row order.

    ``columns`` maps field names to one value per row (every list as long as
    the first; no rows: nothing written, ``[]``); ``same`` maps field names
    to the one value of every row (a timestamp, a constant), prepared once.
    Name every column without a database default: field defaults,
    ``auto_now`` and ``pre_save`` do not apply, nor do signals. One
    statement on PostgreSQL; on SQLite one per batch of rows that fits the
    connection's parameter limit. Raises ``ValueError`` when the column
    lengths differ; the database's errors (constraints) as they come.
    With ``ignore_conflicts`` a row that breaks a unique constraint is left
    out (``ON CONFLICT DO NOTHING``, race-safe) and only the keys of the rows
    inserted come back, so they no longer line up with the rows.
    """
    names = list(columns)
    if not names or not columns[names[0]]:
        return []
    pk = connections[router.db_for_write(model)].ops.quote_name(model._meta.pk.column)
    tail = f"ON CONFLICT DO NOTHING RETURNING {pk}" if ignore_conflicts else f"RETURNING {pk}"
    return _insert(model, columns, same or {}, tail)


def loaded[M: models.Model](model: type[M], db: str, values: Sequence[Any]) -> M:
    """An instance of ``model`` as a query loads it from a row of ``db``:
    ``values`` for every concrete field, in the model's field order
    (:func:`loaded_rows`). Raises ``ValueError`` when a value is missing."""
    return loaded_rows(model, db, [dict(zip(attnames(model), values, strict=True))])[0]


def loaded_rows[M: models.Model](
    model: type[M], db: str, rows: Sequence[Mapping[str, Any]]
) -> list[M]:
    """Instances of ``model`` as a query loads them from rows of ``db``, one
    per row: each maps every concrete field's attribute name (``account_id``
    for a foreign key) to its value.

    ``Model.from_db`` without its per-field ``setattr`` (most of the cost of
    an ingest's thousand copy orders): the values go straight to the
    instances' attributes, where the constructor puts them. A model with
    ``post_init`` receivers (which this would skip) goes through
    ``from_db``. Raises ``ValueError`` when the first row's names are not
    exactly the model's (the rest are made alike, unchecked).
    """
    if not rows:
        return []
    names = attnames(model)
    if set(rows[0]) != set(names) or len(rows[0]) != len(names):
        raise ValueError(
            f"{model.__name__} rows name {sorted(rows[0])}, not its fields {sorted(names)}"
        )
    if signals.post_init.has_listeners(model):
        return [model.from_db(db, None, [row[name] for name in names]) for row in rows]
    instances = []
    new = object.__new__
    for row in rows:
        instance = new(model)
        instance.__dict__.update(row)
        state = ModelState()
        state.adding = False
        state.db = db
        instance._state = state
        instances.append(instance)
    return instances


@functools.cache
def attnames(model: type[models.Model]) -> tuple[str, ...]:
    """Attribute names of ``model``'s concrete fields, in field order (``account_id``
    for a foreign key): the order :func:`loaded` takes a row's values in."""
    return tuple(f.attname for f in model._meta.concrete_fields)


def bulk_accumulate(
    model: type[models.Model],
    keys: Mapping[str, Sequence[Any]],
    add: Mapping[str, Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    replace: Sequence[str] = (),
) -> None:
    """Add to running totals of ``model``, one row per key, creating the
    rows that do not exist yet: ``INSERT … ON CONFLICT (key columns) DO
    UPDATE SET total = stored total + new``, race-safe.

    ``keys`` maps the fields of a unique constraint to one value per row;
    ``add`` maps the numeric fields to add to one value per row; ``same``
    the one value of every row (timestamps), of which the ``replace`` fields
    overwrite the stored value on conflict (``updated_at``). Rows are
    written in key order, so concurrent calls lock rows in the same order
    (no deadlock between them). Raises ``ValueError`` when a key repeats
    (PostgreSQL refuses to update a row twice in one statement: sum first)
    or the column lengths differ.
    """
    names = list(keys)
    if not names or not keys[names[0]]:
        return
    rows = list(zip(*keys.values(), *add.values(), strict=True))
    width = len(names)
    if len({row[:width] for row in rows}) != len(rows):
        raise ValueError(f"bulk_accumulate: a key of {', '.join(names)} repeats")
    rows.sort(key=lambda row: row[:width])
    columns = dict(zip([*names, *add], map(list, zip(*rows, strict=True)), strict=True))
    opts = model._meta
    quote = connections[router.db_for_write(model)].ops.quote_name
    table = quote(opts.db_table)
    target = ", ".join(quote(opts.get_field(name).column) for name in names)
    sums = [
        f"{c} = {table}.{c} + EXCLUDED.{c}" for c in (quote(opts.get_field(n).column) for n in add)
    ]
    sets = [f"{c} = EXCLUDED.{c}" for c in (quote(opts.get_field(n).column) for n in replace)]
    _insert(
        model,
        columns,
        same or {},
        f"ON CONFLICT ({target}) DO UPDATE SET {', '.join([*sums, *sets])}",
    )


def _insert(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any],
    tail: str,
) -> list[Any]:
    """``INSERT`` the rows of ``columns`` (with ``same``) ending with
    ``tail`` (a conflict clause, ``RETURNING``); what it returns, if anything."""
    connection, statements = insert_statements(model, columns, same, tail)
    return _returned(connection, statements, returning="RETURNING" in tail)


def insert_statements(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any],
    tail: str,
) -> tuple[Any, list[tuple[str, list[Any]]]]:
    """The connection and the statements (SQL, parameters) that ``INSERT``
    the rows of ``columns`` (with ``same``, prepared once) ending with
    ``tail``: one on PostgreSQL, one per batch on SQLite. Raises
    ``ValueError`` when the column lengths differ."""
    names = list(columns)
    count = len(columns[names[0]])
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [opts.get_field(name) for name in names]
    values = []
    for field, column in zip(fields, columns.values(), strict=True):
        if len(column) != count:
            raise ValueError(f"{field.name}: {len(column)} values for {count} rows")
        values.append(_prepared(field, column, connection))
    constants = [(opts.get_field(name), value) for name, value in same.items()]
    fixed = [field.get_db_prep_save(value, connection) for field, value in constants]
    target = ", ".join(quote(f.column) for f in [*fields, *(f for f, _ in constants)])
    table = quote(opts.db_table)
    if connection.vendor == "postgresql":
        casts = "".join(f", %s::{_cast_type(f, connection)}" for f, _ in constants)
        arrays, marks = array_params(values)
        sql = (
            f"INSERT INTO {table} ({target}) SELECT v.*{casts} "  # noqa: S608
            f"FROM UNNEST({_arrays(fields, connection, marks)}) AS v {tail}"
        )
        # The rows come back in the order UNNEST produced them (as Django's
        # own bulk_create relies on).
        return connection, [(sql, [*fixed, *arrays])]
    width = len(fields) + len(fixed)
    limit = connection.features.max_query_params or 999
    batch = max(1, limit // width)
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    statements = []
    for start in range(0, count, batch):
        rows = range(start, min(start + batch, count))
        sql = (
            f"INSERT INTO {table} ({target}) "  # noqa: S608
            f"VALUES {', '.join([row_sql] * len(rows))} {tail}"
        )
        statements.append((sql, [v for i in rows for v in (*(c[i] for c in values), *fixed)]))
    return connection, statements


def _returned(
    connection: Any, statements: Sequence[tuple[str, list[Any]]], *, returning: bool
) -> list[Any]:
    keys: list[Any] = []
    with connection.cursor() as cursor, bulk_statement():
        for sql, params in statements:
            cursor.execute(sql, params)
            if returning:
                # Fetched, not looked up in the description: sent ahead
                # (copytrade.core.writes_ahead) a statement has none yet.
                keys.extend(row[0] for row in cursor.fetchall())
    return keys


def _arrays(fields: Sequence[Any], connection: Any, marks: Sequence[str]) -> str:
    """One ``%s::type[]`` parameter per field (``marks``: ``%s``, or ``%b``
    for one sent in the binary format), for ``UNNEST``."""
    return ", ".join(
        f"{mark}::{_cast_type(f, connection)}[]" for f, mark in zip(fields, marks, strict=True)
    )


def _cast_type(field: Any, connection: Any) -> str:
    """The column's type for a parameter's cast, without a text length:
    PostgreSQL cuts a value cast explicitly to ``varchar(n)`` to n
    characters without a word, whereas storing it in the column refuses it
    ("value too long"), as the ORM's own statements do. A fill id cut short
    could be another fill's. Worked out once per field and database kind:
    every bulk statement of the copy path asks it for every column."""
    by_vendor = _CAST_TYPES.get(field)
    if by_vendor is None:
        by_vendor = _CAST_TYPES[field] = {}
    cast = by_vendor.get(connection.vendor)
    if cast is None:
        cast = by_vendor[connection.vendor] = _LENGTH.sub(r"\1", field.db_type(connection))
    return cast


# Field -> database kind -> cast type. Weak: a field held here would keep its
# model and that model's app registry alive (a model made at run time, a
# migration's historical model).
_CAST_TYPES: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()


def _prepared(field: Any, values: Sequence[Any], connection: Any) -> list[Any]:
    """``values`` of ``field`` as the driver takes them (see the module docstring)."""
    prepare: Callable[[Any, Any], Any] = field.get_db_prep_save
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()
    plain = _PLAIN.get(kind)
    if plain is not None:
        return [v if type(v) in plain else prepare(v, connection) for v in values]
    if kind == "DecimalField":
        # A finite Decimal is what the field makes of it (a copy, every
        # backend's adapter passes it on); anything else is validated there.
        return [
            v if type(v) is Decimal and v.is_finite() else prepare(v, connection) for v in values
        ]
    if kind == "DateTimeField" and connection.vendor == "postgresql":
        # An aware datetime is what the field makes of it on PostgreSQL (no
        # conversion, the driver sends its offset); a naive one is made
        # aware there, with Django's warning. A broker answer's three
        # instants per order cost more prepared one by one than the update.
        return [
            v if type(v) is datetime and v.tzinfo is not None else prepare(v, connection)
            for v in values
        ]
    first = values[0]
    if all(v is first for v in values):
        # One object for every row (a timestamp, a price): prepared once.
        return [prepare(first, connection)] * len(values)
    return [prepare(v, connection) for v in values]
