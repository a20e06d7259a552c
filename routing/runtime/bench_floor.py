"""The database floor of one leader event, measured next to the engine path.

**What is measured.** Per iteration, one transaction with the database
driver alone (the DB-API connection Django opened on the benchmark's scratch
database, so the same settings: on SQLite WAL, ``synchronous=NORMAL`` and the
embedded settings' ``BEGIN IMMEDIATE``; on PostgreSQL the deployment's
connection): ``BEGIN``, one ``INSERT`` of one ``routing_leaderevent`` row
(``RETURNING id``), the N ``routing_copyorder`` rows for it, ``COMMIT``.
PostgreSQL: the orders in one ``COPY ... FROM STDIN`` (text format), the
cheapest bulk load the server has: a 1000-row multi-row ``INSERT`` costs
several times more, most of it psycopg composing or the server parsing a
22,000-value statement, which is not the database's floor. SQLite:
``executemany`` of one ``INSERT`` (one prepared statement, bound per row in
C). No ORM, no lock of the leader, no positions, fills or journal: the least
an ingest that stores the event and its orders must do.

**From where to where.** ``time.perf_counter_ns`` just before ``BEGIN`` to
just after ``COMMIT`` returns. That window also puts the new event's id in
the order rows (SQLite: one list item per row; PostgreSQL: one bytes join of
the pre-rendered COPY lines); everything else (SQL text, column values,
client order ids, COPY lines) is built before the clock starts. Reported in
milliseconds: ``floor_p50_ms``, ``floor_p99_ms`` (nearest rank). The
benchmark runs one right after each of the case's events, warm-up events
included (those not counted), so the floor and the case are measured over
the same minutes (:class:`Floor`).

**Realistic rows, valid keys, nothing left.** The rows are the case's own:
its leader account, copy group and followers (foreign keys hold), an event
id and ``ct-`` client order ids unique per iteration (the unique constraints
hold and are checked), orders SENT with a quantity, an entry intent and
timestamps. Afterwards every inserted row is deleted in one separate,
untimed transaction, and the deletion is checked: the case's own rows are
untouched.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

EXTERNAL_ID_PREFIX = "bench-floor-"


class FloorError(Exception):
    """The floor cannot be measured (schema changed, rows left behind)."""


@dataclass(frozen=True)
class FloorRoute:
    """The case's rows the floor's rows point to."""

    leader_id: int
    group_id: int
    followers: Sequence[tuple[int, int]]  # (follower id, follower account id)


def route_of(leader_id: int, group_id: int) -> FloorRoute:
    """The case's leader, group and followers, read with the ORM (untimed)."""
    from routing.models import Follower

    followers = list(
        Follower.objects.filter(group_id=group_id).order_by("pk").values_list("pk", "account_id")
    )
    return FloorRoute(leader_id=leader_id, group_id=group_id, followers=followers)


class Floor:
    """Floor transactions one at a time (:meth:`time`), on Django's default
    connection of the thread that makes it (its raw driver connection,
    opened here: make it outside any event loop), then their rows deleted
    (:meth:`close`, which checks that none is left).

    The benchmark times one after each leader event of a case, so the
    floor and the engine path are measured over the same minutes: on this
    machine (a virtual machine on a shared host) the same code took from
    25 to 68 ms of processor time per 200-follower event within one hour,
    and a floor measured after the case could meet another machine than
    the case did. Raises :class:`FloorError` when the connection is inside
    a transaction or of an unknown vendor, or when rows are left behind;
    the driver's errors as they come (the transaction rolled back)."""

    def __init__(
        self, route: FloorRoute, *, tag: str, log: Callable[[str], None] = lambda _: None
    ) -> None:
        from django.db import connection

        connection.ensure_connection()
        if not connection.get_autocommit() or connection.in_atomic_block:
            raise FloorError(
                "the floor needs the connection in autocommit, outside any transaction"
            )
        self._connection = connection
        self._vendor = vendor = connection.vendor
        if vendor == "sqlite":
            mode = getattr(connection, "transaction_mode", None)
            self._begin = f"BEGIN {mode}" if mode else "BEGIN"
        elif vendor == "postgresql":
            self._begin = "BEGIN"
        else:
            raise FloorError(f"no floor for database vendor {vendor!r}")
        self._route, self._tag = route, tag
        self._statements = _Statements(vendor, route)
        self._cursor = connection.connection.cursor()
        log(f"floor: transactions of 1 event + {len(route.followers)} orders ({vendor})")

    def time(self, index: int) -> int:
        """One floor transaction (``index`` unique per floor: it names the
        event and its orders' client order ids); its duration in ns."""
        statements, cursor = self._statements, self._cursor
        event_params = statements.event_params(
            self._route, f"{EXTERNAL_ID_PREFIX}{self._tag}-{index}"
        )
        rows = statements.order_rows(self._route, event_key=f"{self._tag}-{index}")
        try:
            started = time.perf_counter_ns()
            cursor.execute(self._begin)
            cursor.execute(statements.event_sql, event_params)
            event_id = cursor.fetchone()[0]
            if self._vendor == "postgresql":
                prefix = str(event_id).encode()
                with cursor.copy(statements.orders_sql) as copy:
                    copy.write(b"".join([prefix + line for line in rows]))
            else:
                for row in rows:
                    row[0] = event_id
                cursor.executemany(statements.orders_sql, rows)
            cursor.execute("COMMIT")
            return time.perf_counter_ns() - started
        except self._connection.Database.Error:
            _rollback(cursor, self._connection.Database.Error)
            raise

    def close(self) -> None:
        """Delete every row of this floor's transactions and check it."""
        try:
            _delete(self._cursor, self._statements, self._begin, self._route.leader_id, self._tag)
        finally:
            self._cursor.close()


