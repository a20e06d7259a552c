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
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import BrokerAccount
from journal.models import EventType, Position
from journal.services import fill_record, journal_record, positions_mark
from routing.engine.conversion import micro_root
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.symbols import SymbolError, parse_contract, root_of
from routing.engine.types import ContractSpec as EngineSpec
from routing.engine.types import (
    CopyDecision,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    LeaderFill,
    SizingBasis,
)
from routing.models import CopyGroup, CopyOrder, ExpectedPosition, Follower, LeaderEvent
from routing.selectors import (
    copy_order_payload,
    engine_contract_specs,
    followers_for_engine,
)
from routing.services.expected import expected_positions_locked, expected_positions_save
from routing.services.feed import feed_publish_on_commit
from routing.services.leases import LeaseFence, leader_lock
from routing.services.quarantines import quarantines_active
from routing.services.risk_watch import account_breaches_apply, accounts_risk

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


def leader_event_ingest(
    *, account: BrokerAccount, fill: LeaderFill, source: str, fence: LeaseFence | None = None
) -> IngestResult:
    """Store ``fill`` on leader ``account`` once and decide its copies.

    Idempotent on ``(account, fill.event_id)``: a second delivery returns the
    first event's orders with ``created=False`` and sends nothing new, also
    when two deliveries race (the unique constraint decides). With ``fence``
    (an engine worker's lease on the leader) nothing is stored or decided
    unless the lease is still the fence's: raises ``LeaseLostError``.
    """
    try:
        with transaction.atomic():
            return _ingest(account, fill, source, fence)
    except IntegrityError:
        event = LeaderEvent.objects.get(account=account, external_id=fill.event_id)
        return IngestResult(event=event, created=False, orders=list(event.copy_orders.all()))


def _ingest(
    account: BrokerAccount, fill: LeaderFill, source: str, fence: LeaseFence | None
) -> IngestResult:
    # One leader's events are applied one at a time: its position before
    # each fill must be the position after the previous one. The same locked
    # read checks the worker still holds the leader's lease (fencing).
    leader_lock(leader_id=account.pk, fence=fence)
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
        seq=fill.seq,
        order_id=fill.order_id or "",
    )
    # The engine keys idempotency on the stored event (leader account id and
    # broker fill id), whatever spelling of the account the source used.
    fill = event.to_engine()
    specs = engine_contract_specs()
    spec = _spec_for(fill.symbol, specs)
    leader_position = Position.objects.filter(account=account, symbol=fill.symbol).first()
    leader_before = leader_position.qty if leader_position else 0

    orders: list[CopyOrder] = []
    # Paused groups are decided too: the engine copies their exits, not entries.
    groups = CopyGroup.objects.filter(leader=account).order_by("pk")
    for group in groups:
        orders.extend(_decide_group(group, event, fill, leader_before, specs))

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


def _spec_for(symbol: str, specs: dict[str, EngineSpec]) -> EngineSpec | None:
    try:
        return specs.get(root_of(symbol))
    except SymbolError:
        return None


