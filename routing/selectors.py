"""Reads for routing: follower state for the engine, feed snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from accounts.models import User
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from journal.models import Position, SessionRealized
from routing.engine.sessions import trading_date
from routing.engine.types import ContractSpec as EngineSpec
from routing.models import (
    AccountSession,
    ContractSpec,
    CopyGroup,
    CopyOrder,
    EngineWorkerHeartbeat,
    FlattenRequest,
    Follower,
    LeaderLease,
)

FEED_LENGTH = 25
# A silent engine is "stale" (maybe a long pass, a paused process) for this
# long after its newest heartbeat, then "down".
ENGINE_STALE_FOR = timedelta(seconds=60)


def session_pnl_by_account(
    account_ids: Iterable[int],
    at: datetime,
    *,
    realized: Mapping[int, Decimal] | None = None,
    carried: Mapping[int, Decimal] | None = None,
    unrealized: Mapping[int, Decimal] | None = None,
) -> dict[int, Decimal]:
    """PnL in dollars per account for the session holding ``at``: realized
    (fills since the session opened) + unrealized (open positions at their
    last mark) - the unrealized they carried in at the session start
    (:class:`routing.models.AccountSession`, once the session was reset).

    A caller that has read them already passes ``realized`` (account id ->
    dollars, as :func:`session_realized_by_account` gives it) and ``carried``
    (account id -> ``opening_unrealized`` of its session row for the trading
    date of ``at``; an account missing has no row yet): each saves a
    statement, and the hot path used to run the same aggregate twice.
    So does ``unrealized`` (account id -> dollars, as
    :func:`open_unrealized_by_account` gives it; an account missing holds
    nothing open).
    """
    ids = list(account_ids)
    pnl = dict.fromkeys(ids, Decimal(0))
    if realized is None:
        realized = session_realized_by_account(ids, at)
    for account_id in ids:
        pnl[account_id] += realized.get(account_id, Decimal(0))
    if unrealized is None:
        unrealized = open_unrealized_by_account(ids)
    for account_id in ids:
        pnl[account_id] += unrealized.get(account_id, Decimal(0))
    if carried is None:
        carried = dict(
            AccountSession.objects.filter(
                account_id__any_of=ids, trading_date=trading_date(at)
            ).values_list("account_id", "opening_unrealized")
        )
    # PnL open positions carried into the session belongs to the opening equity.
    for account_id, opening_unrealized in carried.items():
        if account_id in pnl:
            pnl[account_id] -= opening_unrealized
    return pnl


def open_unrealized_by_account(account_ids: Iterable[int]) -> dict[int, Decimal]:
    """Unrealized PnL (dollars) of the open positions at their last stored
    marks, per account of ``account_ids`` that holds any."""
    return dict(_open_unrealized(list(account_ids)))


def open_unrealized_ahead(account_ids: Iterable[int]) -> ReadAhead:
    """:func:`open_unrealized_by_account`'s read for the same arguments, to
    run ahead (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_open_unrealized, (list(account_ids),))


def session_realized_by_account(account_ids: Iterable[int], at: datetime) -> dict[int, Decimal]:
    """Realized PnL (dollars) per account in the session holding ``at`` (0
    for an account without fills in it): one row per account, the running
    totals :func:`journal.fills.fills_record` keeps
    (:class:`journal.models.SessionRealized`), so the read does not grow
    with the session's fills."""
    ids = list(account_ids)
    realized = dict.fromkeys(ids, Decimal(0))
    realized.update(_session_realized(*session_realized_ahead(ids, at)[1]))
    return realized


