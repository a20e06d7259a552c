"""Emergency flatten: refuse entries at once, cancel working follower orders,
close every follower position; and the same for one account on a breach.

Two halves, because the broker connections live in the engine worker:

* the dashboard calls :func:`flatten_request`: in one transaction every route
  in scope goes to level 4 (entries refused from this commit on, exits still
  copied), a pending :class:`~routing.models.FlattenRequest` is queued and the
  press is journaled with who pressed it;
* the engine worker (``EngineWorker.flatten_requests``) takes the pending
  requests each poll (:func:`flatten_pending`) and per follower account:
  cancels its open copy orders (:func:`flatten_orders_open` for those never
  sent, the broker for the others), calls the adapter's ``flatten``, then
  records the closes, the expected positions and the outcome
  (:func:`flatten_account_record`); :func:`flatten_finish` ends the request.

Safe to press twice: while a request is pending a second press queues
nothing new (it is journaled as pressed again); a run over accounts already
flat sends nothing. Leader accounts are never flattened: they are the
trader's own, and their exits keep being copied.

Flatten on breach (layer-2 risk) uses the same worker steps for one account
(``EngineWorker.flatten_account``) and marks the session with
:func:`account_session_flattened`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import BrokerAccount, User
from copytrade.core.errors import ApplicationError
from copytrade.core.numbers import price as price_text
from journal.fills import FillIdReusedError, fill_record
from journal.models import EventType
from journal.services import journal_record
from routing.brokers.base import OrderResult, OrderStatus
from routing.contract_specs import tick_size_of
from routing.engine.risk import money
from routing.engine.symbols import SymbolError, parse_contract
from routing.models import (
    AccountSession,
    ContractSpec,
    CopyGroup,
    CopyOrder,
    ExpectedPosition,
    FlattenRequest,
    Follower,
)
from routing.services.account_sessions import account_session_current
from routing.services.feed import feed_publish_on_commit
from routing.services.orders import copy_order_cancel_unsent
from routing.services.reconcile import reconcile_account
from routing.services.route_levels import route_lock


@dataclass(frozen=True, slots=True)
class FlattenTarget:
    """One follower account to flatten: ids and names the worker needs
    without touching the database, and its group and that group's leader."""

    account_id: int
    name: str
    platform: str
    external_id: str
    group_id: int
    leader_id: int


@dataclass(frozen=True, slots=True)
class FlattenJob:
    """A pending flatten request for the worker: ``reason`` is what the
    journal says it was for (``"emergency flatten by alice"``)."""

    request_id: int
    requested_by: str
    reason: str
    targets: tuple[FlattenTarget, ...]


@dataclass(frozen=True, slots=True)
class OpenOrders:
    """A follower's open copy orders when a flatten starts: ``cancelled`` were
    never sent and are now CANCELLED; ``live`` (ids) are at the broker, or
    may be, and must be cancelled there."""

    cancelled: int
    live: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlattenOutcome:
    """How one account's flatten went: ``ok`` when it ended flat with no
    order left open; ``detail`` the sentence journaled; ``closes`` the closing
    orders the broker filled (``"sell 2 MNQH6 @ 21000"``)."""

    account_id: int
    name: str
    ok: bool
    detail: str
    closes: tuple[str, ...] = ()


def _reason(username: str) -> str:
    return f"emergency flatten by {username}"