def _decide_group(
    group: CopyGroup,
    event: LeaderEvent,
    fill: LeaderFill,
    leader_before: int,
    specs: dict[str, EngineSpec],
) -> list[CopyOrder]:
    followers = followers_for_engine(group)
    if not followers:
        return []
    account_ids = [f.account_id for f in followers]
    config = group.to_engine()
    move = LeaderMove.of_fill(fill, leader_before)
    candidates = _follower_symbols(fill.symbol, config, specs)
    if fill.symbol in candidates and root_of(fill.symbol) in specs:
        positions_mark(
            account_ids=account_ids,
            symbol=fill.symbol,
            price=fill.price,
            point_value=specs[root_of(fill.symbol)].point_value,
        )
    expected = expected_positions_locked(account_ids, candidates)
    states = follower_states(
        followers,
        {key: row.qty for key, row in expected.items()},
        at=fill.time,
    )
    decisions = decide_copies(
        move, config, states, specs, route_key=str(group.pk), marks=_marks(candidates)
    )
    by_account = {f.account_id: f for f in followers}
    orders = []
    scaled: dict[str, int] = {}
    for decision in decisions:
        if decision.scaled_from is not None:
            scaled[decision.client_order_id] = decision.scaled_from
        follower = by_account[int(decision.follower)]
        order = _order_from(decision, group, event, follower)
        if order.status == CopyOrder.Status.PENDING:
            row = expected[(follower.account_id, order.symbol)]
            row.qty = decision.target
        orders.append(order)
    expected_positions_save(expected)
    CopyOrder.objects.bulk_create(orders)
    for order in orders:
        if order.client_order_id in scaled:
            journal_record(
                owner_id=group.owner_id,
                event_type=EventType.COPY_ORDER_SCALED,
                group_id=group.pk,
                account_id=order.account_id,
                actor_label="engine",
                occurred_at=fill.time,
                message=(
                    f"{order.account.name}: {order.side} {order.symbol} entry scaled down from "
                    f"{scaled[order.client_order_id]}: {order.reason}"
                ),
                extra_data={
                    "client_order_id": order.client_order_id,
                    "leader_event": fill.event_id,
                    "entry_requested": scaled[order.client_order_id],
                },
            )
        if order.status == CopyOrder.Status.BLOCKED:
            journal_record(
                owner_id=group.owner_id,
                event_type=EventType.COPY_ORDER_BLOCKED,
                group_id=group.pk,
                account_id=order.account_id,
                actor_label="engine",
                occurred_at=fill.time,
                message=(
                    f"{order.account.name}: {order.side} {order.symbol} blocked: {order.reason}"
                ),
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


def _follower_symbols(
    leader_symbol: str, config: GroupConfig, specs: dict[str, EngineSpec]
) -> set[str]:
    """Every contract a follower may trade for ``leader_symbol``: the mapped
    or own product and, with auto micro, its micro."""
    try:
        contract = parse_contract(leader_symbol)
    except SymbolError:
        return {leader_symbol}
    root = config.mapped_root(contract.root) or contract.root
    symbols = {contract.with_root(root).code}
    micro = micro_root(root, specs) if config.auto_micro else None
    if micro is not None:
        symbols.add(contract.with_root(micro).code)
    return symbols


def _marks(symbols: set[str]) -> dict[str, Decimal]:
    """Last known prices of ``symbols`` from any account's marked position."""
    rows = (
        Position.objects.filter(symbol__in=symbols, mark_price__isnull=False)
        .order_by("symbol", "-updated_at")
        .values_list("symbol", "mark_price")
    )
    marks: dict[str, Decimal] = {}
    for symbol, price in rows:
        marks.setdefault(symbol, price)
    return marks


def follower_states(
    followers: list[Follower], positions: dict[tuple[int, str], int], *, at: datetime
) -> list[FollowerState]:
    """The engine's view of ``followers`` at aware ``at``.

    ``positions`` ((account id, contract) -> signed contracts) holds the
    tracked positions of the event's contracts (locked by the caller); every
    other tracked position of the accounts is read too, because the risk
    checks count open positions and exposure across contracts. Also: session
    PnL, limits, sizing basis, balance, active quarantines and the session
    risk state, after layer 2 applied any halt due now (journaled).
    """
    account_ids = [f.account_id for f in followers]
    held: dict[int, dict[str, int]] = {a: {} for a in account_ids}
    for account_id, symbol, qty in (
        ExpectedPosition.objects.filter(account_id__in=account_ids)
        .exclude(qty=0)
        .values_list("account_id", "symbol", "qty")
    ):
        held[account_id][symbol] = qty
    for (account_id, symbol), qty in positions.items():
        held[account_id][symbol] = qty
    quarantined = quarantines_active(followers, at=at)
    risks = accounts_risk([f.account for f in followers], at=at)
    risks = account_breaches_apply(
        risks, at=at, group_of={f.account_id: f.group_id for f in followers}
    )
    return [
        FollowerState(
            key=str(f.account_id),
            ratio=f.ratio,
            positions=held[f.account_id],
            session_pnl=risks[f.account_id].session_pnl,
            enabled=f.enabled,
            limits=risks[f.account_id].limits,
            sizing_basis=SizingBasis(f.sizing_basis),
            balance=f.account.balance,
            quarantined=quarantined.get(f.pk, frozenset()),
            session=risks[f.account_id].state,
        )
        for f in followers
    ]


def _order_from(
    decision: CopyDecision,
    group: CopyGroup,
    event: LeaderEvent,
    follower: Follower,
) -> CopyOrder:
    return CopyOrder(
        leader_event=event,
        group=group,
        follower=follower,
        account=follower.account,
        client_order_id=decision.client_order_id,
        symbol=decision.symbol,
        side=decision.side.value,
        qty=decision.qty,
        intent=decision.intent.value,
        status=_STATUS[decision.status],
        reason=decision.reason,
        position_before=decision.position_before,
        target=decision.target,
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
