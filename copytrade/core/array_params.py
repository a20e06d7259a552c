"""Columns as PostgreSQL array parameters, for ``UNNEST`` (:mod:`copytrade.core.bulk`).

psycopg composes a list parameter value by value in Python, which cost
more than the server's work on a 200-row insert; so a column whose
values all have an exact text form travels as one array literal written
here, composed by C loops (``join``) where the column's kind allows. A
column of distinct aware instants (a broker answer's, one per order)
travels as a list in the binary format instead (``%b``): the driver
writes it in C, five times faster than its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

try:
    from psycopg.types.json import Jsonb
except ImportError:  # SQLite only (the embedded default): no arrays are written
    Jsonb = None


def array_params(columns: Sequence[list[Any]]) -> tuple[list[Any], list[str]]:
    """Each column (prepared for the driver) as its array parameter, and
    its placeholder: ``%b`` for a column of distinct aware timestamps,
    which the driver writes in the binary format (a broker answer's
    instants, one per order: five times faster than their text, in C),
    else ``%s`` for :func:`array_param`'s."""
    params, marks = [], []
    for column in columns:
        if _distinct_instants(column):
            params.append(column)
            marks.append("%b")
        else:
            params.append(array_param(column))
            marks.append("%s")
    return params, marks


def _distinct_instants(values: list[Any]) -> bool:
    """Whether ``values`` are aware datetimes, more than one object."""
    if not values or type(values[0]) is not datetime or set(map(type, values)) != {datetime}:
        return False
    return len(set(map(id, values))) > 1 and all(v.tzinfo is not None for v in values)


def array_param(values: list[Any]) -> Any:
    """``values`` (prepared for the driver) as PostgreSQL array literal text
    when every one has an exact text form, else the list as it is (the
    driver adapts it). Text, JSON (the text its own ``dumps`` writes, as the
    driver would send it), timestamps and text choices (their text, as the
    driver sends them) are double-quoted with ``\\`` and ``"`` escaped
    (the array input syntax), ``None`` is ``NULL``."""
    plain = plain_array(values)
    return plain if plain is not None else array_literal(values)


def array_literal(values: list[Any]) -> Any:
    """:func:`array_param` element by element, for any column."""
    parts = []
    append = parts.append
    instant, instant_text = None, ""
    for value in values:
        kind = type(value)
        if kind is int or kind is Decimal:
            append(str(value))  # digits, sign, point, exponent, NaN: nothing to quote
        elif kind is str:
            if "\\" in value or '"' in value:  # inline: the common case, hundreds a column
                value = value.replace("\\", "\\\\").replace('"', '\\"')
            append(f'"{value}"')
        elif kind is Jsonb and value.dumps is not None:
            text = value.dumps(value.obj)
            if type(text) is not str:
                return values
            append(_quoted(text))
        elif value is None:
            append("NULL")
        elif kind is bool:
            append("t" if value else "f")
        elif kind is datetime and value.tzinfo is not None:
            if value is not instant:
                # A column's instants are mostly one object (the event's "now").
                instant, instant_text = value, f'"{value.isoformat()}"'
            append(instant_text)
        elif kind is date:
            append(value.isoformat())
        elif isinstance(value, str):
            # A choice member (a status, an event type): its text is what
            # the driver sends for it, and a list of them left to the
            # driver cost it 0.3 ms per thousand values.
            append(_quoted(str.__str__(value)))
        else:
            return values
    return "{" + ",".join(parts) + "}"


def plain_array(values: list[Any]) -> str | None:
    """The array literal of a column of text needing no escape (or of
    choice members of one kind: their text), or of one
    aware timestamp object for every row (the event's "now"), composed by
    C loops (``join``); ``None`` for any other column. Two hundred values
    a column on the copy path: element by element in Python they cost
    more than the statement (measured: text 51 -> 13 us; numbers gain
    nothing, so they are left to the element loop)."""
    if not values:
        return "{}"
    first = values[0]
    kind = type(first)
    if issubclass(kind, str):
        # Text, or one kind of choice member (their text joins as text).
        if set(map(type, values)) != {kind}:
            return None
        joined = "".join(values)
        if "\\" in joined or '"' in joined:
            return None
        return '{"' + '","'.join(values) + '"}'
    if kind is datetime and first.tzinfo is not None and len(set(map(id, values))) == 1:
        return "{" + ",".join([f'"{first.isoformat()}"'] * len(values)) + "}"
    return None


def _quoted(text: str) -> str:
    """``text`` as a double-quoted array element."""
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
