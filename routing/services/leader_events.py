"""From a leader fill to persisted copy decisions.

``leader_event_ingest`` is the one door every leader fill goes through: the
paper broker's stream, an adapter, a replay job. It stores the event once
(re-deliveries are recognised by the broker fill id), runs the engine for
every group the account leads, and writes one ``CopyOrder`` per follower in
the same transaction, so an event never has half its decisions.

The hot path costs a constant number of statements per event, whatever the
number of followers: the leader's routes come from memory
(:mod:`routing.services.route_state`, checked against the configuration
version read right after the leader's row is locked), the state that moves
with trading is read for all followers at once
(:mod:`routing.services.follower_state`), and orders, marks, expected
positions and journal rows are written in bulk, sent ahead on PostgreSQL
(:mod:`copytrade.core.writes_ahead`: the server runs them while the
journal rows and the brokers' requests are built). Orders to send are left PENDING for
the order router (``routing.services.orders``) or, for the engine worker,
stored SENT and handed to the brokers right after commit; the engine
worker records the leader's own fill with their answers
(:mod:`routing.services.leader_fills`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, router, transaction

from accounts.models import BrokerAccount
from copytrade.core.bulk import attnames, loaded
from copytrade.core.hot_reads import HotRead, ReadAhead, hot_reads_ahead, hot_reads_forget
from copytrade.core.writes_ahead import writes_ahead
from journal.fills import FillInput, fills_record
from journal.models import EventType
from journal.services import (
    JournalRow,
    journal_record,
    journal_row,
    journal_rows_send,
)
from routing.brokers.base import OrderRequest
from routing.engine.symbols import spec_of
from routing.engine.types import (
    LeaderFill,
)
from routing.models import CopyOrder, LeaderEvent
from routing.services.feed import copy_orders_data, feed_publish_on_commit
from routing.services.incidents import incidents_leader_fill_reused
from routing.services.leader_decisions import (
    Hold,
    Holds,
    decided_send,
    leader_decide,
    order_payloads,
    orders_by_owner,
)
from routing.services.leader_event_rows import leader_event_insert_ahead, leader_event_stored
from routing.services.leader_fills import (
    leader_fill_input,
    leader_fills_pending_ahead,
    leader_fills_settle,
)
from routing.services.leader_reads import leader_decide_reads
from routing.services.leases import LeaseFence, LeaseLostError
from routing.services.orders import order_request
from routing.services.replay_progress import replay_progress_record
from routing.services.route_state import (
    ConfigKey,
    leader_routes,
    leader_routes_cached,
    route_config_key,
    route_config_key_ahead,
)


@dataclass
class IngestResult:
    """``created`` is False for a re-delivered event (nothing new was decided).

    ``requests`` holds, for a ``claimed`` ingest, what to hand which broker
    for every order stored SENT: copy order id -> (platform, request); and
    ``feed`` the event's order payloads per user id, for the one live-feed
    message the caller sends per user once the answers are recorded. A
    claimed ingest leaves them to be built on first use, from the orders as
    stored; the engine worker asks for ``feed_orders`` instead and builds
    each payload once the answers are recorded, so a thousand payloads do
    not stand between the event and its sends, nor are built twice.
    ``leader_fill`` is the leader's own fill a claimed ingest left pending
    (``event.fill_pending``) for the caller to record with the answers
    (:mod:`routing.services.leader_fills`); ``None`` otherwise.
    """

    event: LeaderEvent
    created: bool
    orders: list[CopyOrder] = field(default_factory=list)
    requests: dict[int, tuple[str, OrderRequest]] = field(default_factory=dict)
    payloads: dict[int, list[dict[str, Any]]] | None = None
    leader_fill: FillInput | None = None

    @property
    def feed(self) -> dict[int, list[dict[str, Any]]]:
        if self.payloads is None:
            self.payloads = order_payloads(self.orders)
        return self.payloads

    @property
    def feed_orders(self) -> dict[int, list[CopyOrder]]:
        """The event's orders per user id, in order, for a caller that builds
        their payloads once their answers are recorded
        (:func:`routing.services.order_results.event_answers_record`)."""
        return orders_by_owner(self.orders)

    @property
    def pending_order_ids(self) -> list[int]:
        return [o.pk for o in self.orders if o.status == CopyOrder.Status.PENDING]


def leader_event_ingest(
    *,
    account: BrokerAccount | int,
    fill: LeaderFill,
    source: str,
    claimed: bool = False,
    fence: LeaseFence | None = None,
    unreachable: Hold = None,
    entries_held: Hold = None,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store ``fill`` on leader ``account`` (a row or its id) once and decide
    its copies, in one transaction whose statements do not grow with the
    number of followers.

    Orders to send are stored PENDING for the order router, and one live-feed
    message per user goes out on commit. With ``claimed`` they are stored
    SENT with their requests in the result and no feed message is sent: the
    caller (the engine worker that owns the leader) hands them to the brokers
    right after commit and sends the feed with their answers; an order whose
    send is cut short is queried by client order id on recovery, never
    resent blind. Idempotent on ``(account, fill.event_id)``:
    a second delivery returns the first event's orders with ``created=False``
    and sends nothing new, also when two deliveries race (the unique
    constraint decides). With ``fence`` (an engine worker's lease on the
    leader) nothing is stored or decided unless the lease is still the
    fence's: raises ``LeaseLostError``. ``unreachable`` ``(platform,
    account external id) -> reason or None`` blocks, with the reason, every
    order of a follower whose broker connection is down; ``entries_held``
    (same shape) blocks only the entries of a follower whose risk cannot be
    watched now (its platform's prices are missing). ``received_at`` (aware)
    is when the engine worker took the event in, stored on the event as the
    start of its copies' measured latency. Raises
    ``BrokerAccount.DoesNotExist`` for an unknown account.
    """
    account_id = account if isinstance(account, int) else account.pk
    holds = (unreachable, entries_held)
    try:
        with transaction.atomic():
            return _ingest(account_id, fill, source, claimed, fence, holds, received_at)
    except IntegrityError:
        event = LeaderEvent.objects.filter(account_id=account_id, external_id=fill.event_id).first()
        if event is None:
            raise  # not a re-delivery: some other constraint refused the event
        return IngestResult(event=event, created=False, orders=list(event.copy_orders.all()))


