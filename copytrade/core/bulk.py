"""Write many rows' columns in one statement.

Django's ``bulk_update`` builds one ``CASE WHEN pk = … THEN …`` per row and
field and resolves every branch as an expression: on the copy path (one
event, 200 followers) that cost tens of milliseconds of Python before the
database saw anything. :func:`bulk_set` sends the new values as one
``VALUES`` list joined on the primary key instead, which PostgreSQL and
SQLite (3.33+, ``UPDATE … FROM``) both run as one statement; on PostgreSQL
the values travel as one array per column (``UNNEST``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, models, router


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
    targets = [opts.get_field(name) for name in names]
    pk = opts.pk
    using = router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    cast = connection.vendor == "postgresql"

    columns = ["_pk", *(f.column for f in targets)]
    values: list[list[Any]] = [[] for _ in columns]
    for obj in objs:
        if type(obj) is not model or obj.pk is None:
            raise ValueError(f"bulk_set needs saved {model.__name__} rows, got {obj!r}")
        values[0].append(pk.get_db_prep_value(obj.pk, connection))
        for i, field in enumerate(targets, start=1):
            values[i].append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    table = quote(opts.db_table)
    greatest = "GREATEST" if cast else "MAX"  # SQLite's two-argument MAX is a scalar
    keep = set(never_lower)

    def assign(field: Any) -> str:
        col = quote(field.column)
        if field.name in keep:
            return f"{col} = {greatest}({table}.{col}, v.{col})"
        return f"{col} = v.{col}"

    assignments = ", ".join(assign(f) for f in targets)
    names = ", ".join(quote(c) for c in columns)
    if cast:
        # One array per column: a handful of parameters whatever the row
        # count, so the driver does not parse a statement that grows with it.
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *targets])
        source = f"UNNEST({arrays}) AS v ({names})"
        params: list[Any] = values
        sql = (
            f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608
            f"WHERE {table}.{quote(pk.column)} = v._pk"
        )
    else:
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        params = [column[i] for i in range(len(objs)) for column in values]
        sql = (
            f"WITH v ({names}) AS (VALUES {', '.join([row_sql] * len(objs))}) "  # noqa: S608
            f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote(pk.column)} = v._pk"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
