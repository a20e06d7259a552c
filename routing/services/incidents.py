"""Route incidents: something went wrong on a route, so the route locks.

Issue "The risk engine", Route budget: a duplicate order, a rejected order,
an adapter disconnect, a symbol mismatch or slippage beyond the route's
``max_slippage_ticks`` (and, issue 10, a broker fill id re-used with other
content, or an event the engine could not apply after its retries) locks
the route at level 4 (new entries refused, exits still copied) until the
owner unlocks it with a written reason. Every incident is an
:class:`~routing.models.Incident` row, an ``INCIDENT`` journal entry with its
numbers, and the lock's own ``ROUTE_LEVEL_CHANGED`` entry.

Detection lives where the facts are: broker answers in
:func:`routing.services.orders.copy_order_record_result`, disconnects in the
engine worker's connection check. Lock order as in
:mod:`routing.services.route_levels`: leader account, then group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import BrokerAccount
from copytrade.core.bulk import bulk_insert
from journal.fills import FillConflict
from journal.models import EventType
from journal.services import JournalFields, journal_record, journal_row, journal_rows_add
from routing.models import CopyGroup, CopyOrder, Incident
from routing.services.feed import feed_state_on_commit
from routing.services.route_levels import route_lock


@transaction.atomic
def incident_record(
    *,
    group: CopyGroup,
    kind: Incident.Kind,
    detail: str,
    account: BrokerAccount | None = None,
    copy_order: CopyOrder | None = None,
    at: datetime | None = None,
    numbers: Mapping[str, Any] | None = None,
    actor_label: str = "engine",
    notify: bool = True,
) -> tuple[Incident, bool]:
    """Record an incident on ``group`` and lock the route; ``(incident, created)``.

    ``detail`` is the human sentence (what happened, with its numbers);
    ``numbers`` are the same figures as JSON for the journal entry (Decimals
    allowed). ``at`` is aware UTC (default now). With ``copy_order`` the call
    is idempotent per ``(copy_order, kind)``: a broker answer recorded twice
    returns the first incident with ``created`` False, journals nothing and
    does not lock again (the owner may have unlocked since). The lock's
    reason names the incident: ``"incident: slippage: <detail>"``. ``notify``
    as for :func:`routing.services.route_levels.route_lock`.
    """
    at = at or timezone.now()
    if copy_order is not None:
        existing = Incident.objects.filter(copy_order=copy_order, kind=kind).first()
        if existing is not None:
            return existing, False
    # Leader account, then group (the route lock order), before inserting a
    # row that references the group: the insert's key-share lock on the group
    # taken first would invert that order against a concurrent route change.
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    CopyGroup.objects.select_for_update().filter(pk=group.pk).first()
    incident = Incident.objects.create(
        group=group,
        kind=kind,
        detail=detail,
        account=account,
        copy_order=copy_order,
        occurred_at=at,
    )
    journal_record(
        **_incident_journal(
            group, kind, detail, account, copy_order, incident.pk, at, numbers, actor_label
        )
    )
    route_lock(
        group=group,
        reason=f"incident: {kind}: {detail}",
        actor_label=actor_label,
        at=at,
        code=str(kind),
        notify=notify,
    )
    return incident, True


def _incident_journal(
    group: CopyGroup,
    kind: Incident.Kind | str,
    detail: str,
    account: BrokerAccount | None,
    copy_order: CopyOrder | None,
    incident_id: int,
    at: datetime,
    numbers: Mapping[str, Any] | None,
    actor_label: str,
) -> JournalFields:
    """The journal entry of an incident recorded on ``group``."""
    label = Incident.Kind(kind).label
    return {
        "owner_id": group.owner_id,
        "event_type": EventType.INCIDENT,
        "group_id": group.pk,
        "account_id": account.pk if account is not None else None,
        "actor_label": actor_label,
        "occurred_at": at,
        "message": f"{group.name}: incident, {label.lower()}: {detail}",
        "extra_data": {
            "incident": incident_id,
            "kind": str(kind),
            "client_order_id": copy_order.client_order_id if copy_order is not None else None,
            **dict(numbers or {}),
        },
    }


def order_incidents_record(
    found: Sequence[tuple[CopyOrder, Incident.Kind, str, Mapping[str, Any]]],
    *,
    at: datetime | None = None,
) -> int:
    """:func:`incident_record` for many ``(order, kind, detail, numbers)``
    of copy orders at once, by the engine: idempotent per order and kind,
    each journaled, each route locked by its first new incident; a constant
    number of statements plus one lock per route (a rejection storm gives
    every follower's order an incident in one batch of broker answers, and
    one by one that held the leader's lock for seconds at 200 followers).
    Returns the incidents created. Lock order as :func:`incident_record`:
    the leaders, then the groups, in pk order.
    """
    if not found:
        return 0
    at = at or timezone.now()
    seen = set(
        Incident.objects.filter(
            copy_order_id__any_of=sorted({order.pk for order, *_ in found})
        ).values_list("copy_order_id", "kind")
    )
    new = []
    for order, kind, detail, numbers in found:
        if (order.pk, str(kind)) not in seen:
            seen.add((order.pk, str(kind)))
            new.append((order, kind, detail, numbers))
    if not new:
        return 0
    groups = {order.group_id: order.group for order, *_ in new}
    leaders = sorted({group.leader_id for group in groups.values()})
    list(
        BrokerAccount.objects.select_for_update()
        .filter(pk__any_of=leaders)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    list(
        CopyGroup.objects.select_for_update()
        .filter(pk__any_of=sorted(groups))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    pks = bulk_insert(
        Incident,
        {
            "group": [order.group_id for order, *_ in new],
            "kind": [str(kind) for _, kind, _, _ in new],
            "detail": [detail for _, _, detail, _ in new],
            "account": [order.account_id for order, *_ in new],
            "copy_order": [order.pk for order, *_ in new],
        },
        same={"occurred_at": at, "created_at": at, "updated_at": at},
    )
    journal_rows_add(
        [
            journal_row(
                **_incident_journal(
                    order.group, kind, detail, order.account, order, pk, at, numbers, "engine"
                )
            )
            for (order, kind, detail, numbers), pk in zip(new, pks, strict=True)
        ]
    )
    locked: set[int] = set()
    for order, kind, detail, _ in new:
        if order.group_id not in locked:
            locked.add(order.group_id)
            route_lock(
                group=order.group,
                reason=f"incident: {kind}: {detail}",
                actor_label="engine",
                at=at,
                code=str(kind),
                # The batch's copy orders tell the owner's pages (one message).
                notify=False,
            )
    return len(new)


def incidents_adapter_disconnect(
    *, platform: str, detail: str, at: datetime | None = None
) -> list[Incident]:
    """An ``adapter_disconnect`` incident (and lock) for every group with its
    leader or a follower on ``platform``; returns the new incidents.

    One call per disconnect: the engine worker remembers which adapters it
    already reported, so a platform that stays down is not reported every poll.
    Each group is its own transaction, so one group's failure does not undo
    the others' locks.
    """
    at = at or timezone.now()
    groups = (
        CopyGroup.objects.filter(
            Q(leader__platform=platform) | Q(followers__account__platform=platform)
        )
        .distinct()
        .order_by("pk")
    )
    incidents = []
    for group in groups:
        incident, _ = incident_record(
            group=group,
            kind=Incident.Kind.ADAPTER_DISCONNECT,
            detail=f"{platform} adapter disconnected: {detail}",
            at=at,
            numbers={"platform": platform},
            notify=False,
        )
        incidents.append(incident)
    _notify_owners(incidents, "adapter disconnected")
    return incidents


def _notify_owners(incidents: Sequence[Incident], reason: str) -> None:
    """One ``state`` message per owner for the routes ``incidents`` locked
    in one event (each group was its own transaction)."""
    by_owner: dict[int, list[int | None]] = {}
    for incident in incidents:
        by_owner.setdefault(incident.group.owner_id, []).append(incident.group_id)
    for owner_id, group_ids in sorted(by_owner.items()):
        feed_state_on_commit(user_id=owner_id, group_ids=group_ids, reason=reason)


def incidents_leader_fill_reused(
    *, leader: BrokerAccount, conflicts: Sequence[FillConflict], at: datetime | None = None
) -> list[Incident]:
    """A ``fill_id_reused`` incident (and lock) on every group ``leader``
    leads, one per conflict: the leader's own fill came with a broker fill id
    its journal already holds with other content, so the leader's journal
    position misses it. Call in the ingest's transaction (leader row locked:
    the route lock order holds). Returns the new incidents."""
    groups = list(CopyGroup.objects.filter(leader=leader).order_by("pk"))
    incidents = []
    for conflict in conflicts:
        for group in groups:
            incident, _ = incident_record(
                group=group,
                kind=Incident.Kind.FILL_ID_REUSED,
                detail=(
                    f"leader {leader.name}: the broker re-used a fill id, {conflict.describe()}. "
                    "The received fill is not journaled: check the leader's fills at the "
                    "broker against the journal"
                ),
                account=leader,
                at=at,
                numbers=conflict.numbers(),
                # In the ingest: the event's copy orders tell the owner's pages.
                notify=False,
            )
            incidents.append(incident)
    return incidents


def incidents_leader_event_not_applied(
    *, leader_id: int, event_id: str, error: str, at: datetime | None = None
) -> list[Incident]:
    """An ``event_not_applied`` incident (and lock) on every group leader
    account ``leader_id`` leads: its event ``event_id`` still failed after
    the engine's retries (``error`` says how), so none of its copies were
    decided and the followers may now differ from their targets. A leader
    that leads no group gets a journal entry instead. Returns the new
    incidents; each group is its own transaction, like a disconnect."""
    leader = BrokerAccount.objects.get(pk=leader_id)
    detail = (
        f"leader {leader.name} event {event_id} could not be applied: {error}. "
        "No copy was decided for it: check the followers against the leader at the broker"
    )
    groups = list(CopyGroup.objects.filter(leader_id=leader_id).order_by("pk"))
    if not groups:
        journal_record(
            owner_id=leader.owner_id,
            event_type=EventType.LEADER_EVENT_REJECTED,
            account_id=leader.pk,
            actor_label="engine",
            occurred_at=at,
            message=f"Leader {leader.name} event {event_id} not applied: {error}",
            extra_data={"event_id": event_id, "reason": error},
        )
        return []
    incidents = []
    for group in groups:
        incident, _ = incident_record(
            group=group,
            kind=Incident.Kind.EVENT_NOT_APPLIED,
            detail=detail,
            account=leader,
            at=at,
            numbers={"event_id": event_id, "error": error},
            notify=False,
        )
        incidents.append(incident)
    _notify_owners(incidents, "leader event not applied")
    return incidents


def incident_order_not_applied(
    *, client_order_id: str, what: str, error: str, at: datetime | None = None
) -> Incident | None:
    """An ``event_not_applied`` incident (and lock) on the route of the copy
    order ``client_order_id``: ``what`` happened to it (e.g. "the broker's
    update filled 2 @ 21000", "the cancel") could not be recorded or carried
    out, ``error`` says why. Idempotent per order. ``None`` when no copy
    order has that id (the engine's own orders, e.g. a flatten's closes,
    are journaled by the flatten itself)."""
    order = (
        CopyOrder.objects.select_related("group", "account")
        .filter(client_order_id=client_order_id)
        .first()
    )
    if order is None:
        return None
    incident, _ = incident_record(
        group=order.group,
        kind=Incident.Kind.EVENT_NOT_APPLIED,
        detail=(
            f"{order.account.name} order {client_order_id}: {what} could not be applied: "
            f"{error}. Check the order and the position at the broker"
        ),
        account=order.account,
        copy_order=order,
        at=at,
        numbers={"client_order_id": client_order_id, "error": error},
    )
    return incident
