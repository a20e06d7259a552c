"""Copy orders after the decision: claim, send, record the broker's answer.

Claiming is a conditional update (PENDING -> SENT) so two workers never send
one order (Healthchecks' sendalerts). An order left SENT by a crash has an
unknown outcome: recovery queries the broker by client order id and never
resends it blind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from routing.brokers.base import OrderRequest, OrderResult, OrderType
from routing.engine.collar import COLLAR_CODE
from routing.engine.conversion import same_underlying
from routing.engine.symbols import root_of
from routing.engine.types import ContractSpec as EngineSpec
from routing.engine.types import Intent, Side
from routing.models import CopyOrder, LeaderEvent
from routing.selectors import copy_order_payload, engine_contract_specs
from routing.services.expected import expected_position_move
from routing.services.feed import feed_publish_on_commit

# Recording a broker answer is part of this module's API (it lives beside the
# batch recorder): re-exported for the router's callers.
from routing.services.order_results import copy_order_record_result as copy_order_record_result
from routing.services.order_results import copy_orders_record


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
    return order_request(order)


def order_request(
    order: CopyOrder,
    *,
    event: LeaderEvent | None = None,
    specs: Mapping[str, EngineSpec] | None = None,
) -> OrderRequest:
    """What to hand the broker for ``order``. ``event`` (default: the
    order's leader event) and ``specs`` (contract specs by root; default read
    when needed) let the hot path build requests without a query."""
    event = event if event is not None else order.leader_event
    # A copy in the leader's product, or its mini/micro (one index, one
    # price), fills near the leader's price; a product on another underlying
    # or a sync order goes at the market (the broker's last mark).
    same_contract = event is not None and _same_underlying(event.symbol, order.symbol, specs)
    # A collared leader price is not a price to fill anything at: such an
    # exit goes at the market (routing.engine.collar).
    priced = not order.reason.startswith(COLLAR_CODE)
    order_type = _ORDER_TYPES.get(order.order_type) or OrderType(order.order_type)
    return OrderRequest(
        account=order.account.external_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=_SIDES.get(order.side) or Side(order.side),
        qty=order.qty,
        order_type=order_type,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        reference_price=event.price
        if event is not None and same_contract and priced and order_type is OrderType.MARKET
        else None,
        time=event.occurred_at if event is not None else None,
        closing=order.intent == _EXIT,
    )


# The stored texts as the members, without an enum lookup call per order (an
# unknown text still goes through the enum, which refuses it).
_SIDES = {side.value: side for side in Side}
_ORDER_TYPES = {kind.value: kind for kind in OrderType}
_EXIT = Intent.EXIT.value


def _same_underlying(a: str, b: str, specs: Mapping[str, EngineSpec] | None = None) -> bool:
    roots = {root_of(a), root_of(b)}
    if len(roots) == 1:
        return True
    if specs is None:
        specs = engine_contract_specs(roots)
    found = [specs[r] for r in roots if r in specs]
    return len(found) == 2 and same_underlying(*found)


def copy_order_updates(*, results: Sequence[OrderResult]) -> list[CopyOrder]:
    """Apply a batch of order-stream updates in one transaction
    (:func:`routing.services.order_results.copy_orders_record`); updates with
    no copy order handed to a broker under their client order id (a flatten,
    a bracket exit) are left out. Returns the orders recorded."""
    coids = {r.client_order_id for r in results}
    order_of = dict(
        CopyOrder.objects.filter(client_order_id__in=coids)
        .exclude(status=CopyOrder.Status.PENDING)
        .order_by("-pk")
        .values_list("client_order_id", "pk")
    )
    found = [(order_of[r.client_order_id], r) for r in results if r.client_order_id in order_of]
    return copy_orders_record(results=found) if found else []


def copy_order_broker_ref(*, order_id: int) -> tuple[str, str, str]:
    """``(platform, account external id, client order id)`` of a copy order."""
    order = CopyOrder.objects.select_related("account").get(pk=order_id)
    return order.account.platform, order.account.external_id, order.client_order_id


def copy_order_reprice(
    *, order_id: int, limit_price: Decimal | None, stop_price: Decimal | None
) -> None:
    """Record the prices a mirrored order works at after the broker accepted a modify."""
    CopyOrder.objects.filter(pk=order_id).update(limit_price=limit_price, stop_price=stop_price)


def copy_orders_in_doubt(*, leader_ids: Collection[int] | None = None) -> list[int]:
    """Orders left SENT (outcome unknown, e.g. the worker died mid-send); only
    those of groups led by ``leader_ids`` when given (a worker's leases)."""
    orders = CopyOrder.objects.filter(status=CopyOrder.Status.SENT)
    if leader_ids is not None:
        orders = orders.filter(group__leader_id__in=list(leader_ids))
    return list(orders.order_by("pk").values_list("pk", flat=True))


def copy_orders_pending(*, leader_ids: Collection[int] | None = None) -> list[int]:
    """Orders decided but never claimed: a fan-out cut short by a crash, or a
    sync order queued from the dashboard. Sending them is safe: the claim is
    conditional and the client order id is the broker's idempotency key.
    Only those of groups led by ``leader_ids`` when given (a worker's leases)."""
    # awaiting_claim is status == PENDING, kept by the database: its partial
    # index serves this poll (an index on status would cost every answer).
    orders = CopyOrder.objects.filter(awaiting_claim=True)
    if leader_ids is not None:
        orders = orders.filter(group__leader_id__in=list(leader_ids))
    return list(orders.order_by("pk").values_list("pk", flat=True))


def copy_order_request(*, order_id: int) -> ClaimedOrder:
    """The request of an order already claimed (SENT), for recovery."""
    order = CopyOrder.objects.select_related("leader_event", "account").get(pk=order_id)
    return ClaimedOrder(platform=order.account.platform, request=_request(order))


@transaction.atomic
def copy_order_cancel_unsent(*, order_id: int, reason: str) -> bool:
    """Cancel an order the broker does not have: PENDING (never claimed) or
    SENT where the broker reports never having seen it. Conditional on that
    status, so an order another task claims or records meanwhile is left to
    it; False when nothing changed. A copy order's size goes back out of the
    follower's expected position (it never filled), journal-free like any
    cancel; the feed shows it.
    """
    order = (
        CopyOrder.objects.select_for_update(of=("self",))
        .select_related("account", "group", "leader_event")
        .filter(pk=order_id, status__in=[CopyOrder.Status.PENDING, CopyOrder.Status.SENT])
        .first()
    )
    if order is None:
        return False
    order.status = CopyOrder.Status.CANCELLED
    order.reason = f"{order.reason}; {reason}" if order.reason else reason
    order.save(update_fields=["status", "reason", "updated_at"])
    if order.kind == CopyOrder.Kind.COPY and order.filled_qty < order.qty:
        unfilled = (order.qty - order.filled_qty) * Side(order.side).sign
        expected_position_move(account_id=order.account_id, symbol=order.symbol, delta=-unfilled)
    feed_publish_on_commit(
        user_id=order.group.owner_id,
        kind="copy_orders",
        data={"group": order.group_id, "orders": [copy_order_payload(order)]},
    )
    return True