@transaction.atomic
def flatten_request(
    *, user: User, group: CopyGroup | None = None, at: datetime | None = None
) -> tuple[FlattenRequest, bool]:
    """``user`` presses emergency flatten on ``group`` (``None``: all of the
    user's groups); returns the pending request and True when it is new.

    In this transaction every group in scope is locked at level 4 (reason
    ``"emergency flatten by <username>"``; one already locked keeps its
    reason), so no entry is decided after the commit; the engine worker does
    the rest. A second press while the scope's request is still pending
    creates nothing and returns that request with False; every press is
    journaled (``FLATTEN_REQUESTED``) with who pressed it. ``at`` aware UTC,
    default now.

    Raises :class:`ApplicationError` when ``group`` is not ``user``'s, or the
    user has no group to flatten.
    """
    at = at or timezone.now()
    username = user.get_username()
    if group is not None:
        if group.owner_id != user.pk:
            raise ApplicationError("only the owner of a copy group may flatten it")
        groups = [group]
    else:
        groups = list(CopyGroup.objects.filter(owner=user).order_by("pk"))
        if not groups:
            raise ApplicationError("you have no copy groups to flatten")
    # Every leader first, in pk order, then the groups: a level change bumps
    # the route configuration version (routing.signals), and an ingest holding
    # a leader's row may bump it too, so no transaction may take that version
    # row and then wait for a leader's row.
    leaders = sorted({each.leader_id for each in groups})
    list(BrokerAccount.objects.select_for_update().filter(pk__in=leaders).order_by("pk"))
    for each in groups:
        # One message for the press (below), not one per group locked.
        route_lock(group=each, reason=_reason(username), actor_label=username, at=at, notify=False)
    pending = FlattenRequest.objects.filter(
        owner=user, group=group, status=FlattenRequest.Status.PENDING
    ).first()
    created = False
    if pending is None:
        try:
            with transaction.atomic():
                pending = FlattenRequest.objects.create(
                    owner=user, group=group, requested_by=username
                )
                created = True
        except IntegrityError:  # a concurrent press queued it first
            pending = FlattenRequest.objects.get(
                owner=user, group=group, status=FlattenRequest.Status.PENDING
            )
    scope = group.name if group is not None else f"all {len(groups)} groups"
    followers = Follower.objects.filter(group__in=groups).count()
    if created:
        message = (
            f"Emergency flatten of {scope} requested by {username}: new entries refused now "
            f"(level 4); the engine cancels working follower orders and closes every position "
            f"of {followers} follower account{'s' if followers != 1 else ''}; exits still copy"
        )
    else:
        message = (
            f"Emergency flatten of {scope} pressed again by {username} while request "
            f"#{pending.pk} (by {pending.requested_by}) is pending: nothing new queued"
        )
    feed_publish_on_commit(
        user_id=user.pk,
        kind="flatten",
        data={"flatten": pending.pk, "group": group.pk if group is not None else None},
    )
    journal_record(
        owner_id=user.pk,
        event_type=EventType.FLATTEN_REQUESTED,
        group_id=group.pk if group is not None else None,
        actor_label=username,
        actor_user_id=user.pk,
        occurred_at=at,
        message=message,
        extra_data={
            "flatten_request": pending.pk,
            "created": created,
            "groups": [g.pk for g in groups],
        },
    )
    return pending, created


def _target(follower: Follower) -> FlattenTarget:
    return FlattenTarget(
        account_id=follower.account_id,
        name=follower.account.name,
        platform=follower.account.platform,
        external_id=follower.account.external_id,
        group_id=follower.group_id,
        leader_id=follower.group.leader_id,
    )


def flatten_pending(*, leader_ids: Collection[int] | None = None) -> list[FlattenJob]:
    """Every pending flatten request, oldest first, with the follower accounts
    of its scope (paused followers too: they hold positions all the same).

    With ``leader_ids`` (an engine worker's leases) only the requests this
    worker carries out: those whose scope's lowest leader id it owns, so with
    several workers each request is flattened by one of them, never twice.
    """
    jobs = []
    for request in FlattenRequest.objects.filter(status=FlattenRequest.Status.PENDING).order_by(
        "pk"
    ):
        followers = Follower.objects.select_related("account", "group").order_by("pk")
        if request.group_id is not None:
            followers = followers.filter(group_id=request.group_id)
        else:
            followers = followers.filter(group__owner_id=request.owner_id)
        targets = tuple(_target(f) for f in followers)
        leaders = {t.leader_id for t in targets}
        if leader_ids is not None and leaders and min(leaders) not in leader_ids:
            continue  # another worker owns it
        jobs.append(
            FlattenJob(
                request_id=request.pk,
                requested_by=request.requested_by,
                reason=_reason(request.requested_by),
                targets=targets,
            )
        )
    return jobs


def flatten_target(*, account_id: int) -> FlattenTarget:
    """The flatten target for follower account ``account_id`` (flatten on
    breach). Raises :class:`ApplicationError` when it follows no group."""
    follower = (
        Follower.objects.select_related("account", "group").filter(account_id=account_id).first()
    )
    if follower is None:
        raise ApplicationError(f"account {account_id} follows no copy group: nothing to flatten")
    return _target(follower)