class _Statements:
    """SQL text and column values for the two INSERTs, from the models'
    own column lists (a column the floor does not know, with no default,
    stops it: the rows must be what the application would store)."""

    def __init__(self, vendor: str, route: FloorRoute) -> None:
        from django.db import connection

        from routing.models import CopyOrder, LeaderEvent

        self.vendor = vendor
        self._connection = connection
        self._event_fields = _fields(LeaderEvent)
        order_fields = _fields(CopyOrder)
        # leader_event_id first: the one value set inside the timed window.
        order_fields.sort(key=lambda f: f.attname != "leader_event_id")
        self._order_fields = order_fields
        self.placeholder = placeholder = "%s" if vendor == "postgresql" else "?"
        self.event_sql = _insert(LeaderEvent, self._event_fields, placeholder) + " RETURNING id"
        if vendor == "postgresql":
            columns = ", ".join(f'"{f.column}"' for f in order_fields)
            self.orders_sql = f'COPY "{CopyOrder._meta.db_table}" ({columns}) FROM STDIN'
        else:
            self.orders_sql = _insert(CopyOrder, order_fields, placeholder)
        self._now = datetime.now(UTC)
        self._client_id_at = [f.attname for f in order_fields].index("client_order_id")
        self._base_rows = self._order_base(route)

    def event_params(self, route: FloorRoute, external_id: str) -> list[Any]:
        values = {
            "account_id": route.leader_id,
            "external_id": external_id,
            "symbol": "MNQH5",
            "side": "buy",
            "qty": 2,
            "price": Decimal("21500.25"),
            "occurred_at": self._now,
            "source": "bench-floor",
            "seq": None,
            "order_id": "",
            "action": "",
        }
        return self._prepare(self._event_fields, values)

    def order_rows(self, route: FloorRoute, *, event_key: str) -> list[Any]:
        """SQLite: one parameter list per order, ``leader_event_id`` (0
        here) set once the event row exists; PostgreSQL: one COPY text line
        per order without its first column (the event id, written first)."""
        from routing.engine.orders import client_order_id

        route_key, event = str(route.group_id), f"{route.leader_id}:{event_key}"
        rows = []
        for base, (_, account_id) in zip(self._base_rows, route.followers, strict=True):
            row = base.copy()
            row[self._client_id_at] = client_order_id(route_key, event, str(account_id))
            rows.append(row)
        if self.vendor != "postgresql":
            return rows
        return [
            ("\t" + "\t".join(_copy_text(value) for value in row[1:]) + "\n").encode()
            for row in rows
        ]

    def _order_base(self, route: FloorRoute) -> list[list[Any]]:
        """Each follower's order row, prepared once (client order id blank)."""
        rows = []
        for index, (follower_id, account_id) in enumerate(route.followers):
            qty = 1 + index % 3
            values = {
                "kind": "copy",
                "leader_event_id": 0,
                "group_id": route.group_id,
                "follower_id": follower_id,
                "account_id": account_id,
                "client_order_id": "",
                "symbol": "MNQH5",
                "side": "buy",
                "qty": qty,
                "intent": "entry",
                "status": "sent",
                "position_before": 0,
                "target": qty,
            }
            rows.append(self._prepare(self._order_fields, values))
        return rows

    def _prepare(self, fields: Sequence[Any], values: dict[str, Any]) -> list[Any]:
        row = []
        for field in fields:
            if field.attname in ("created_at", "updated_at"):
                value = self._now
            elif field.attname in values:
                value = values[field.attname]
            elif field.has_default() or field.null or (field.blank and field.empty_strings_allowed):
                value = field.get_default()
            else:
                raise FloorError(
                    f"{field.model.__name__}.{field.name} has no default and the floor sets "
                    "no value: update routing/runtime/bench_floor.py"
                )
            row.append(field.get_db_prep_save(value, self._connection))
        return row


def _fields(model: Any) -> list[Any]:
    # A generated column is the database's to write.
    return [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]


def _insert(model: Any, fields: Sequence[Any], placeholder: str) -> str:
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join([placeholder] * len(fields))
    return f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES ({values})'  # noqa: S608


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    raise FloorError(f"no COPY text for {type(value).__name__}: update bench_floor._copy_text")


def _rollback(cursor: Any, driver_error: type[Exception]) -> None:
    # No transaction open when the error came before BEGIN or after COMMIT.
    with contextlib.suppress(driver_error):
        cursor.execute("ROLLBACK")


def _delete(cursor: Any, statements: _Statements, begin: str, leader_id: int, tag: str) -> None:
    """Delete the floor's rows (orders, then events) in one transaction and
    check that none is left."""
    from routing.models import CopyOrder, LeaderEvent

    # Table names from the models and the driver's placeholder: no input.
    orders, events = CopyOrder._meta.db_table, LeaderEvent._meta.db_table
    mark = statements.placeholder
    where = f"account_id = {mark} AND external_id LIKE {mark}"
    select = f'SELECT id FROM "{events}" WHERE {where}'  # noqa: S608
    params = [leader_id, f"{EXTERNAL_ID_PREFIX}{tag}-%"]
    cursor.execute(begin)
    cursor.execute(f'DELETE FROM "{orders}" WHERE leader_event_id IN ({select})', params)  # noqa: S608
    cursor.execute(f'DELETE FROM "{events}" WHERE {where}', params)  # noqa: S608
    cursor.execute("COMMIT")
    cursor.execute(select, params)
    left = cursor.fetchall()
    if left:
        raise FloorError(f"{len(left)} floor event row(s) left after the clean-up")
