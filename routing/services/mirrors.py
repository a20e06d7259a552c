"""Leader working orders mirrored into followers' working orders.

A leader LIMIT / STOP / STOP_LIMIT order is mirrored to each follower as the
same order type at the same prices, sized as the change its fill would make
to the follower's target (the engine, with the leader's position moved by the
order's quantity), and tied to the leader order by ``leader_order_id``. The
mirror counts in the follower's expected position from the start, so when
the leader's order fills, the fill sizes nothing twice: the follower's own
mirror fills at its broker on the same prices. Leader changes propagate:

* price moved (stop or target moved, limit changed): the mirrors are modified;
* quantity changed: the mirrors are cancelled and re-sized as new orders;
* cancelled: the mirrors are cancelled (their unfilled rest leaves the
  expected position when the broker confirms).

A bracket's stop loss and take profit are not mirrored as orders
(:attr:`LeaderOrder.is_bracket_exit` says why): when either leg fills, in
full or in part, followers exit from that fill like from any other exit, to
their rounded targets. A leg's events are stored and journaled; a mirror of
it left working (by a release that mirrored legs) is cancelled at its next
event, so it cannot close a follower a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import BrokerAccount
from journal.models import EventType, Position
from journal.services import journal_record
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.types import ContractSpec as EngineSpec
from routing.engine.types import (
    DecisionStatus,
    LeaderOrder,
    LeaderOrderAction,
    Side,
)
from routing.models import CopyGroup, CopyOrder, LeaderEvent
from routing.selectors import copy_order_payload, engine_contract_specs, followers_for_engine
from routing.services.expected import expected_positions_locked, expected_positions_save
from routing.services.feed import feed_publish_on_commit
from routing.services.follower_state import FollowerStates
from routing.services.leases import LeaseFence, leader_lock


@dataclass
class MirrorActions:
    """What the worker must do at the brokers for one leader order event:
    send these new orders, move these to the leader's new prices, cancel
    these. Ids are ``CopyOrder`` primary keys; the order rows take the new
    prices once the broker confirms (``copy_order_reprice``)."""

    send: list[int] = field(default_factory=list)
    modify: list[int] = field(default_factory=list)
    cancel: list[int] = field(default_factory=list)
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


def leader_order_apply(
    *, account: BrokerAccount, order: LeaderOrder, source: str, fence: LeaseFence | None = None
) -> MirrorActions:
    """Store leader working-order event ``order`` once and decide its mirrors.

    Idempotent on ``(account, order.event_id)``: a re-delivery returns no
    actions. Runs in one transaction holding the leader's row lock, like fills,
    and with ``fence`` only while the worker holds the leader's lease (else
    raises ``LeaseLostError``, nothing stored).
    """
    try:
        with transaction.atomic():
            return _apply(account, order, source, fence)
    except IntegrityError:
        return MirrorActions()  # a concurrent delivery of the same event won


def _apply(
    account: BrokerAccount, order: LeaderOrder, source: str, fence: LeaseFence | None
) -> MirrorActions:
    leader_lock(leader_id=account.pk, fence=fence)
    if LeaderEvent.objects.filter(account=account, external_id=order.event_id).exists():
        return MirrorActions()
    event = LeaderEvent.objects.create(
        account=account,
        external_id=order.event_id,
        symbol=order.symbol,
        side=order.side.value,
        qty=order.qty,
        price=order.limit_price if order.limit_price is not None else order.stop_price,
        occurred_at=order.time,
        source=source,
        seq=order.seq,
        order_id=order.order_id,
        action=order.action.value,
    )
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.LEADER_EVENT_RECEIVED,
        account_id=account.pk,
        actor_label=source,
        occurred_at=order.time,
        message=(
            f"Leader {account.name} order {order.order_id} {order.action}: {order.side.value} "
            f"{order.qty} {order.symbol} {order.order_type} {_prices(order)}"
            + (
                f"; exit leg of bracket {order.parent_order_id}: followers exit from its fills"
                if order.is_bracket_exit
                else ""
            )
        ),
        extra_data={
            "event_id": order.event_id,
            "order_id": order.order_id,
            "seq": order.seq,
            "parent_order_id": order.parent_order_id,
        },
    )
    live = list(
        CopyOrder.objects.select_for_update()
        .filter(
            group__leader=account,
            leader_order_id=order.order_id,
            status__in=CopyOrder.OPEN_STATUSES,
        )
        .order_by("pk")
    )
    actions = MirrorActions()
    if order.action is LeaderOrderAction.CANCEL or order.is_bracket_exit:
        actions.cancel = [o.pk for o in live]
        return actions
    if order.action is LeaderOrderAction.MODIFY:
        resized = any(o.leader_event.qty != order.qty for o in live)
        if live and not resized:
            actions.modify = [o.pk for o in live]
            actions.limit_price, actions.stop_price = order.limit_price, order.stop_price
            return actions
        actions.cancel = [o.pk for o in live]
    specs = engine_contract_specs()
    for group in CopyGroup.objects.filter(leader=account).order_by("pk"):
        actions.send.extend(_mirror_group(group, event, order, specs, exclude=live))
    return actions


def _prices(order: LeaderOrder) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (
            ("limit", order.limit_price),
            ("stop", order.stop_price),
            ("stop loss", order.stop_loss),
            ("take profit", order.take_profit),
        )
        if value is not None
    ]
    return f"({', '.join(parts)})" if parts else ""


def _mirror_group(
    group: CopyGroup,
    event: LeaderEvent,
    order: LeaderOrder,
    specs: dict[str, EngineSpec],
    *,
    exclude: list[CopyOrder],
) -> list[int]:
    followers = followers_for_engine(group)
    if not followers:
        return []
    account_ids = [f.account_id for f in followers]
    leader_row = Position.objects.filter(account=group.leader, symbol=order.symbol).first()
    leader_now = leader_row.qty if leader_row else 0
    move = LeaderMove(
        event_key=f"{group.leader_id}:{order.event_id}",
        symbol=order.symbol,
        before=leader_now,
        after=leader_now + order.side.sign * order.qty,
        price=order.limit_price if order.limit_price is not None else order.stop_price,
    )
    symbols = {order.symbol}
    expected = expected_positions_locked(account_ids, symbols)
    # Mirrors being replaced leave the expected position with the cancel;
    # size the new ones as if they were already gone.
    replaced: dict[tuple[int, str], int] = {}
    for m in exclude:
        key = (m.account_id, m.symbol)
        replaced[key] = replaced.get(key, 0) + (m.qty - m.filled_qty) * Side(m.side).sign
    states = FollowerStates(
        followers,
        {key: row.qty - replaced.get(key, 0) for key, row in expected.items()},
        at=order.time,
    ).states(followers)
    config = group.to_engine()
    by_account = {f.account_id: f for f in followers}
    created = []
    for decision in decide_copies(move, config, states, specs, route_key=str(group.pk)):
        if decision.status is not DecisionStatus.SEND or decision.symbol != order.symbol:
            # Mirrors stay in the leader's contract at its prices; converted
            # followers copy the fills instead.
            continue
        follower = by_account[int(decision.follower)]
        mirror = CopyOrder.objects.create(
            leader_event=event,
            group=group,
            follower=follower,
            account=follower.account,
            client_order_id=decision.client_order_id,
            symbol=decision.symbol,
            side=decision.side.value,
            qty=decision.qty,
            intent=decision.intent.value,
            status=CopyOrder.Status.PENDING,
            reason=f"mirrors leader {order.order_type} {order.order_id}; {decision.reason}",
            order_type=order.order_type.value,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            leader_order_id=order.order_id,
            position_before=decision.position_before,
            target=decision.target,
        )
        expected[(follower.account_id, decision.symbol)].qty += decision.side.sign * decision.qty
        created.append(mirror)
    expected_positions_save(expected)
    if created:
        feed_publish_on_commit(
            user_id=group.owner_id,
            kind="copy_orders",
            data={"group": group.pk, "orders": [copy_order_payload(o) for o in created]},
        )
    return [o.pk for o in created]
