"""One leader event's decisions, inside its ingest's transaction.

:func:`leader_decide` reads the leader's position and the volatile state of
every follower of the leader's routes at once (marks, sessions, expected
positions, quarantines, session PnL), sends the followers' marks' write
and runs the engine per group; :func:`decided_send` sends the copy orders
and expected positions. All in bulk, ahead
(:mod:`copytrade.core.writes_ahead`): the server stores the marks while
the followers are decided, and the first orders while the rest are. The caller
(:func:`routing.services.leader_events.leader_event_ingest`) holds the
leader's lock and stores the event, the leader's fill and the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from journal.services import JournalRow, positions_revalued
from routing.engine.collar import check_price_collar, collared_decision
from routing.engine.copier import LeaderMove, decide_copies_each
from routing.engine.sessions import trading_date
from routing.engine.types import CopyDecision, DecisionStatus, LeaderFill
from routing.models import CopyGroup, CopyOrder, Follower, LeaderEvent
from routing.selectors import (
    copy_order_payload,
    open_unrealized_by_account,
)
from routing.services.copy_writes import copy_orders_send, decision_journal
from routing.services.expected import (
    expected_positions_of,
    expected_positions_set,
)
from routing.services.follower_state import FollowerStates, contract_marks
from routing.services.leader_reads import leader_position, route_shape
from routing.services.risk_watch import sessions_current
from routing.services.route_state import LeaderRoutes

# ``(platform, account external id) -> reason or None``: which followers'
# brokers cannot be reached, and whose entries must wait
# (:func:`routing.services.leader_events.leader_event_ingest`).
type Hold = Callable[[str, str], str | None] | None
type Holds = tuple[Hold, Hold]
# One order to store: the engine's decision, its group and its follower.
type DecidedOrder = tuple[CopyDecision, CopyGroup, Follower]
# One route's group, followers and their decisions in the same order.
type RouteDecisions = tuple[CopyGroup, Sequence[Follower], Iterable[CopyDecision]]


@dataclass
class Decided:
    """One event's decisions and what they write: the leader's signed
    position before the event; ``routes`` (each route's group, followers
    and decisions, made as they are read) and ``expected`` ((account id,
    contract) -> its expected position's row id and contracts) from
    :func:`leader_decide`;
    ``moved`` (expected position row id -> its new signed contracts),
    ``orders``, journal rows and feed payloads once :func:`decided_send`
    has sent them."""

    leader_before: int = 0
    routes: list[RouteDecisions] = field(default_factory=list)
    expected: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    moved: dict[int, int] = field(default_factory=dict)
    orders: list[CopyOrder] = field(default_factory=list)
    journal: list[JournalRow] = field(default_factory=list)
    feed: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def leader_decide(
    routes: LeaderRoutes,
    event: LeaderEvent,
    fill: LeaderFill,
    *,
    holds: Holds,
) -> Decided:
    """Read the leader's position and decide every follower of every group
    of the leader, reading the volatile state (marks, expected positions,
    quarantines, sessions, PnL) of all of them at once; what to write is in
    the result, for :func:`decided_send`.

    The caller runs its reads ahead, in one round trip
    (:func:`routing.services.leader_reads.leader_decide_reads` in a
    :func:`copytrade.core.hot_reads.hot_reads_ahead` block); a read not
    held runs alone when it is called. Writes the followers' marks at the
    fill's price as soon as they are worked out (inside the ingest's
    :func:`copytrade.core.writes_ahead.writes_ahead`, the server stores
    them while the followers are decided), and what making the followers'
    state current writes (session resets, halts, high-water marks).

    ``holds`` is ``(unreachable, entries_held)`` as
    :func:`routing.services.leader_events.leader_event_ingest` takes them.
    Must run inside the ingest's transaction, under the leader's lock.
    Raises the database's errors; a stored limit the engine refuses raises
    ``ValueError`` where its follower's batch of states is made (as
    :func:`decided_send` reads the decisions)."""
    shape, specs = route_shape(routes, fill.symbol), routes.specs
    plans, followers, spec = shape.plans, shape.followers, shape.spec
    held = leader_position(routes.leader_id, fill.symbol)
    if not plans:
        return Decided(leader_before=held[0][0] if held else 0)
    accounts, account_ids, symbols = shape.accounts, shape.account_ids, shape.symbols
    marked_symbols, marked_accounts = shape.marked_symbols, shape.marked_accounts
    # The collar is checked against the mark before this fill moves it; a
    # collared price marks nothing (issue 10, defect 8).
    # One read of the marks serves the collar (the mark before this fill) and
    # the decisions (other contracts' prices for conversions across products).
    marks = contract_marks(marked_symbols, account_ids=marked_accounts)
    # The followers' sessions are made current before this fill moves their
    # marks: what it moves is today's PnL, not PnL carried into the session.
    sessions = sessions_current(accounts, at=fill.time)
    decided = Decided(leader_before=held[0][0] if held else 0)
    collared = check_price_collar(fill.price, marks.get(fill.symbol), settings.PRICE_COLLAR_PCT)
    if collared is None:
        marks[fill.symbol] = fill.price
    marking = spec is not None and collared is None
    marked = shape.marked
    # The open PnL is read before the mark's write (sent with the orders),
    # and the write's change added to it: the figures the write leaves.
    risk_ids = shape.risk_ids
    unrealized = open_unrealized_by_account(risk_ids)
    if marking:
        assert spec is not None
        mark, store = positions_revalued(
            account_ids=marked,
            symbol=fill.symbol,
            price=fill.price,
            point_value=spec.point_value,
        )
        # Sent now, the first of the event's writes: inside the ingest's
        # writes_ahead the server stores the marks while the followers are
        # decided. Every read of the marked rows came before (ahead, with
        # the lock), and the figures below add the write's change.
        store()
        for account_id, change in mark.unrealized.items():
            unrealized[account_id] = unrealized.get(account_id, Decimal(0)) + change
    expected = expected_positions_of(account_ids, symbols)
    # What every follower's state needs is read now; each batch's states
    # (its risk checks, the halts they write) when decided_send asks for
    # its decisions: the server stores the first orders while the other
    # followers' states are worked out.
    states = FollowerStates(
        followers,
        {k: qty for k, (_, qty) in expected.items()},
        at=fill.time,
        complete=True,
        limits=shape.limits,
        shape=(shape.accounts, shape.group_of),
        sessions=sessions,
        unrealized=unrealized,
        unreachable=holds[0],
        entries_held=holds[1],
    )
    move = LeaderMove.of_fill(fill, decided.leader_before)
    day = trading_date(fill.time)
    for route, _ in plans:
        group = route.group
        # Whether a level-2 route was reviewed depends on this event's session.
        config = replace(route.config, limits=group.route_limits(trading_date=day))
        # Made as decided_send stores them, with their followers' states:
        # the first orders go to the server while the rest are decided.
        route_states = states.each(route.followers)
        decisions = decide_copies_each(
            move,
            config,
            route_states,
            specs,
            route_key=str(group.pk),
            marks=marks,
            keys=route_states.keys,
        )
        if collared is not None:
            decisions = (collared_decision(decision, collared) for decision in decisions)
        decided.routes.append((group, route.followers, decisions))
    decided.expected = expected
    return decided


def decided_send(
    decided: Decided, event: LeaderEvent, fill: LeaderFill, *, claimed: bool
) -> Callable[[], None]:
    """Decide and send what :func:`leader_decide` prepared: the orders
    (``claimed``: those to send SENT, else PENDING) and the expected
    positions; build the orders and their journal rows in
    ``decided``. Inside :func:`copytrade.core.writes_ahead.writes_ahead`
    the writes run while this goes on: the orders go in batches of 32, then
    64 (:func:`_batches`), each sent as soon as it is decided, so the server
    stores the first followers' orders while the others are decided.
    Returns a function that sets the orders' ids and, unless ``claimed``,
    their feed payloads: call it once the block has ended. In the ingest's
    transaction, under the leader's lock. Raises the database's errors and
    ``ValueError`` for a stored limit the engine refuses."""
    moved, expected = decided.moved, decided.expected
    now = timezone.now()
    keys: list[Callable[[], None]] = []
    for batch in _batches(decided.routes):
        for decision, _, follower in batch:
            if decision.status is DecisionStatus.SEND:
                moved[expected[(follower.account_id, decision.symbol)][0]] = decision.target
        orders, keyed = copy_orders_send(event=event, decided=batch, claimed=claimed, now=now)
        keys.append(keyed)
        decided.orders.extend(orders)
        for (decision, group, _), order in zip(batch, orders, strict=True):
            decided.journal.extend(decision_journal(decision, order, group, fill))
    expected_positions_set(moved)

    def done() -> None:
        for keyed in keys:
            keyed()
        if not claimed:
            decided.feed = order_payloads(decided.orders)

    return done


# The first batch of orders is small, so the server starts on it early.
# The next ones are at most twice that, so the server stores each while the
# next is decided and has little left once the last is sent. Batches that
# doubled on (32, 64 … 512 at 1000 followers) left the server idle between
# them and then 25 ms of inserts behind the last decision (statement log,
# this machine); batches of 64 were stored 0.5-1 ms after they were sent,
# and the event's wait on the server fell from 19-24 to 11-17 ms.
_FIRST_BATCH = 32
_MAX_BATCH = 64


def _batches(routes: Sequence[RouteDecisions]) -> Iterator[list[DecidedOrder]]:
    """``(decision, group, follower)`` of every route's followers, in order,
    in batches of 32, then 64 (the last one what is left)."""
    size, batch = _FIRST_BATCH, []
    for group, followers, decisions in routes:
        by_account = {f.account_id: f for f in followers}
        for decision in decisions:
            batch.append((decision, group, by_account[int(decision.follower)]))
            if len(batch) == size:
                yield batch
                size, batch = _MAX_BATCH, []
    if batch:
        yield batch


def order_payloads(orders: Sequence[CopyOrder]) -> dict[int, list[dict[str, Any]]]:
    """The live-feed payloads of ``orders`` (group cached) per owner id, in order."""
    return {
        owner_id: [copy_order_payload(order) for order in owned]
        for owner_id, owned in orders_by_owner(orders).items()
    }


def orders_by_owner(orders: Sequence[CopyOrder]) -> dict[int, list[CopyOrder]]:
    """``orders`` (group cached) per owner id, in order."""
    owned: dict[int, list[CopyOrder]] = {}
    for order in orders:
        owned.setdefault(order.group.owner_id, []).append(order)
    return owned