def flatten_orders_open(*, account_id: int, reason: str, symbol: str | None = None) -> OpenOrders:
    """Cancel ``account_id``'s copy orders (in ``symbol`` only, when given)
    never handed to the broker (PENDING: CANCELLED, size back out of the
    expected position) and list the ones the broker has or may have (SENT,
    WORKING, PARTIALLY_FILLED) for the worker to cancel there."""
    orders = CopyOrder.objects.filter(account_id=account_id)
    if symbol is not None:
        orders = orders.filter(symbol=symbol)
    cancelled = 0
    for order_id in orders.filter(status=CopyOrder.Status.PENDING).values_list("pk", flat=True):
        if copy_order_cancel_unsent(order_id=order_id, reason=f"cancelled: {reason}"):
            cancelled += 1
    live = tuple(
        orders.filter(
            status__in=[
                CopyOrder.Status.SENT,
                CopyOrder.Status.WORKING,
                CopyOrder.Status.PARTIALLY_FILLED,
            ],
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return OpenOrders(cancelled=cancelled, live=live)


def flatten_orders_still_open(*, account_id: int, symbol: str | None = None) -> list[int]:
    """Ids of ``account_id``'s copy orders still open (any open status; in
    ``symbol`` only, when given)."""
    orders = CopyOrder.objects.filter(account_id=account_id, status__in=CopyOrder.OPEN_STATUSES)
    if symbol is not None:
        orders = orders.filter(symbol=symbol)
    return list(orders.order_by("pk").values_list("pk", flat=True))


def _close_text(result: OrderResult) -> str:
    if not result.fills:
        return f"{result.client_order_id} {result.status}"
    fill = result.fills[0]
    price = result.avg_price if result.avg_price is not None else fill.price
    # To the contract's tick, as every page prints prices (copytrade.core.numbers).
    shown = price_text(price, tick_size_of(fill.symbol))
    return f"{fill.side.value} {result.filled_qty} {fill.symbol} @ {shown}"


def flatten_closes_store(
    *, account_id: int, closes: Sequence[OrderResult], problems: list[str]
) -> tuple[list[str], Decimal]:
    """Store the fills of closing orders ``closes`` (an adapter's ``flatten``
    results) on account ``account_id`` with :func:`journal.fills.fill_record`,
    so journal positions and PnL follow; returns ``(what filled, e.g. "sell 2
    MNQH6 @ 21000", realized dollars)``. What went wrong (a fill in a
    contract without a spec, a re-used fill id, a close not FILLED) is
    appended to ``problems`` as sentences. Call inside the caller's
    transaction."""
    filled: list[str] = []
    realized = Decimal(0)
    specs = {spec.root: spec for spec in ContractSpec.objects.all()}
    for result in closes:
        for fill in result.fills:
            try:
                spec = specs.get(parse_contract(fill.symbol).root)
            except SymbolError:
                spec = None
            if spec is None:
                problems.append(f"close fill {fill.fill_id} in {fill.symbol!r}: no contract spec")
                continue
            try:
                stored = fill_record(
                    account_id=account_id,
                    broker_fill_id=fill.fill_id,
                    symbol=parse_contract(fill.symbol).code,
                    side=fill.side.value,
                    qty=fill.qty,
                    price=fill.price,
                    point_value=spec.point_value,
                    filled_at=fill.time,
                )
            except FillIdReusedError as reused:
                # Not journaled: the id holds another fill. Said in the outcome,
                # so the owner checks the broker's fills against the journal.
                problems.append(
                    f"close {reused.conflict.describe()}: the broker re-used the fill id, "
                    "not journaled; check this account's fills at the broker"
                )
                continue
            if stored is not None:
                realized += stored.realized_pnl
        if result.filled_qty:
            filled.append(_close_text(result))
        if result.status is not OrderStatus.FILLED:
            problems.append(
                f"close {result.client_order_id} {result.status}"
                + (f": {result.reason}" if result.reason else "")
            )
    return filled, realized


@transaction.atomic
def flatten_account_record(
    *,
    target: FlattenTarget,
    closes: Sequence[OrderResult],
    actual: Mapping[str, int] | None,
    cancelled: int,
    problems: Sequence[str],
    reason: str,
    actor_label: str,
    at: datetime | None = None,
) -> FlattenOutcome:
    """Record one account's flatten after the broker calls.

    ``closes`` are the adapter's ``flatten`` results (their fills are stored
    with :func:`journal.fills.fill_record`, so journal positions and PnL
    follow); ``actual`` the broker's positions afterwards (contract code ->
    signed contracts; ``None`` when they could not be read); ``cancelled``
    how many working copy orders were cancelled; ``problems`` what already
    went wrong (sentences). Expected positions of every contract now flat at
    the broker with no order open go to 0 (untracked too: the broker holds
    nothing of the user's either); contracts still held keep theirs, so
    reconciliation keeps showing them. Journals ``ACCOUNT_FLATTENED`` with
    ``reason`` and the outcome, then reconciles (open desyncs in flattened
    contracts resolve). ``at`` aware UTC, default now.
    """
    at = at or timezone.now()
    account = BrokerAccount.objects.get(pk=target.account_id)
    problems = list(problems)
    filled, realized = flatten_closes_store(account_id=account.pk, closes=closes, problems=problems)
    busy = set(
        CopyOrder.objects.filter(account=account, status__in=CopyOrder.OPEN_STATUSES).values_list(
            "symbol", flat=True
        )
    )
    for symbol in sorted(busy):
        problems.append(f"a copy order in {symbol} is still open")
    if actual is None:
        problems.append("positions at the broker could not be read afterwards")
    else:
        held = {symbol: qty for symbol, qty in actual.items() if qty}
        for symbol, qty in sorted(held.items()):
            problems.append(f"still holds {qty:+d} {symbol}")
        ExpectedPosition.objects.filter(account=account).exclude(symbol__in=[*held, *busy]).exclude(
            qty=0, untracked=0
        ).update(qty=0, untracked=0, updated_at=timezone.now())
    ok = not problems
    done = (
        f"closed {'; '.join(filled)} (realized {money(realized)})" if filled else "nothing to close"
    )
    if cancelled:
        done += f"; {cancelled} open order{'s' if cancelled != 1 else ''} cancelled"
    detail = (
        f"{account.name} flattened ({reason}): {done}"
        if ok
        else f"{account.name} NOT flat ({reason}): {'; '.join(problems)}; {done}"
    )
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.ACCOUNT_FLATTENED,
        group_id=target.group_id,
        account_id=account.pk,
        actor_label=actor_label,
        occurred_at=at,
        message=detail,
        after={"positions": dict(actual) if actual is not None else None},
        extra_data={
            "ok": ok,
            "reason": reason,
            "closes": filled,
            "cancelled": cancelled,
            "realized_pnl": realized,
            "problems": problems,
        },
    )
    if actual is not None:
        reconcile_account(account=account, actual=actual, at=at)
    # The closes are not copy orders: tell the group page its positions moved.
    feed_publish_on_commit(
        user_id=account.owner_id,
        kind="positions",
        data={"group": target.group_id, "account": account.pk, "reason": reason},
    )
    return FlattenOutcome(
        account_id=account.pk, name=account.name, ok=ok, detail=detail, closes=tuple(filled)
    )


@transaction.atomic
def flatten_finish(
    *, request_id: int, outcomes: Sequence[FlattenOutcome], at: datetime | None = None
) -> FlattenRequest | None:
    """End a pending request: DONE when every account ended flat, else FAILED
    with which accounts and why in ``detail``; journaled (``FLATTEN_DONE``).
    ``None`` (nothing written) when the request is no longer pending, e.g.
    another worker finished it first."""
    at = at or timezone.now()
    request = (
        FlattenRequest.objects.select_for_update(of=("self",))
        .select_related("group")
        .filter(pk=request_id, status=FlattenRequest.Status.PENDING)
        .first()
    )
    if request is None:
        return None
    failed = [o for o in outcomes if not o.ok]
    closes = sum(len(o.closes) for o in outcomes)
    scope = request.group.name if request.group is not None else "all groups"
    if failed:
        request.status = FlattenRequest.Status.FAILED
        request.detail = "; ".join(o.detail for o in failed)
        message = (
            f"Emergency flatten #{request.pk} of {scope} FAILED for {len(failed)} of "
            f"{len(outcomes)} accounts: {request.detail}"
        )
    else:
        request.status = FlattenRequest.Status.DONE
        request.detail = (
            f"{len(outcomes)} follower account{'s' if len(outcomes) != 1 else ''} flat, "
            f"{closes} position{'s' if closes != 1 else ''} closed"
        )
        message = f"Emergency flatten #{request.pk} of {scope} done: {request.detail}"
    request.finished_at = at
    request.save(update_fields=["status", "detail", "finished_at", "updated_at"])
    # The group pages show the outcome as soon as it is known.
    feed_publish_on_commit(
        user_id=request.owner_id,
        kind="flatten",
        data={"flatten": request.pk, "group": request.group_id, "status": request.status},
    )
    journal_record(
        owner_id=request.owner_id,
        event_type=EventType.FLATTEN_DONE,
        group_id=request.group_id,
        actor_label="engine",
        occurred_at=at,
        message=message,
        extra_data={
            "flatten_request": request.pk,
            "status": request.status,
            "requested_by": request.requested_by,
            "failed_accounts": [o.account_id for o in failed],
        },
    )
    return request


def account_session_flattened(*, account_id: int, at: datetime) -> AccountSession:
    """Mark ``account_id``'s current session (the one holding aware ``at``)
    as flattened on breach; the first time stands (idempotent)."""
    account = BrokerAccount.objects.get(pk=account_id)
    row = account_session_current(account=account, at=at)
    AccountSession.objects.filter(pk=row.pk, flattened_at__isnull=True).update(
        flattened_at=at, updated_at=timezone.now()
    )
    row.refresh_from_db()
    return row
