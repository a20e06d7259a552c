"""Route levels (0 Off, 1 Test, 2 Reduced, 3 Active, 4 Locked): changes by
the user and locks by the system, every one journaled with who and why.

Leaving level 4 needs a written reason (issue "The risk engine", Route
budget). The system only ever *raises* a route to level 4 (an incident, the
route's session loss, an emergency flatten); it never unlocks one. Lock
order as in :mod:`routing.services.group_rules`: leader account, then group.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerAccount, User
from copytrade.core.actors import actor_reason_check
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.engine.limits import RouteLevel
from routing.engine.sessions import trading_date
from routing.models import CopyGroup
from routing.services.feed import feed_state_on_commit


def _locked(group: CopyGroup) -> CopyGroup:
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    row = CopyGroup.objects.select_for_update().filter(pk=group.pk).first()
    if row is None:
        raise ApplicationError(f"copy group {group.name!r} no longer exists")
    return row


def _apply(
    group: CopyGroup,
    level: RouteLevel,
    *,
    reason: str,
    actor_label: str,
    actor_user_id: int | None,
    at: datetime,
    code: str = "",
) -> bool:
    before = RouteLevel(group.level)
    if before is level:
        return False
    group.level = level.value
    group.level_reason = reason
    group.level_changed_at = at
    group.save(update_fields=["level", "level_reason", "level_changed_at", "updated_at"])
    journal_record(
        owner_id=group.owner_id,
        event_type=EventType.ROUTE_LEVEL_CHANGED,
        group_id=group.pk,
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        occurred_at=at,
        message=f"{group.name}: level {before.label} \u2192 {level.label}: {reason}",
        before={"level": before.value},
        after={"level": level.value, "reason": reason, **({"code": code} if code else {})},
    )
    return True


@transaction.atomic
def route_level_set(
    *,
    group: CopyGroup,
    level: RouteLevel,
    actor: User,
    reason: str,
    at: datetime | None = None,
    unlock_confirmed: bool = True,
) -> bool:
    """The owner sets ``group``'s level; False when it already was there.

    ``actor`` is the owner, or a staff member holding
    ``routing.change_copygroup`` (the admin), who must give a reason for any
    change (:func:`copytrade.core.actors.actor_reason_check`); the journal
    row names the actor and holds the reason. ``unlock_confirmed`` says the
    actor re-authenticated recently (:mod:`accounts.reauth`); the view checks
    it before calling, and this check on the locked row closes the race with
    the engine locking the route meanwhile.

    Raises :class:`ApplicationError` when ``actor`` may not change the group,
    or when leaving level 4 (Locked) without a reason or without
    ``unlock_confirmed``.
    """
    reason = actor_reason_check(
        actor=actor,
        owner_id=group.owner_id,
        perm="routing.change_copygroup",
        reason=reason,
        refusal="only the owner of a copy group may change its level",
    )
    row = _locked(group)
    leaving_lock = RouteLevel(row.level) is RouteLevel.LOCKED and level is not RouteLevel.LOCKED
    if leaving_lock and not reason:
        raise ApplicationError("leaving level 4 Locked needs a written reason")
    if leaving_lock and not unlock_confirmed:
        raise ApplicationError(
            "the route was locked meanwhile: leaving level 4 Locked needs you to confirm "
            "it is you first; send the form again"
        )
    changed = _apply(
        row,
        level,
        reason=reason or "set by the user",
        actor_label=actor.get_username(),
        actor_user_id=actor.pk,
        at=at or timezone.now(),
    )
    group.level, group.level_reason = row.level, row.level_reason
    if changed:
        feed_state_on_commit(user_id=row.owner_id, group_ids=[row.pk], reason="route level")
    return changed


@transaction.atomic
def route_lock(
    *,
    group: CopyGroup,
    reason: str,
    actor_label: str,
    at: datetime | None = None,
    code: str = "",
    notify: bool = True,
) -> bool:
    """Lock ``group`` (level 4) for ``reason``; False when it was locked already.

    ``code`` is the reason's stable code (:class:`routing.engine.watch.ReasonCode`
    or an incident kind), journaled beside it; empty when there is none.
    ``notify`` False when the caller's event already tells the owner's pages
    (a batch of broker answers sends its copy orders; one message per user
    per event), else a lock sends a ``state`` message.
    """
    row = _locked(group)
    changed = _apply(
        row,
        RouteLevel.LOCKED,
        reason=reason,
        actor_label=actor_label,
        actor_user_id=None,
        at=at or timezone.now(),
        code=code,
    )
    group.level, group.level_reason = row.level, row.level_reason
    if changed and notify:
        feed_state_on_commit(user_id=row.owner_id, group_ids=[row.pk], reason="route locked")
    return changed


@transaction.atomic
def route_review(*, group: CopyGroup, actor: User, at: datetime | None = None) -> bool:
    """Mark ``group`` reviewed for the current session (level 2 needs it for
    every entry); False when it already was."""
    if actor.pk != group.owner_id:
        raise ApplicationError("only the owner of a copy group may review it")
    at = at or timezone.now()
    row = _locked(group)
    day = trading_date(at)
    if row.reviewed_on == day:
        return False
    row.reviewed_on, row.reviewed_by = day, actor.get_username()
    row.save(update_fields=["reviewed_on", "reviewed_by", "updated_at"])
    group.reviewed_on, group.reviewed_by = row.reviewed_on, row.reviewed_by
    journal_record(
        owner_id=row.owner_id,
        event_type=EventType.ROUTE_REVIEWED,
        group_id=row.pk,
        actor_label=actor.get_username(),
        actor_user_id=actor.pk,
        occurred_at=at,
        message=f"{row.name}: marked reviewed for session {day}",
        after={"reviewed_on": day.isoformat()},
    )
    return True