def session_realized_ahead(account_ids: Iterable[int], at: datetime) -> ReadAhead:
    """:func:`session_realized_by_account`'s read for the same arguments, to
    run ahead (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_session_realized, (list(account_ids), trading_date(at)))


# The copy path's reads of every follower per leader event (compiled once).
_open_unrealized = HotRead(
    "open unrealized PnL by account",
    Position,
    lambda ids: (
        Position.objects.filter(account_id__any_of=ids)
        .exclude(qty=0)
        .values("account_id")
        .annotate(total=Sum("unrealized_pnl"))
        .values_list("account_id", "total")
    ),
    lambda connection, ids: [*ids_param(connection, ids), 0],
    shape=ids_shape,
)
_session_realized = HotRead(
    "session realized PnL by account",
    SessionRealized,
    lambda ids, day: SessionRealized.objects.filter(
        account_id__any_of=ids, trading_date=day
    ).values_list("account_id", "realized_pnl"),
    lambda connection, ids, day: [
        *ids_param(connection, ids),
        connection.ops.adapt_datefield_value(day),
    ],
    shape=lambda connection, ids, day: ids_shape(connection, ids),
)


def engine_contract_specs(roots: Iterable[str] | None = None) -> dict[str, EngineSpec]:
    """Contract specs as the engine and adapters take them, keyed by root
    (every product, or only ``roots``)."""
    rows = (
        ContractSpec.objects.all() if roots is None else ContractSpec.objects.filter(root__in=roots)
    )
    return {spec.root: spec.to_engine() for spec in rows}


def contract_point_values(specs: Mapping[str, EngineSpec] | None = None) -> dict[str, Decimal]:
    """Product root -> dollars per point per contract, from ``specs`` (the
    engine's contract specs by root) or, without them, every stored spec."""
    specs = engine_contract_specs() if specs is None else specs
    return {root: spec.point_value for root, spec in specs.items()}


def copy_orders_working(*, platform: str, accounts: Iterable[str]) -> list[int]:
    """Ids of the copy orders resting at the broker (working, or partly
    filled with the rest working) on ``platform`` for ``accounts`` (external
    ids), oldest first."""
    return list(
        CopyOrder.objects.filter(
            account__platform=platform,
            account__external_id__in=list(accounts),
            status__in=(CopyOrder.Status.WORKING, CopyOrder.Status.PARTIALLY_FILLED),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def copy_order_payload(order: CopyOrder) -> dict[str, Any]:
    """The JSON shape of one copy order in the live feed and the snapshot."""
    return {
        "id": order.pk,
        "group": order.group_id,
        "leader_event": order.leader_event.external_id if order.leader_event else None,
        "kind": order.kind,
        "follower": order.account.name,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.qty,
        "status": order.status,
        "intent": order.intent,
        "reason": order.reason,
        "client_order_id": order.client_order_id,
        "filled_qty": order.filled_qty,
        "avg_fill_price": str(order.avg_fill_price) if order.avg_fill_price is not None else None,
        "created_at": order.created_at.isoformat(),
    }


def flatten_state(*, owner_id: int, group: CopyGroup | None) -> dict[str, Any] | None:
    """The latest emergency flatten covering ``group`` (one of its own, or
    of all the owner's groups; with ``group`` ``None``, the latest of all
    groups), as the pages show it; ``None`` when there never was one.

    ``{"id", "status": "pending" | "done" | "failed", "state": "waiting" |
    "in_progress" | "done" | "failed", "text": one sentence for the page,
    "requested_by", "requested_at", "finished_at" (ISO or None)}``. A pending
    flatten is ``"waiting"`` when no engine worker is running: its entries
    are refused already, but nothing can close before the engine starts,
    and the page must say so at once (issue 10, health you can see).
    """
    requests = FlattenRequest.objects.filter(owner_id=owner_id)
    if group is not None:
        requests = requests.filter(Q(group=group) | Q(group__isnull=True))
    else:
        requests = requests.filter(group__isnull=True)
    request = requests.select_related("group").order_by("-pk").first()
    if request is None:
        return None
    scope = request.group.name if request.group is not None else "all your groups"
    head = f"Emergency flatten #{request.pk} of {scope} (by {request.requested_by})"
    if request.status == FlattenRequest.Status.PENDING:
        engine = engine_status()
        if engine.status == "running":
            state = "in_progress"
            text = (
                f"{head}: in progress; entries are refused, the engine is cancelling "
                "working follower orders and closing every follower position."
            )
        else:
            state = "waiting"
            text = (
                f"{head}: pending; the copy engine is not running ({engine.status}). "
                "Entries are refused now; positions close only when the engine runs."
            )
    elif request.status == FlattenRequest.Status.DONE:
        state, text = "done", f"{head} done: {request.detail}."
    else:
        state, text = "failed", f"{head} FAILED: {request.detail}."
    return {
        "id": request.pk,
        "status": request.status,
        "state": state,
        "text": text,
        "requested_by": request.requested_by,
        "requested_at": request.created_at.isoformat(),
        "finished_at": request.finished_at.isoformat() if request.finished_at else None,
    }


def groups_for_user(user: User) -> list[CopyGroup]:
    return list(CopyGroup.objects.filter(owner=user).select_related("leader").order_by("name"))


def group_for_user(*, user: User, group_id: int) -> CopyGroup | None:
    """The group if ``user`` owns it, else ``None`` (never another user's)."""
    return CopyGroup.objects.filter(owner=user, pk=group_id).select_related("leader").first()


def followers_for_engine(group: CopyGroup) -> list[Follower]:
    return list(group.followers.select_related("account", "account__risk_limit").order_by("pk"))


def engine_workers_live(
    *, at: datetime | None = None, ttl: timedelta = LeaderLease.TTL
) -> list[EngineWorkerHeartbeat]:
    """Engine workers alive at aware ``at`` (default now): seen within ``ttl``
    (the lease length: a worker silent longer has lost its leases) and not
    stopped. Oldest first."""
    now = at or timezone.now()
    return list(
        EngineWorkerHeartbeat.objects.filter(
            seen_at__gt=now - ttl, stopped_at__isnull=True
        ).order_by("started_at", "pk")
    )


def engine_workers_live_count(
    *, at: datetime | None = None, ttl: timedelta = LeaderLease.TTL
) -> int:
    """How many engine workers are alive (see :func:`engine_workers_live`)."""
    now = at or timezone.now()
    return EngineWorkerHeartbeat.objects.filter(
        seen_at__gt=now - ttl, stopped_at__isnull=True
    ).count()


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """The engine's state as the heartbeats show it (:func:`engine_status`)."""

    status: str  # "running" | "stale" | "down"
    last_heartbeat: datetime | None  # the newest beat of any worker; None: never seen
    workers: int  # live workers


def engine_status(
    *,
    at: datetime | None = None,
    ttl: timedelta = LeaderLease.TTL,
    stale_for: timedelta = ENGINE_STALE_FOR,
) -> EngineStatus:
    """The engine's state at aware ``at`` (default now), from the worker heartbeats.

    - **running**: at least one live worker (seen within ``ttl``, the lease
      length, and not stopped; :func:`engine_workers_live`);
    - **stale**: none live, but a worker that did not stop cleanly was seen
      within ``stale_for``: it may come back (a long pass, a pause), and its
      leases are being taken over meanwhile;
    - **down**: neither (no heartbeat ever, every worker stopped, or silent
      longer than ``stale_for``).

    ``last_heartbeat`` is the newest ``seen_at`` of any worker, stopped ones
    included (a stale engine is "stale since" then). One query.
    """
    now = at or timezone.now()
    running = Q(stopped_at__isnull=True)
    row = EngineWorkerHeartbeat.objects.aggregate(
        live=Count("pk", filter=running & Q(seen_at__gt=now - ttl)),
        last=Max("seen_at"),
        last_running=Max("seen_at", filter=running),
    )
    if row["live"]:
        status = "running"
    elif row["last_running"] is not None and row["last_running"] > now - stale_for:
        status = "stale"
    else:
        status = "down"
    return EngineStatus(status=status, last_heartbeat=row["last"], workers=row["live"])


def route_connections(
    *, group: CopyGroup, at: datetime | None = None, ttl: timedelta = LeaderLease.TTL
) -> dict[str, str]:
    """Platform -> "connected" | "disconnected" | "unknown" for every platform
    the route's leader and followers are on, sorted by platform.

    Read from the heartbeat of the live worker holding the leader's lease, else
    the freshest live heartbeat reporting the platform (the embedded engine,
    a single worker). "unknown": no live worker reports that platform.
    """
    now = at or timezone.now()
    platforms = {group.leader.platform}
    platforms.update(group.followers.values_list("account__platform", flat=True))
    live = engine_workers_live(at=now, ttl=ttl)
    owner = (
        LeaderLease.objects.filter(leader_id=group.leader_id, expires_at__gt=now)
        .values_list("worker_id", flat=True)
        .first()
    )
    # The owner's heartbeat first, then the freshest.
    live.sort(key=lambda w: (w.worker_id != owner, -w.seen_at.timestamp()))
    states: dict[str, str] = {}
    for platform in sorted(platforms):
        states[platform] = "unknown"
        for worker in live:
            connected = worker.adapters.get(platform)
            if connected is not None:
                states[platform] = "connected" if connected else "disconnected"
                break
    return states


def leader_leases_held(*, at: datetime | None = None) -> dict[int, str]:
    """Leader account id -> the worker holding its unexpired lease at ``at``."""
    now = at or timezone.now()
    return dict(
        LeaderLease.objects.filter(expires_at__gt=now)
        .exclude(worker_id="")
        .values_list("leader_id", "worker_id")
    )