def _locked_leader(
    account_id: int, fence: LeaseFence | None, reads: list[ReadAhead]
) -> tuple[BrokerAccount, ConfigKey | None, LeaderEvent, bool]:
    """The leader's row, locked, the route configuration key, the event
    stored, from ``reads`` (:func:`_lock_reads`, run ahead by the caller:
    the event's row as :mod:`routing.services.leader_event_rows` inserts
    it), and whether the leader's fills still pending were recorded
    (:mod:`routing.services.leader_fills`; every row read ahead is then
    dropped, to be read again).

    One leader's events are applied one at a time (its position before each
    fill must be the position after the previous one). With ``fence`` the
    locking statement joins the lease row (locking it too, so a take-over
    waits for this event) and checks its worker and generation. The key is
    read by a statement of its own *after* the lock: a statement's snapshot
    is taken before it waits, so a key read with the lock would miss a
    change whose transaction held the leader's row while this event waited.
    The event's row is inserted after the pending fills are read (they do
    not include it).
    """
    lock, event = reads[0], reads[3]
    rows = lock[0](*lock[1])
    key = route_config_key()
    settled = False
    if rows:
        leader = loaded(BrokerAccount, router.db_for_write(BrokerAccount), rows[0])
        stored = leader_event_stored(event, leader)
        # Under the lock, before anything is decided: a fill an earlier
        # event left pending (its answers never recorded) moves the
        # leader's position first, and what was read with the lock
        # (positions, marks, PnL) is read again after it.
        specs = leader_routes(leader_id=account_id, key=key).specs
        if leader_fills_settle(account_id, specs):
            hot_reads_forget()
            settled = True
    if not rows:
        BrokerAccount.objects.filter(pk=account_id).get()  # a missing account: DoesNotExist
        assert fence is not None
        raise LeaseLostError(
            f"engine worker {fence.worker_id} no longer holds the lease of leader {account_id} "
            f"(generation {fence.generation}); the event is left to the new holder"
        )
    return leader, key, stored, settled


def _lock_reads(account_id: int, fence: LeaseFence | None, event: ReadAhead) -> list[ReadAhead]:
    """The lock's round trip: the leader's row locked (under its lease with
    ``fence``), the route configuration key, the leader's pending fills and
    the event's row (:func:`_locked_leader`)."""
    lock: ReadAhead = (
        (_leader_locked, (account_id,))
        if fence is None
        else (_leader_locked_fenced, (account_id, fence.worker_id, fence.generation))
    )
    return [lock, route_config_key_ahead(), leader_fills_pending_ahead(account_id), event]


# The leader's row, locked, at every leader event (compiled once).
_leader_locked = HotRead(
    "leader locked",
    BrokerAccount,
    lambda pk: (
        BrokerAccount.objects.select_for_update()
        .filter(pk=pk)
        .values_list(*attnames(BrokerAccount))
    ),
    lambda connection, pk: [pk],
    lock=True,
)
_leader_locked_fenced = HotRead(
    "leader locked under its lease",
    BrokerAccount,
    lambda pk, worker_id, generation: (
        BrokerAccount.objects.select_for_update()
        .filter(pk=pk)
        .filter(leader_lease__worker_id=worker_id, leader_lease__generation=generation)
        .values_list(*attnames(BrokerAccount))
    ),
    lambda connection, pk, worker_id, generation: [pk, generation, worker_id],
    lock=True,
)


