"""Broker answers to copy orders, recorded in batches.

The order router hands every follower order of a leader event to its broker
at once and records all their answers in one transaction here
(:func:`copy_orders_record`), with a constant number of statements whatever
the number of orders: status, fills, positions, journal, expected positions,
quarantines, incidents and one live-feed message per user. The broker's
order-update stream is recorded through the same function, in batches.

Incidents (found by :mod:`routing.services.order_findings`; each locks the route,
at most one per order and kind): the order REJECTED; a fill in another
contract than the order's (stored under its own contract when that has a
spec, else left out of the journal and named in the incident); more
contracts executed than ordered (a duplicate execution: every fill is
stored, since it really happened, and ``filled_qty`` is capped at ``qty``;
reconciliation then shows the extra as a desync); a market order in the
leader's contract (or its mini/micro) whose average fill is more than the
group's ``max_slippage_ticks`` from the leader's fill price; a broker fill
id the account already has, received with other content (the fill is not
journaled: its id holds another).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from copytrade.core.bulk import bulk_set
from copytrade.core.hot_reads import hot_reads_ahead, hot_reads_forget
from copytrade.core.writes_ahead import writes_ahead
from journal.fills import FillConflict, FillInput
from journal.models import EventType
from journal.services import JournalRow, journal_row, journal_rows_send
from routing.brokers.base import OrderResult, OrderStatus
from routing.engine.types import Intent, Side
from routing.models import ContractSpec, CopyOrder
from routing.selectors import copy_order_payload
from routing.services.answer_fills import answer_fills_record
from routing.services.answer_locks import answers_locked, answers_reads
from routing.services.expected import expected_positions_move
from routing.services.feed import (
    FeedMessage,
    copy_orders_data,
    feed_message,
    feed_publish_on_commit,
    feed_seq_next,
)
from routing.services.incidents import order_incidents_record
from routing.services.leader_fills import (
    leader_fills_conflicts_raise,
    leader_fills_done,
    leader_fills_record,
)
from routing.services.order_findings import (
    Finding,
    findings_of,
)
from routing.services.quarantines import quarantines_start
from routing.services.send_times import SendTimes, send_times_apply

_RESULT_STATUS = {
    OrderStatus.FILLED: CopyOrder.Status.FILLED,
    OrderStatus.PARTIALLY_FILLED: CopyOrder.Status.PARTIALLY_FILLED,
    OrderStatus.WORKING: CopyOrder.Status.WORKING,
    OrderStatus.REJECTED: CopyOrder.Status.REJECTED,
    OrderStatus.CANCELLED: CopyOrder.Status.CANCELLED,
}
_ORDER_FIELDS = [
    "status",
    "broker_order_id",
    "filled_qty",
    "avg_fill_price",
    "reason",
    "updated_at",
    "handed_at",
    "acknowledged_at",
]


@transaction.atomic
def copy_order_record_result(
    *, order_id: int, result: OrderResult, times: SendTimes | None = None
) -> CopyOrder:
    """Apply the broker's answer to one SENT order (:func:`copy_orders_record`
    for one): status, fills, position, journal, feed, incidents, and the
    send's ``times`` when given. Recording one result twice changes nothing.
    Raises ``ValueError`` when ``result`` belongs to another client order id."""
    times_of = {order_id: times} if times is not None else None
    return copy_orders_record(results=[(order_id, result)], times=times_of)[0]


@transaction.atomic
def copy_orders_record(
    *,
    results: Sequence[tuple[int, OrderResult]],
    publish: bool = True,
    known: Mapping[int, CopyOrder] | None = None,
    times: Mapping[int, SendTimes] | None = None,
    leader_fills: Mapping[int, FillInput] | None = None,
) -> list[CopyOrder]:
    """Apply broker answers ``(copy order id, result)`` in order, in one
    transaction; returns the orders as recorded, one per result.

    Fills already stored (same broker fill id) are skipped and a final order
    never changes again, so an answer recorded twice (the send's answer and
    the broker's update stream) records nothing twice; fills arriving after
    an order ended are still a duplicate execution. The unfilled rest of an
    order that ends is taken out of the follower's expected position; a
    rejected entry starts a quarantine when the group has it on. Lock order
    (as leader events and mirrors): the orders' leaders, then the orders in
    pk order, then positions. Raises ``ValueError`` when a
    result belongs to another client order id (nothing is recorded).
    ``publish`` False leaves the live feed to the caller (the engine worker
    sends one message per user per leader event, :func:`event_answers_record`).
    ``known`` (copy order id -> the order as its ingest stored it, with its
    account, group and leader event cached) saves reading those again: each
    is brought up to date from its locked row instead. ``times`` (copy order
    id -> when the engine handed it to the broker and when the broker
    answered, :class:`~routing.services.send_times.SendTimes`) are stored
    with the orders' status in the same statement, also on an order that
    ended already (an instant stored once is never moved). ``leader_fills``
    (leader event id -> the leader's own fill, left pending by the event's
    claimed ingest, :mod:`routing.services.leader_fills`) are stored with
    the orders' fills, in the same statements, and their events' flags
    cleared; each must be on a leader of the orders (``ValueError``).
    """
    return _answers_apply(results, publish, known or {}, times or {}, leader_fills or {})


def _answers_apply(
    results: Sequence[tuple[int, OrderResult]],
    publish: bool,
    known: Mapping[int, CopyOrder],
    times: Mapping[int, SendTimes],
    leader_fills: Mapping[int, FillInput],
) -> list[CopyOrder]:
    """:func:`copy_orders_record` inside the caller's transaction (no
    savepoint of its own: two round trips fewer per event's answers)."""
    if not results:
        if leader_fills:
            raise ValueError("leader fills are recorded with their event's answers")
        return []
    ids = sorted({order_id for order_id, _ in results})
    # The locks, the specs and the fills' reads in one round trip.
    with hot_reads_ahead(answers_reads(ids, known, results, leader_fills.values())):
        orders, specs = answers_locked(ids, known, [r for _, r in results])
        _answers_check(orders, results, leader_fills)
        # The fills' and the orders' writes run on the server while the answers
        # are applied here (copytrade.core.writes_ahead); what may write
        # otherwise (incidents, expected positions, quarantines) follows.
        with writes_ahead():
            unrecorded, reused, conflicts = answer_fills_record(
                orders, results, specs, leader_fills
            )
            # Rows read ahead that the fills did not use (a fill that could not
            # be stored changed their reads) would be stale once the writes run.
            hot_reads_forget()
            batch = _Batch()
            for order_id, result in results:
                if send_times_apply(orders[order_id], times.get(order_id)):
                    batch.changed.add(order_id)
                _apply(orders[order_id], result, specs, unrecorded, reused.get(order_id, ()), batch)
            if batch.changed:
                bulk_set([orders[i] for i in sorted(batch.changed)], _ORDER_FIELDS)
            # The answers' journal (fills, rejections) comes before what they
            # start (quarantines, incidents): the cause, then its effects.
            journal_rows_send(batch.journal)
            leader_fills_done(sorted(leader_fills))
    if leader_fills:
        leader_fills_conflicts_raise(leader_fills, conflicts)
    expected_positions_move(batch.expected)
    quarantines_start(batch.quarantines)
    order_incidents_record(
        [(order, f.kind, f.detail, f.numbers) for order, found in batch.incidents for f in found]
    )
    for owner_id, group_orders in sorted(batch.feed.items() if publish else ()):
        for group_id, changed in sorted(group_orders.items()):
            feed_publish_on_commit(
                user_id=owner_id,
                kind="copy_orders",
                data={"group": group_id, "orders": [copy_order_payload(o) for o in changed]},
            )
    return [orders[order_id] for order_id, _ in results]


def _answers_check(
    orders: Mapping[int, CopyOrder],
    results: Sequence[tuple[int, OrderResult]],
    leader_fills: Mapping[int, FillInput],
) -> None:
    """Refuse a batch before anything is written: a leader fill on an
    account that leads none of ``orders`` (``ValueError``: the leaders'
    locks are the orders', taken first, and none other may be written), an
    answer for an order not found (``CopyOrder.DoesNotExist``) or for
    another client order id (``ValueError``)."""
    if leader_fills:
        leaders = {order.group.leader_id for order in orders.values()}
        stray = sorted({f.account_id for f in leader_fills.values()} - leaders)
        if stray:
            raise ValueError(f"leader fills of accounts {stray} lead none of these orders")
    for order_id, result in results:
        if order_id not in orders:
            raise CopyOrder.DoesNotExist(f"no copy order {order_id}")
        if result.client_order_id != orders[order_id].client_order_id:
            raise ValueError(
                f"result for {result.client_order_id} applied to order "
                f"{orders[order_id].client_order_id}"
            )


def event_answers_record(
    *,
    results: Sequence[tuple[int, OrderResult]],
    feed: Mapping[int, Sequence[CopyOrder]],
    known: Mapping[int, CopyOrder] | None = None,
    times: Mapping[int, SendTimes] | None = None,
    leader_fills: Mapping[int, FillInput] | None = None,
) -> list[FeedMessage]:
    """Record one leader event's broker answers (:func:`copy_orders_record`,
    one transaction), then number one feed message per user carrying every
    order of the event as it now stands: ``feed`` maps user id to the
    event's orders as the ingest stored them (account, group and event
    cached), each replaced by its recorded self (:func:`feed_messages_number`);
    ``known``, ``times`` and ``leader_fills`` (the event's leader fill
    left pending by its claimed ingest) as :func:`copy_orders_record`; with
    no answer, the leader fills are recorded alone. The caller sends the
    messages (no channel-layer call in here). Raises as :func:`copy_orders_record`;
    nothing is numbered then.

    As the outermost transaction on PostgreSQL, its commit does not wait for
    the disk (``synchronous_commit`` off for this transaction only, PostgreSQL
    manual 19.5.1 and 30.4 "Asynchronous Commit"): a server crash can lose
    these answers, never corrupt them, and a lost answer leaves its order
    SENT, which recovery queries at the broker by client order id, as after
    any crash. Every later ingest's commit waits for the disk, which makes
    these answers durable first (one write-ahead log), so no order goes out
    on the strength of an answer a crash could still take back.
    """
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        if results:
            orders = _answers_apply(results, False, known or {}, times or {}, leader_fills or {})
        else:
            orders = []
            leader_fills_record(leader_fills or {})
    return feed_messages_number(feed=feed, orders=orders)


def _commit_without_waiting_for_disk() -> None:
    """``synchronous_commit`` off for the transaction just opened, when it is
    the outermost one on PostgreSQL (never for a caller's transaction, whose
    other writes may need their commit on disk)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def feed_messages_number(
    *,
    feed: Mapping[int, Sequence[CopyOrder]],
    orders: Sequence[CopyOrder] | None = None,
) -> list[FeedMessage]:
    """Number one ``copy_orders`` message per user in ``feed`` (user id ->
    orders, account, group and event cached) carrying each order as it
    stands: as recorded in ``orders`` (the same order, by id) when given,
    else as ``feed`` holds it; each payload built once, after the answers
    (at 200 followers, building them at the ingest as well cost a
    millisecond an event). Without ``orders``, after answers recorded
    elsewhere (one by one when their batch failed, whose instances may hold
    what was rolled back), the orders are read again: one statement. One
    statement per user, after any transaction."""
    if orders is None:
        ids = [order.pk for listed in feed.values() for order in listed]
        orders = list(
            CopyOrder.objects.filter(pk__in=ids).select_related("account", "group", "leader_event")
        )
    recorded = {order.pk: order for order in orders}
    messages = []
    for user_id, listed in sorted(feed.items()):
        seq = feed_seq_next(user_id)
        if seq is None:  # the user was deleted meanwhile
            continue
        payloads = [copy_order_payload(recorded.get(order.pk, order)) for order in listed]
        messages.append(
            feed_message(
                user_id=user_id, seq=seq, kind="copy_orders", data=copy_orders_data(payloads)
            )
        )
    return messages


@dataclass
class _Batch:
    """What one batch writes after its orders are updated in memory."""

    changed: set[int]
    expected: dict[tuple[int, str], int]
    quarantines: list[tuple[CopyOrder, str]]
    journal: list[JournalRow]
    incidents: list[tuple[CopyOrder, list[Finding]]]
    feed: dict[int, dict[int, list[CopyOrder]]]
    fed: set[int]

    def __init__(self) -> None:
        self.fed = set()
        self.changed = set()
        self.expected = defaultdict(int)
        self.quarantines = []
        self.journal = []
        self.incidents = []
        self.feed = defaultdict(lambda: defaultdict(list))


def _apply(
    order: CopyOrder,
    result: OrderResult,
    specs: Mapping[str, ContractSpec],
    unrecorded: Mapping[str, str],
    reused: Sequence[FillConflict],
    batch: _Batch,
) -> None:
    findings = findings_of(order, result, specs, unrecorded=unrecorded, reused=reused)
    if findings:
        batch.incidents.append((order, findings))
    if order.status in CopyOrder.FINAL_STATUSES:
        return
    order.status = _RESULT_STATUS[result.status]
    order.broker_order_id = result.broker_order_id or ""
    # The database holds filled <= qty; a broker reporting more (a duplicate
    # execution) is an incident, the order itself counts as completely filled.
    order.filled_qty = min(result.filled_qty, order.qty)
    order.avg_fill_price = result.avg_price
    if result.reason:
        order.reason = f"{order.reason}; broker: {result.reason}" if order.reason else result.reason
    order.updated_at = timezone.now()  # bulk_update skips auto_now
    batch.changed.add(order.pk)
    is_copy = order.kind == CopyOrder.Kind.COPY
    final = order.status in CopyOrder.FINAL_STATUSES
    if is_copy and final and order.filled_qty < order.qty:
        # The unfilled rest will never fill: take it back out of what the
        # follower is expected to hold, so the next event sizes against reality.
        unfilled = (order.qty - order.filled_qty) * Side(order.side).sign
        batch.expected[(order.account_id, order.symbol)] -= unfilled
    rejected = order.status == CopyOrder.Status.REJECTED
    if (
        rejected
        and is_copy
        and order.intent in (Intent.ENTRY, Intent.REVERSAL)
        and order.group.quarantine
    ):
        batch.quarantines.append((order, f"entry rejected: {result.reason}"))
    name = order.account.name
    if rejected:
        batch.journal.append(
            _journal(
                order,
                EventType.COPY_ORDER_REJECTED,
                f"{name}: {order.side} {order.qty} {order.symbol} rejected: {result.reason}",
            )
        )
    elif order.filled_qty:
        batch.journal.append(
            _journal(
                order,
                EventType.COPY_ORDER_FILLED,
                f"{name}: {order.side} {order.filled_qty} {order.symbol} "
                f"filled @ {order.avg_fill_price}",
            )
        )
    changed = batch.feed[order.group.owner_id][order.group_id]
    if order.pk not in batch.fed:
        batch.fed.add(order.pk)
        changed.append(order)


def _journal(order: CopyOrder, event_type: EventType, message: str) -> JournalRow:
    return journal_row(
        owner_id=order.group.owner_id,
        event_type=event_type,
        group_id=order.group_id,
        account_id=order.account_id,
        actor_label="broker",
        message=message,
        extra_data={"client_order_id": order.client_order_id},
    )
