"""A leader event's row, stored in the round trip of the leader's lock.

The ingest (:func:`routing.services.leader_events.leader_event_ingest`)
locks the leader's row, reads the route configuration key and the leader's
fills still pending, then stores the event. The ``INSERT … RETURNING`` goes
to the server in the same round trip, after those statements (the server
runs them in order, so the row is written under the lock), and its id comes
back with their rows: one round trip and the ORM's ``create`` (about 1 ms at
each event on the 2-core machine) fewer. A re-delivered event breaks the
unique ``(account, external_id)`` constraint there, as ``create`` did; a
lease lost since (the lock reads no row) fails the transaction, so the row
is never kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connections, router
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.bulk import insert_statements, loaded
from copytrade.core.hot_reads import RawRead, ReadAhead, Statement
from routing.engine.types import LeaderFill
from routing.models import LeaderEvent

_OPTS = LeaderEvent._meta


def leader_event_insert_ahead(
    account_id: int,
    fill: LeaderFill,
    *,
    source: str,
    received_at: datetime | None,
    fill_pending: bool,
) -> ReadAhead:
    """The ``INSERT`` of ``fill``'s event on leader ``account_id``, to run
    ahead with the lock (:func:`copytrade.core.hot_reads.hot_reads_ahead`);
    :func:`leader_event_stored` takes its row. Values as the ingest stores
    them (``received_at`` aware or ``None``); ``created_at`` and
    ``updated_at`` now."""
    now = timezone.now()
    values = {
        "created_at": now,
        "updated_at": now,
        "account": account_id,
        "external_id": fill.event_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "qty": fill.qty,
        "price": fill.price,
        "occurred_at": fill.time,
        "source": source,
        "received_at": received_at,
        "seq": fill.seq,
        "order_id": fill.order_id or "",
        "action": "",
        "fill_pending": fill_pending,
    }
    return (_inserted, (tuple(values.items()),))


def leader_event_stored(ahead: ReadAhead, account: BrokerAccount) -> LeaderEvent:
    """The event ``ahead`` (:func:`leader_event_insert_ahead`) stored: its
    row, with its id and ``account`` (the leader's locked row) cached. Run
    inside the block that sent it (else it is inserted now)."""
    read, args = ahead
    ((pk,),) = read(*args)
    values = dict(args[0])
    row = [pk if f.primary_key else values[f.name] for f in _OPTS.concrete_fields]
    event = loaded(LeaderEvent, router.db_for_write(LeaderEvent), row)
    _OPTS.get_field("account").set_cached_value(event, account)
    return event


def _statement(values: tuple[tuple[str, Any], ...]) -> Statement:
    # The bulk module's INSERT (each value prepared as save() would), for one row.
    pk = connections[router.db_for_write(LeaderEvent)].ops.quote_name(_OPTS.pk.column)
    connection, statements = insert_statements(
        LeaderEvent, {name: [value] for name, value in values}, {}, f"RETURNING {pk}"
    )
    ((sql, params),) = statements
    return Statement(connection, sql, params, [])


# An INSERT whose returned id the ingest takes like a read's rows.
_inserted = RawRead("leader event stored", _statement)
