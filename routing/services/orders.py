"""Copy orders after the decision: claim, send, record the broker's answer.

Claiming is a conditional update (PENDING -> SENT) so two workers never send
one order (Healthchecks' sendalerts). An order left SENT by a crash has an
unknown outcome: recovery queries the broker by client order id and never
resends it blind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import BrokerAccount
from journal.models import EventType
from journal.services import fill_record, journal_record
from routing.brokers.base import OrderRequest, OrderResult, OrderStatus, OrderType
from routing.engine.conversion import same_underlying
from routing.engine.symbols import SymbolError, parse_contract, root_of
from routing.engine.types import Intent, Side
from routing.models import ContractSpec, CopyOrder, Incident
from routing.selectors import copy_order_payload, engine_contract_specs
from routing.services.expected import expected_position_move
from routing.services.feed import feed_publish_on_commit
from routing.services.incidents import incident_record
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
    journal, feed, and incidents. Fills already stored (same broker fill id)
    are skipped, so recording one result twice changes nothing.

    Incidents (each locks the route at level 4, :mod:`routing.services.incidents`,
    at most one per order and kind): the order REJECTED; a fill in another
    contract than the order's (stored under its own contract when that has a
    spec, else left out of the journal and named in the incident); more
    contracts executed than ordered (a duplicate execution: every fill is
    stored, since it really happened, and ``filled_qty`` is capped at ``qty``;
    reconciliation then shows the extra as a desync); a market order in the
    leader's contract (or its mini/micro) whose average fill is more than the
    group's ``max_slippage_ticks`` from the leader's fill price.

    Raises ``ValueError`` when ``result`` belongs to another client order id.
    """
    peek = CopyOrder.objects.select_related("account", "group", "leader_event").get(pk=order_id)
    if result.client_order_id != peek.client_order_id:
        raise ValueError(
            f"result for {result.client_order_id} applied to order {peek.client_order_id}"
        )
    spec = ContractSpec.objects.get(root=root_of(peek.symbol))
    if _findings(peek, result, spec):
        # An incident locks the route (leader account, then group). Take the
        # leader's row before this order's, as leader events and mirrors do
        # (leader, then copy orders and positions), so the two never wait on
        # each other in opposite order. The locked re-check below decides.
        BrokerAccount.objects.select_for_update().filter(pk=peek.group.leader_id).first()
    order = (
        CopyOrder.objects.select_for_update(of=("self",))
        .select_related("account", "group", "leader_event")
        .get(pk=order_id)
    )
    unrecorded = _record_fills(order, result, spec)
    findings = _findings(order, result, spec, unrecorded=unrecorded)
    was_final = order.status in CopyOrder.FINAL_STATUSES
    if was_final:
        # A final order never changes again: a second report of it (the send's
        # answer and the broker's update stream) records nothing twice. Fills
        # arriving after it ended are a duplicate execution all the same.
        _incidents(order, findings)
        return order
    order.status = _RESULT_STATUS[result.status]
    order.broker_order_id = result.broker_order_id or ""
    # The database holds filled <= qty; a broker reporting more (a duplicate
    # execution) is an incident, the order itself counts as completely filled.
    order.filled_qty = min(result.filled_qty, order.qty)
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
    _incidents(order, findings)
    order = CopyOrder.objects.select_related("leader_event", "account").get(pk=order.pk)
    feed_publish_on_commit(
        user_id=order.group.owner_id,
        kind="copy_orders",
        data={"group": order.group_id, "orders": [copy_order_payload(order)]},
    )
    return order


def _contract_code(symbol: str) -> str | None:
    try:
        return parse_contract(symbol).code
    except SymbolError:
        return None


def _record_fills(order: CopyOrder, result: OrderResult, spec: ContractSpec) -> dict[str, str]:
    """Store ``result``'s fills on the order's account; returns the fills that
    could not be stored (fill id -> why), i.e. fills in an unreadable contract
    or one without a spec: no point value, so no honest PnL to journal."""
    unrecorded: dict[str, str] = {}
    for fill in result.fills:
        symbol, point_value = order.symbol, spec.point_value
        if fill.symbol != order.symbol:
            code = _contract_code(fill.symbol)
            other = (
                ContractSpec.objects.filter(root=root_of(code)).first()
                if code is not None
                else None
            )
            if code is None or other is None:
                unrecorded[fill.fill_id] = (
                    f"contract {fill.symbol!r} unreadable"
                    if code is None
                    else f"no contract spec for {root_of(code)}"
                )
                continue
            symbol, point_value = code, other.point_value
        fill_record(
            account_id=order.account_id,
            broker_fill_id=fill.fill_id,
            symbol=symbol,
            side=fill.side.value,
            qty=fill.qty,
            price=fill.price,
            point_value=point_value,
            filled_at=fill.time,
            copy_order_id=order.pk,
        )
    return unrecorded


