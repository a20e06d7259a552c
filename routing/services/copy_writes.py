"""Writing one leader event's decisions: copy orders and their journal rows.

Called by :func:`routing.services.leader_events.leader_event_ingest` inside
its transaction, once per event for every follower of every group. The
orders go to the database in one statement built from plain values,
sent ahead (:func:`copytrade.core.writes_ahead.inserted_ahead`), and come
back as ``CopyOrder`` instances made as a query makes them
(:func:`copytrade.core.bulk.loaded_rows`), with their related rows cached
and their ids set once the statement has run: at 200 followers, building
each order through the model's keyword constructor and ``bulk_create``'s
per-field preparation cost more than the engine and the database together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from django.db import router
from django.utils import timezone

from copytrade.core.bulk import loaded_rows
from copytrade.core.writes_ahead import inserted_ahead
from journal.models import EventType
from journal.services import JournalRow, journal_row
from routing.engine.types import CopyDecision, DecisionStatus, LeaderFill
from routing.models import CopyGroup, CopyOrder, Follower, LeaderEvent

# The engine's verdict -> the stored status (SEND: PENDING for the order
# router, or SENT when the caller hands the orders to the brokers itself).
_STATUS = {
    DecisionStatus.SEND: CopyOrder.Status.PENDING.value,
    DecisionStatus.BLOCKED: CopyOrder.Status.BLOCKED.value,
    DecisionStatus.SKIPPED: CopyOrder.Status.SKIPPED.value,
}
_PENDING = CopyOrder.Status.PENDING.value
_SENT = CopyOrder.Status.SENT.value
_BLOCKED = CopyOrder.Status.BLOCKED.value

_OPTS = CopyOrder._meta
# Columns that differ per order; every other column is the same for one
# event's orders (the event, timestamps, the model's defaults).
_PER_ORDER = (
    "group",
    "follower",
    "account",
    "client_order_id",
    "symbol",
    "side",
    "qty",
    "intent",
    "status",
    "reason",
    "position_before",
    "target",
)
# Related rows at hand, cached on each order as ``select_related`` would:
# assigning them through the descriptors (router checks per assignment)
# cost more than the engine itself at 200 followers.
_RELATED = tuple(_OPTS.get_field(name) for name in ("leader_event", "group", "follower", "account"))


def _plain(value: Any) -> Any:
    """An enum member's value (TextChoices defaults), as a loaded row holds it."""
    return value.value if isinstance(value, Enum) else value


def _status(decision: CopyDecision, claimed: bool) -> str:
    if claimed and decision.status is DecisionStatus.SEND:
        return _SENT
    return _STATUS[decision.status]


def copy_orders_insert(
    *,
    event: LeaderEvent,
    decided: Sequence[tuple[CopyDecision, CopyGroup, Follower]],
    claimed: bool,
) -> list[CopyOrder]:
    """Store one ``CopyOrder`` per ``(decision, group, follower)`` of
    ``event`` (saved, with its id) in one statement and return them in the
    same order, with the event, group, follower and account cached:
    :func:`copy_orders_send`, waited for."""
    orders, keyed = copy_orders_send(event=event, decided=decided, claimed=claimed)
    keyed()
    return orders


def copy_orders_send(
    *,
    event: LeaderEvent,
    decided: Sequence[tuple[CopyDecision, CopyGroup, Follower]],
    claimed: bool,
    now: datetime | None = None,
) -> tuple[list[CopyOrder], Callable[[], None]]:
    """Send the ``INSERT`` of one ``CopyOrder`` per ``(decision, group,
    follower)`` of ``event`` (ahead, inside
    :func:`copytrade.core.writes_ahead.writes_ahead`) and return the orders,
    in the same order, with the event, group, follower and account cached,
    and a function that sets their ids: call it once the block has ended
    (outside a block the orders are stored at once).

    Status from the decision (SEND is PENDING, or SENT with ``claimed``);
    the order is a market order of kind *copy* with the model's defaults
    elsewhere; ``created_at`` and ``updated_at`` are ``now`` (aware; the
    clock's when not given) for every order: an event sent in several
    calls passes the same instant to each. Raises ``IntegrityError``
    (nothing stored) when an order breaks a constraint (an event decided
    twice), where the block ends.
    """
    if not decided:
        return [], lambda: None
    if now is None:
        now = timezone.now()
    rows = [
        (
            group.pk,
            follower.pk,
            follower.account_id,
            decision.client_order_id,
            decision.symbol,
            decision.side.value,
            decision.qty,
            decision.intent.value,
            _status(decision, claimed),
            decision.reason,
            decision.position_before,
            decision.target,
        )
        for decision, group, follower in decided
    ]
    columns = dict(zip(_PER_ORDER, map(list, zip(*rows, strict=True)), strict=True))
    same: dict[str, Any] = {
        f.name: _plain(f.get_default())
        for f in _OPTS.concrete_fields
        if not f.primary_key and not f.generated and f.name not in columns
    }
    same.update(created_at=now, updated_at=now, leader_event=event.pk)
    keys = inserted_ahead(CopyOrder, columns, same=same)
    # Each order's row as a query would load it: the shared values, then its
    # own; the id once the insert has run.
    shared = {_OPTS.get_field(name).attname: value for name, value in same.items()}
    shared[_OPTS.pk.attname] = None
    own = [_OPTS.get_field(name).attname for name in _PER_ORDER]
    loaded = []
    for row in rows:
        values = shared.copy()
        values.update(zip(own, row, strict=True))
        # As the database computes it (CopyOrder.awaiting_claim).
        values["awaiting_claim"] = values["status"] == _PENDING
        loaded.append(values)
    orders = loaded_rows(CopyOrder, router.db_for_write(CopyOrder), loaded)
    for order, (_, group, follower) in zip(orders, decided, strict=True):
        for field, related in zip(
            _RELATED, (event, group, follower, follower.account), strict=True
        ):
            field.set_cached_value(order, related)
    attname = _OPTS.pk.attname

    def keyed() -> None:
        for order, pk in zip(orders, keys(), strict=True):
            setattr(order, attname, pk)

    return orders, keyed


def decision_journal(
    decision: CopyDecision, order: CopyOrder, group: CopyGroup, fill: LeaderFill
) -> list[JournalRow]:
    """Journal rows (values, for :func:`journal.services.journal_rows_add`)
    for a scaled-down or blocked decision (none otherwise)."""
    blocked = order.status == _BLOCKED
    if decision.scaled_from is None and not blocked:
        return []  # most orders: nothing to journal, nothing to build
    entries = []
    name = order.account.name
    refs = {"client_order_id": order.client_order_id, "leader_event": fill.event_id}

    def entry(event_type: str, message: str, extra: dict[str, Any]) -> JournalRow:
        return journal_row(
            owner_id=group.owner_id,
            event_type=event_type,
            group_id=group.pk,
            account_id=order.account_id,
            actor_label="engine",
            occurred_at=fill.time,
            message=message,
            extra_data=extra,
        )

    if decision.scaled_from is not None:
        entries.append(
            entry(
                EventType.COPY_ORDER_SCALED,
                f"{name}: {order.side} {order.symbol} entry scaled down from "
                f"{decision.scaled_from}: {order.reason}",
                {**refs, "entry_requested": decision.scaled_from},
            )
        )
    if blocked:
        entries.append(
            entry(
                EventType.COPY_ORDER_BLOCKED,
                f"{name}: {order.side} {order.symbol} blocked: {order.reason}",
                refs,
            )
        )
    return entries
