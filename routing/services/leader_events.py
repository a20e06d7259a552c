"""From a leader fill to persisted copy decisions.

``leader_event_ingest`` is the one door every leader fill goes through: the
paper broker's stream, an adapter, a replay job. It stores the event once
(re-deliveries are recognised by the broker fill id), runs the engine for
every enabled group the account leads, and writes one ``CopyOrder`` per
follower in the same transaction, so an event never has half its decisions.
Orders to send are left PENDING for the order router (``routing.services.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from accounts.models import BrokerAccount
from journal.models import EventType, Position
from journal.services import fill_record, journal_record, positions_mark
from routing.engine.copier import decide_copies
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import (
    CopyDecision,
    DecisionStatus,
    FollowerState,
    LeaderFill,
    RiskLimits,
)
from routing.models import ContractSpec, CopyGroup, CopyOrder, Follower, LeaderEvent, RiskLimit
from routing.selectors import copy_order_payload, followers_for_engine, session_pnl_by_account
from routing.services.feed import feed_publish_on_commit

_STATUS = {
    DecisionStatus.SEND: CopyOrder.Status.PENDING,
    DecisionStatus.BLOCKED: CopyOrder.Status.BLOCKED,
    DecisionStatus.SKIPPED: CopyOrder.Status.SKIPPED,
}


@dataclass
class IngestResult:
    """``created`` is False for a re-delivered event (nothing new was decided)."""

    event: LeaderEvent
    created: bool
    orders: list[CopyOrder] = field(default_factory=list)

    @property
    def pending_order_ids(self) -> list[int]:
        return [o.pk for o in self.orders if o.status == CopyOrder.Status.PENDING]


def leader_event_ingest(*, account: BrokerAccount, fill: LeaderFill, source: str) -> IngestResult:
    """Store ``fill`` on leader ``account`` once and decide its copies.

    Idempotent on ``(account, fill.event_id)``: a second delivery returns the
    first event's orders with ``created=False`` and sends nothing new, also
    when two deliveries race (the unique constraint decides).
    """
    try:
        with transaction.atomic():
            return _ingest(account, fill, source)
    except IntegrityError:
        event = LeaderEvent.objects.get(account=account, external_id=fill.event_id)
        return IngestResult(event=event, created=False, orders=list(event.copy_orders.all()))


def _ingest(account: BrokerAccount, fill: LeaderFill, source: str) -> IngestResult:
    # One leader's events are applied one at a time: its position before
    # each fill must be the position after the previous one.
    BrokerAccount.objects.select_for_update().filter(pk=account.pk).get()
    existing = LeaderEvent.objects.filter(account=account, external_id=fill.event_id).first()
    if existing is not None:
        return IngestResult(event=existing, created=False, orders=list(existing.copy_orders.all()))
    event = LeaderEvent.objects.create(
        account=account,
        external_id=fill.event_id,
        symbol=fill.symbol,
        side=fill.side.value,
        qty=fill.qty,
        price=fill.price,
        occurred_at=fill.time,
        source=source,
    )
    # The engine keys idempotency on the stored event (leader account id and
    # broker fill id), whatever spelling of the account the source used.
    fill = event.to_engine()
    spec, spec_problem = _spec_for(fill.symbol)
    leader_position = Position.objects.filter(account=account, symbol=fill.symbol).first()
    leader_before = leader_position.qty if leader_position else 0

    orders: list[CopyOrder] = []
    groups = CopyGroup.objects.filter(leader=account, enabled=True).order_by("pk")
    for group in groups:
        orders.extend(_decide_group(group, event, fill, leader_before, spec, spec_problem))

    if spec is not None:
        fill_record(
            account_id=account.pk,
            broker_fill_id=fill.event_id,
            symbol=fill.symbol,
            side=fill.side.value,
            qty=fill.qty,
            price=fill.price,
            point_value=spec.point_value,
            filled_at=fill.time,
        )
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.LEADER_EVENT_RECEIVED,
        account_id=account.pk,
        actor_label=source,
        occurred_at=fill.time,
        message=f"Leader {account.name} {fill.side.value} {fill.qty} {fill.symbol} @ {fill.price}",
        extra_data={
            "event_id": fill.event_id,
            "position_before": leader_before,
            "position_after": leader_before + fill.side.sign * fill.qty,
        },
    )
    return IngestResult(event=event, created=True, orders=orders)


def _spec_for(symbol: str) -> tuple[ContractSpec | None, str | None]:
    try:
        root = root_of(symbol)
    except SymbolError as exc:
        return None, str(exc)
    spec = ContractSpec.objects.filter(root=root).first()
    if spec is None:
        return None, f"no contract spec for {root}: nothing is sent on a guess"
    return spec, None


def _decide_group(
    group: CopyGroup,
    event: LeaderEvent,
    fill: LeaderFill,
    leader_before: int,
    spec: ContractSpec | None,
    spec_problem: str | None,
) -> list[CopyOrder]:
    followers = followers_for_engine(group)
    if not followers:
        return []
    account_ids = [f.account_id for f in followers]
    if spec is not None:
        positions_mark(
            account_ids=account_ids,
            symbol=fill.symbol,
            price=fill.price,
            point_value=spec.point_value,
        )
    held = dict(
        Position.objects.filter(account_id__in=account_ids, symbol=fill.symbol).values_list(
            "account_id", "qty"
        )
    )
    pnl = session_pnl_by_account(account_ids, fill.time)
    states = [
        FollowerState(
            key=str(f.account_id),
            ratio=f.ratio,
            position=held.get(f.account_id, 0),
            session_pnl=pnl[f.account_id],
            enabled=f.enabled,
            limits=_limits(f),
        )
        for f in followers
    ]
    decisions = decide_copies(
        fill, leader_before, group.to_engine(), states, route_key=str(group.pk)
    )
    by_account = {f.account_id: f for f in followers}
    orders = []
    for decision in decisions:
        follower = by_account[int(decision.follower)]
        orders.append(_order_from(decision, group, event, follower, spec_problem))
    CopyOrder.objects.bulk_create(orders)
    for order in orders:
        if order.status == CopyOrder.Status.BLOCKED:
            journal_record(
                owner_id=group.owner_id,
                event_type=EventType.COPY_ORDER_BLOCKED,
                group_id=group.pk,
                account_id=order.account_id,
                actor_label="engine",
                occurred_at=fill.time,
                message=f"{order.account.name}: {order.side} {fill.symbol} blocked: {order.reason}",
                extra_data={
                    "client_order_id": order.client_order_id,
                    "leader_event": fill.event_id,
                },
            )
    feed_publish_on_commit(
        user_id=group.owner_id,
        kind="copy_orders",
        data={"group": group.pk, "orders": [copy_order_payload(o) for o in orders]},
    )
    return orders


def _limits(follower: Follower) -> RiskLimits:
    try:
        return follower.account.risk_limit.to_engine()
    except RiskLimit.DoesNotExist:
        return RiskLimits()


def _order_from(
    decision: CopyDecision,
    group: CopyGroup,
    event: LeaderEvent,
    follower: Follower,
    spec_problem: str | None,
) -> CopyOrder:
    status = _STATUS[decision.status]
    qty, reason = decision.qty, decision.reason
    if spec_problem is not None and status == CopyOrder.Status.PENDING:
        # Fail closed: without a contract spec the fill cannot be valued, so
        # nothing is sent; the reason says what is missing.
        status, qty, reason = CopyOrder.Status.BLOCKED, 0, f"{reason}; blocked: {spec_problem}"
    return CopyOrder(
        leader_event=event,
        group=group,
        follower=follower,
        account=follower.account,
        client_order_id=decision.client_order_id,
        symbol=decision.symbol,
        side=decision.side.value,
        qty=qty,
        intent=decision.intent.value,
        status=status,
        reason=reason,
    )