@dataclass(frozen=True, slots=True)
class _Finding:
    """One incident found in a broker answer: kind, sentence, figures."""

    kind: Incident.Kind
    detail: str
    numbers: dict[str, Any]


def _findings(
    order: CopyOrder,
    result: OrderResult,
    spec: ContractSpec,
    *,
    unrecorded: Mapping[str, str] | None = None,
) -> list[_Finding]:
    """What in ``result`` is an incident for ``order``; a pure function of
    the two (and the group's slippage limit), so the unlocked pre-check and
    the locked check agree."""
    who = f"{order.account.name}: "
    what = f"{order.side} {order.qty} {order.symbol}"
    coid = order.client_order_id
    found: list[_Finding] = []
    if result.status is OrderStatus.REJECTED:
        found.append(
            _Finding(
                Incident.Kind.REJECTED_ORDER,
                f"{who}{what} rejected by the broker: {result.reason or 'no reason given'} "
                f"(order {coid})",
                {"reason": result.reason},
            )
        )
    mismatched = [f for f in result.fills if _contract_code(f.symbol) != order.symbol]
    for fill in mismatched:
        note = (unrecorded or {}).get(fill.fill_id)
        found.append(
            _Finding(
                Incident.Kind.SYMBOL_MISMATCH,
                f"{who}{what} (order {coid}) filled in {fill.symbol}: {fill.side.value} "
                f"{fill.qty} @ {fill.price}, fill {fill.fill_id}"
                + (f"; not journaled: {note}" if note else ""),
                {
                    "ordered_symbol": order.symbol,
                    "filled_symbol": fill.symbol,
                    "fill_id": fill.fill_id,
                    "qty": fill.qty,
                    "price": fill.price,
                },
            )
        )
        break  # one incident per order and kind: the first mismatch names it
    executions = {f.fill_id: f.qty for f in result.fills}  # a fill listed twice is one
    executed = max(result.filled_qty, sum(executions.values()))
    if executed > order.qty:
        found.append(
            _Finding(
                Incident.Kind.DUPLICATE_ORDER,
                f"{who}{what} (order {coid}): the broker reports {executed} contracts executed "
                f"in {len(executions)} fill{'s' if len(executions) != 1 else ''}, "
                f"{executed - order.qty} more than ordered",
                {"ordered": order.qty, "executed": executed, "extra": executed - order.qty},
            )
        )
    slipped = _slippage(order, result, spec)
    if slipped is not None:
        found.append(slipped)
    return found


def _slippage(order: CopyOrder, result: OrderResult, spec: ContractSpec) -> _Finding | None:
    """Slippage beyond the group's ``max_slippage_ticks``: ``|avg fill - leader
    fill| / tick size`` for a market copy in the leader's contract or its
    mini/micro (the orders sent with the leader's price as reference)."""
    limit = order.group.max_slippage_ticks
    event = order.leader_event
    if (
        limit is None
        or event is None
        or order.order_type != OrderType.MARKET
        or not _same_underlying(event.symbol, order.symbol)
    ):
        return None
    own = [f for f in result.fills if _contract_code(f.symbol) == order.symbol]
    qty = sum(f.qty for f in own)
    if qty:
        avg = sum((f.price * f.qty for f in own), Decimal(0)) / qty
    elif result.avg_price is not None:
        avg = result.avg_price
    else:
        return None
    tick = spec.tick_size
    ticks = abs(avg - event.price) / tick
    if ticks <= limit:
        return None
    shown = _plain(ticks.quantize(Decimal("0.01")))
    name = order.account.name
    return _Finding(
        Incident.Kind.SLIPPAGE,
        f"slipped {shown} ticks > max {limit} on {order.symbol}: {name} {order.side} "
        f"{qty or result.filled_qty} @ avg {_plain(avg)} vs leader {_plain(event.price)} "
        f"(tick {_plain(tick)}, order {order.client_order_id})",
        {
            "ticks": shown,
            "max_slippage_ticks": limit,
            "avg_fill_price": _plain(avg),
            "leader_price": _plain(event.price),
            "tick_size": _plain(tick),
        },
    )


def _plain(value: Decimal) -> Decimal:
    """``6.00`` -> ``6``, ``21001.500000`` -> ``21001.5``: figures as people write them."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _incidents(order: CopyOrder, findings: list[_Finding]) -> None:
    for finding in findings:
        incident_record(
            group=order.group,
            kind=finding.kind,
            detail=finding.detail,
            account=order.account,
            copy_order=order,
            numbers=finding.numbers,
        )


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
    orders = CopyOrder.objects.filter(status=CopyOrder.Status.PENDING)
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