def _ingest(
    account_id: int,
    fill: LeaderFill,
    source: str,
    claimed: bool,
    fence: LeaseFence | None,
    holds: Holds,
    received_at: datetime | None,
) -> IngestResult:
    # The event goes to the server with the leader's lock; whether its fill
    # is left for the answers needs its contract's spec, guessed from the
    # routes cached before the key is read and put right when they changed.
    cached = leader_routes_cached(account_id)
    guess = claimed and cached is not None and spec_of(fill.symbol, cached.specs) is not None
    inserted = leader_event_insert_ahead(
        account_id, fill, source=source, received_at=received_at, fill_pending=guess
    )
    # The decisions' reads go with the lock too, as the cached routes make
    # them: one round trip for the lock, the event's row and every read.
    # Routes changed meanwhile make other statements, which run again.
    # Nothing written before leader_decide reads them changes their rows
    # (the event's flag, the replay's progress), but a pending fill settled.
    ahead = [] if cached is None else leader_decide_reads(cached, fill)
    locking = _lock_reads(account_id, fence, inserted)
    # One round trip: the server still runs the key's statement after the
    # lock's has its row (pipelined statements run one after the other).
    with hot_reads_ahead([*locking, *ahead]):
        account, key, event, settled = _locked_leader(account_id, fence, locking)
        routes = leader_routes(leader_id=account.pk, key=key)
        specs = routes.specs
        spec = spec_of(fill.symbol, specs)
        # A claimed ingest's caller records the leader's fill with the answers.
        if (claimed and spec is not None) != guess:
            event.fill_pending = not guess
            LeaderEvent.objects.filter(pk=event.pk).update(fill_pending=event.fill_pending)
        # A replayed fill counts in its job's progress with its decisions (issue
        # 10, defect 7): a fill published but never ingested is replayed again.
        replay_progress_record(leader_id=account.pk, event_id=event.external_id)
        # The engine keys idempotency on the stored event (leader account id and
        # broker fill id), whatever spelling of the account the source used.
        fill = event.to_engine()
        # The decisions' reads came with the lock, unless the routes changed
        # or a pending fill was settled (what was read is dropped then): in
        # one round trip of their own.
        again = [] if routes is cached and not settled else leader_decide_reads(routes, fill)
        # The writes go ahead from the first the decisions make (the
        # followers' marks): the server runs them while the followers are
        # decided and the orders, the journal and the brokers' requests are
        # built here; the block's end waits for them (and raises their errors).
        with hot_reads_ahead(again), writes_ahead():
            decided = leader_decide(routes, event, fill, holds=holds)
            keyed = decided_send(decided, event, fill, claimed=claimed)
            decided.journal.append(_received(account, fill, source, decided.leader_before))
            journal_rows_send(decided.journal)
            sends = [
                (order, (order.account.platform, order_request(order, event=event, specs=specs)))
                for order in decided.orders
                if order.status == CopyOrder.Status.SENT
            ]
    leader_fill = None if spec is None else leader_fill_input(event, spec)
    keyed()
    if leader_fill is not None and not claimed:
        recorded = fills_record([leader_fill])
        if recorded.conflicts:
            incidents_leader_fill_reused(leader=account, conflicts=recorded.conflicts)
    if not claimed:
        for owner_id, payloads in sorted(decided.feed.items()):
            # One message per user per event, whatever the number of groups.
            feed_publish_on_commit(
                user_id=owner_id,
                kind="copy_orders",
                data=copy_orders_data(payloads),
            )
    requests = {order.pk: request for order, request in sends}
    return IngestResult(
        event=event,
        created=True,
        orders=decided.orders,
        requests=requests,
        payloads=None if claimed else decided.feed,
        leader_fill=leader_fill if event.fill_pending else None,
    )


def _received(account: BrokerAccount, fill: LeaderFill, source: str, before: int) -> JournalRow:
    """The journal row of the leader's fill ``fill`` on ``account`` (its
    signed position ``before`` it), received from ``source``."""
    return journal_row(
        owner_id=account.owner_id,
        event_type=EventType.LEADER_EVENT_RECEIVED,
        account_id=account.pk,
        actor_label=source,
        occurred_at=fill.time,
        message=f"Leader {account.name} {fill.side.value} {fill.qty} {fill.symbol} @ {fill.price}",
        extra_data={
            "event_id": fill.event_id,
            "position_before": before,
            "position_after": before + fill.side.sign * fill.qty,
        },
    )


def leader_last_seq(*, account_id: int) -> int:
    """The highest stream sequence number applied for a leader (0 when none),
    so a restarted worker resumes its sequence gate after it."""
    last = (
        LeaderEvent.objects.filter(account_id=account_id, seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    return last or 0


def leader_event_reject(*, account_id: int, event_id: str, reason: str) -> None:
    """Journal a leader event that was not applied (duplicate, stale, gap)."""
    account = BrokerAccount.objects.get(pk=account_id)
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.LEADER_EVENT_REJECTED,
        account_id=account.pk,
        actor_label="engine",
        message=f"Leader {account.name} event {event_id} not applied: {reason}",
        extra_data={"event_id": event_id, "reason": reason},
    )
