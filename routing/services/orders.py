"""Copy orders after the decision: claim, send, record the broker's answer.

Claiming is a conditional update (PENDING -> SENT) so two workers never send
one order (Healthchecks' sendalerts). An order left SENT by a crash has an
unknown outcome: recovery queries the broker by client order id and never
resends it blind.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from journal.models import EventType
from journal.services import fill_record, journal_record
from routing.brokers.base import OrderRequest, OrderResult, OrderStatus, OrderType
from routing.engine.conversion import same_underlying
from routing.engine.symbols import root_of
from routing.engine.types import Intent, Side
from routing.models import ContractSpec, CopyOrder
from routing.selectors import copy_order_payload, engine_contract_specs
from routing.services.expected import expected_position_move
from routing.services.feed import feed_publish_on_commit
from routing.services.quarantines import quarantine_start

_RESULT_STATUS = {
    OrderStatus.FILLED: CopyOrder.Status.FILLED,
    OrderStatus.PARTIALLY_FILLED: CopyOrder.Status.PARTIALLY_FILLED,
    OrderStatus.WORKING: CopyOrder.Status.WORKING,
    OrderStatus.REJECTED: CopyOrder.Status.REJECTED,
    OrderStatus.CANCELLED: CopyOrder.Status.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class ClaimedOrder:
    """A claimed order: the broker platform that serves it and the request."""

    platform: str
    request: OrderRequest


def copy_order_claim(*, order_id: int) -> ClaimedOrder | None:
    """Mark a PENDING order SENT and return what to hand which broker, or
    ``None`` when another worker claimed it first or it is not pending."""
    claimed = CopyOrder.objects.filter(pk=order_id, status=CopyOrder.Status.PENDING).update(
        status=CopyOrder.Status.SENT
    )
    if claimed != 1:
        return None
    order = CopyOrder.objects.select_related("leader_event", "account").get(pk=order_id)
    return ClaimedOrder(platform=order.account.platform, request=_request(order))


def _request(order: CopyOrder) -> OrderRequest:
    event = order.leader_event
    # A copy in the leader's product, or its mini/micro (one index, one
    # price), fills near the leader's price; a product on another underlying
    # or a sync order goes at the market (the broker's last mark).
    same_contract = event is not None and _same_underlying(event.symbol, order.symbol)
    return OrderRequest(
        account=order.account.external_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.qty,
        order_type=OrderType(order.order_type),
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        reference_price=event.price
        if same_contract and order.order_type == OrderType.MARKET
        else None,
        time=event.occurred_at if event is not None else None,
    )


def _same_underlying(a: str, b: str) -> bool:
    roots = {root_of(a), root_of(b)}
    if len(roots) == 1:
        return True
    specs = engine_contract_specs(roots)
    return len(specs) == 2 and same_underlying(*specs.values())


@transaction.atomic
def copy_order_record_result(*, order_id: int, result: OrderResult) -> CopyOrder:
    """Apply the broker's answer to a SENT order: status, fills, position,
    journal, feed. Fills already stored (same broker fill id) are skipped,
    so recording one result twice changes nothing."""
    order = (
        CopyOrder.objects.select_for_update().select_related("account", "group").get(pk=order_id)
    )
    if result.client_order_id != order.client_order_id:
        raise ValueError(
            f"result for {result.client_order_id} applied to order {order.client_order_id}"
        )
    spec = ContractSpec.objects.get(root=root_of(order.symbol))
    for fill in result.fills:
        fill_record(
            account_id=order.account_id,
            broker_fill_id=fill.fill_id,
            symbol=fill.symbol,
            side=fill.side.value,
            qty=fill.qty,
            price=fill.price,
            point_value=spec.point_value,
            filled_at=fill.time,
            copy_order_id=order.pk,
        )
    was_final = order.status in CopyOrder.FINAL_STATUSES
    if was_final:
        # A final order never changes again: a second report of it (the send's
        # answer and the broker's update stream) records nothing twice.
        return order
    order.status = _RESULT_STATUS[result.status]
    order.broker_order_id = result.broker_order_id or ""
    order.filled_qty = result.filled_qty
    order.avg_fill_price = result.avg_price
    if result.reason:
        order.reason = f"{order.reason}; broker: {result.reason}" if order.reason else result.reason
    order.save(
        update_fields=[
            "status",
            "broker_order_id",
            "filled_qty",
            "avg_fill_price",
            "reason",
            "updated_at",
        ]
    )
    is_copy = order.kind == CopyOrder.Kind.COPY
    if (
        is_copy
        and order.status in CopyOrder.FINAL_STATUSES
        and not was_final
        and order.filled_qty < order.qty
    ):
        # The unfilled rest will never fill: take it back out of what the
        # follower is expected to hold, so the next event sizes against reality.
        unfilled = (order.qty - order.filled_qty) * Side(order.side).sign
        expected_position_move(account_id=order.account_id, symbol=order.symbol, delta=-unfilled)
    if (
        order.status == CopyOrder.Status.REJECTED
        and is_copy
        and not was_final
        and order.intent in (Intent.ENTRY, Intent.REVERSAL)
        and order.group.quarantine
    ):
        quarantine_start(order=order, reason=f"entry rejected: {result.reason}")
    if order.status == CopyOrder.Status.REJECTED:
        journal_record(
            owner_id=order.group.owner_id,
            event_type=EventType.COPY_ORDER_REJECTED,
            group_id=order.group_id,
            account_id=order.account_id,
            actor_label="broker",
            message=(
                f"{order.account.name}: {order.side} {order.qty} {order.symbol} "
                f"rejected: {result.reason}"
            ),
            extra_data={"client_order_id": order.client_order_id},
        )
    elif order.filled_qty:
        journal_record(
            owner_id=order.group.owner_id,
            event_type=EventType.COPY_ORDER_FILLED,
            group_id=order.group_id,
            account_id=order.account_id,
            actor_label="broker",
            message=(
                f"{order.account.name}: {order.side} {order.filled_qty} {order.symbol} "
                f"filled @ {order.avg_fill_price}"
            ),
            extra_data={"client_order_id": order.client_order_id},
        )
    order = CopyOrder.objects.select_related("leader_event", "account").get(pk=order.pk)
    feed_publish_on_commit(
        user_id=order.group.owner_id,
        kind="copy_orders",
        data={"group": order.group_id, "orders": [copy_order_payload(order)]},
    )
    return order


def copy_order_update(*, result: OrderResult) -> CopyOrder | None:
    """Apply an update from a broker's order stream to the copy order with
    that client order id; ``None`` when no copy order has it (a flatten or a
    bracket exit) or the order was never handed to the broker."""
    order_id = (
        CopyOrder.objects.filter(client_order_id=result.client_order_id)
        .exclude(status=CopyOrder.Status.PENDING)
        .values_list("pk", flat=True)
        .first()
    )
    if order_id is None:
        return None
    return copy_order_record_result(order_id=order_id, result=result)


def copy_order_broker_ref(*, order_id: int) -> tuple[str, str, str]:
    """``(platform, account external id, client order id)`` of a copy order."""
    order = CopyOrder.objects.select_related("account").get(pk=order_id)
    return order.account.platform, order.account.external_id, order.client_order_id


def copy_order_reprice(
    *, order_id: int, limit_price: Decimal | None, stop_price: Decimal | None
) -> None:
    """Record the prices a mirrored order works at after the broker accepted a modify."""
    CopyOrder.objects.filter(pk=order_id).update(limit_price=limit_price, stop_price=stop_price)


def copy_orders_in_doubt() -> list[int]:
    """Orders left SENT (outcome unknown, e.g. the worker died mid-send)."""
    return list(
        CopyOrder.objects.filter(status=CopyOrder.Status.SENT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def copy_orders_pending() -> list[int]:
    """Orders decided but never claimed: a fan-out cut short by a crash, or a
    sync order queued from the dashboard. Sending them is safe: the claim is
    conditional and the client order id is the broker's idempotency key."""
    return list(
        CopyOrder.objects.filter(status=CopyOrder.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def copy_order_request(*, order_id: int) -> ClaimedOrder:
    """The request of an order already claimed (SENT), for recovery."""
    order = CopyOrder.objects.select_related("leader_event", "account").get(pk=order_id)
    return ClaimedOrder(platform=order.account.platform, request=_request(order))
