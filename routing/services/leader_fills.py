"""The leader's own fills, recorded after its copies are handed over.

A leader fill moves the leader's journal position, which the leader's next
event reads as its position before (:mod:`routing.services.leader_decisions`).
The order router's ingest records it in the event's transaction. The engine
worker's ingest instead stores the event with ``fill_pending`` set and
records the fill with the event's broker answers, in their transaction
(:func:`routing.services.order_results.event_answers_record`), or alone
when there are none: five statements (the fill, the leader's position,
its session PnL) fewer between the leader's event and its copies' hand-off.

Nothing may decide on a position that misses a fill, so the leader's next
ingest reads the pending events under the leader's lock, in the lock's
round trip, and records them before anything is decided
(:func:`leader_fills_settle`); recovery does the same for every leader a
worker takes over, so the cockpit shows the leader's position at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import transaction

from accounts.models import BrokerAccount
from copytrade.core.bulk import bulk_set_columns
from copytrade.core.hot_reads import HotRead, ReadAhead
from journal.fills import FillConflict, FillInput, fills_record
from routing.engine.symbols import spec_of
from routing.engine.types import ContractSpec as EngineSpec
from routing.models import LeaderEvent
from routing.selectors import engine_contract_specs
from routing.services.answer_locks import leaders_locked
from routing.services.incidents import incidents_leader_fill_reused


def leader_fill_input(event: LeaderEvent, spec: EngineSpec) -> FillInput:
    """The journal's fill for leader ``event`` (the leader's own execution,
    no copy order), priced by ``spec``'s point value (dollars per point)."""
    return FillInput(
        account_id=event.account_id,
        broker_fill_id=event.external_id,
        symbol=event.symbol,
        side=event.side,
        qty=event.qty,
        price=event.price,
        point_value=spec.point_value,
        filled_at=event.occurred_at,
    )


def leader_fills_conflicts(leader_id: int, conflicts: Sequence[FillConflict]) -> None:
    """Raise the incident of every leader fill whose broker fill id the
    leader's journal holds with other content (the fill is not journaled,
    so the leader's position misses it). Call under the leader's lock."""
    if conflicts:
        leader = BrokerAccount.objects.get(pk=leader_id)
        incidents_leader_fill_reused(leader=leader, conflicts=conflicts)


def leader_fills_done(event_ids: Sequence[int]) -> None:
    """Clear ``fill_pending`` on the events ``event_ids`` (their fills are
    recorded in the caller's transaction): one statement, which may be sent
    ahead (:func:`copytrade.core.writes_ahead.writes_ahead`)."""
    bulk_set_columns(LeaderEvent, list(event_ids), {"fill_pending": [False] * len(event_ids)})


def leader_fills_record(fills: Mapping[int, FillInput]) -> None:
    """Record pending leader fills alone (leader event id -> its fill, as
    the claimed ingest left it): the leaders locked in pk order, then the
    fills, any conflict's incident, and the events' flags cleared. For an
    event with no broker answer to record them with; call inside a
    transaction."""
    if not fills:
        return
    leaders_locked(sorted({fill.account_id for fill in fills.values()}))
    leader_fills_apply(fills, fills_record(list(fills.values())).conflicts)


def leader_fills_apply(fills: Mapping[int, FillInput], conflicts: Sequence[FillConflict]) -> None:
    """What follows storing the pending leader ``fills`` (event id -> fill)
    with ``fills_record``: the incident of each of ``conflicts`` that is a
    leader fill's (:func:`leader_fills_conflicts_raise`), and the events'
    flags cleared (:func:`leader_fills_done`). Call under the leaders' locks."""
    leader_fills_conflicts_raise(fills, conflicts)
    leader_fills_done(sorted(fills))


def leader_fills_conflicts_raise(
    fills: Mapping[int, FillInput], conflicts: Sequence[FillConflict]
) -> None:
    """The incident of each of ``conflicts`` that is one of the leader
    ``fills``' (event id -> fill), per leader in pk order. Call under the
    leaders' locks, outside a writes-ahead block (it saves models)."""
    leaders = {fill.account_id for fill in fills.values()}
    for leader_id in sorted(leaders):
        leader_fills_conflicts(
            leader_id,
            [
                c
                for c in conflicts
                if c.received.copy_order_id is None and c.received.account_id == leader_id
            ],
        )


def leader_fills_pending_ahead(leader_id: int) -> ReadAhead:
    """The read of :func:`leader_fills_settle` for ``leader_id``, to run
    right after the leader's lock (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_pending, (leader_id,))


def leader_fills_settle(leader_id: int, specs: Mapping[str, EngineSpec]) -> int:
    """Record the leader's fills still pending, oldest first, and clear
    their flags; returns how many events were settled. An event whose
    product has no spec in ``specs`` any more is cleared unrecorded, as
    an ingest records no fill without a spec (no point value, no honest
    PnL). Call under the leader's lock (its next event's ingest, or
    :func:`leader_fills_recover`), inside a transaction; reads nothing
    else when none is pending."""
    rows = _pending(leader_id)
    fills = {}
    for pk, external_id, symbol, side, qty, price, occurred_at in rows:
        spec = spec_of(symbol, specs)
        if spec is not None:
            fills[pk] = FillInput(
                account_id=leader_id,
                broker_fill_id=external_id,
                symbol=symbol,
                side=side,
                qty=qty,
                price=price,
                point_value=spec.point_value,
                filled_at=occurred_at,
            )
    if fills:
        leader_fills_apply(fills, fills_record(list(fills.values())).conflicts)
    leader_fills_done([row[0] for row in rows if row[0] not in fills])
    return len(rows)


def leader_fills_recover(leader_ids: Sequence[int] | None = None) -> int:
    """Settle the pending leader fills of ``leader_ids`` (every leader with
    one when ``None``), one transaction per leader, holding its lock;
    returns how many events were settled. For a worker that takes leaders
    over: their previous owner may have stored events whose broker answers
    it never recorded."""
    pending = LeaderEvent.objects.filter(fill_pending=True)
    if leader_ids is not None:
        pending = pending.filter(account_id__in=leader_ids)
    leaders = sorted(set(pending.values_list("account_id", flat=True)))
    if not leaders:
        return 0
    specs = engine_contract_specs()
    settled = 0
    for leader_id in leaders:
        with transaction.atomic():
            leaders_locked([leader_id])
            settled += leader_fills_settle(leader_id, specs)
    return settled


_pending = HotRead(
    "leader fills pending",
    LeaderEvent,
    lambda leader_id: (
        LeaderEvent.objects.filter(account_id=leader_id, fill_pending=True)
        .order_by("pk")
        .values_list("pk", "external_id", "symbol", "side", "qty", "price", "occurred_at")
    ),
    # The ORM tests the flag bare on PostgreSQL and compares it with a
    # parameter on SQLite (a drift from its choice raises at the first call).
    lambda connection, leader_id: (
        [leader_id] if connection.vendor == "postgresql" else [leader_id, True]
    ),
)
