"""Group rules from the dashboard: settings, pause / resume, delete.

Every change is journaled in its own transaction with who did it and the
state before and after; a request that changes nothing journals nothing.

Lock order, everywhere: the group's leader broker account, then the group,
then its followers or replay jobs. ``leader_event_ingest`` locks the leader
account first and reads the enabled groups and followers under that lock, so
once a pause (or delete) has returned, no later leader fill is copied into
the paused group or follower as if it still ran, and a delete never interleaves with an ingest
writing copy orders for the group it removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.actors import actor_note, actor_reason_check
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from journal.services import journal_record
from routing.models import RATIO_MAX, RATIO_MIN, CopyGroup, CopyOrder, Follower, ReplayJob
from routing.services.copy_groups import sizing_basis_problem
from routing.services.feed import feed_state_on_commit

# Fields no settings change may touch: the leader is fixed at creation
# (DESIGN.md; also a database trigger), the owner never moves, and enabled
# has its own journaled pause / resume.
_NOT_SETTINGS = frozenset(
    {"id", "pk", "owner", "leader", "enabled", "created_at", "updated_at"}
    # The route level and review have their own journaled service (route_levels).
    | {"level", "level_reason", "level_changed_at", "reviewed_on", "reviewed_by"}
)
# What follower_update changes (enabled has its own pause / resume).
_FOLLOWER_SETTINGS = frozenset({"ratio", "sizing_basis"})
# Columns the journal already has (owner_id, group_id) or that say nothing.
_NOT_SNAPSHOT = frozenset({"id", "owner", "created_at", "updated_at"})


def _check_owner(owner_id: int, actor: User, reason: str, perm: str) -> str:
    """The stripped reason; the owner, or staff holding ``perm`` with a reason."""
    return actor_reason_check(
        actor=actor,
        owner_id=owner_id,
        perm=perm,
        reason=reason,
        refusal="only the owner of a copy group may change it",
    )


def _journal_extra(reason: str) -> dict[str, Any] | None:
    return {"reason": reason} if reason else None


def _lock_group(group: CopyGroup, actor: User, reason: str = "") -> CopyGroup:
    """Lock the leader account, then the group; the group as stored now."""
    _check_owner(group.owner_id, actor, reason, "routing.change_copygroup")
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    locked = CopyGroup.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        raise ApplicationError(f"copy group {group.name!r} no longer exists")
    return locked


def _lock_follower(follower: Follower, actor: User, reason: str = "") -> Follower:
    """Lock the group's leader account, then the follower; the follower as stored now."""
    group = follower.group
    _check_owner(group.owner_id, actor, reason, "routing.change_follower")
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    locked = (
        Follower.objects.select_for_update(of=("self",))
        .select_related("account", "group")
        .filter(pk=follower.pk)
        .first()
    )
    if locked is None:
        raise ApplicationError(f"{follower.account.name} no longer follows {group.name!r}")
    return locked


def _settings(group: CopyGroup) -> dict[str, Any]:
    """Every stored setting of ``group`` (settings added later included), by
    column name, plus the leader's name."""
    settings = {
        field.attname: getattr(group, field.attname)
        for field in group._meta.concrete_fields
        if field.name not in _NOT_SNAPSHOT
    }
    settings["leader"] = group.leader.name
    return settings


def _follower_rows(followers: list[Follower]) -> list[dict[str, Any]]:
    return [
        {
            "account_id": f.account_id,
            "account": f.account.name,
            "ratio": f.ratio,
            "enabled": f.enabled,
        }
        for f in followers
    ]


# -- settings ------------------------------------------------------------------


@transaction.atomic
def copy_group_update(
    *, group: CopyGroup, actor: User, data: dict[str, Any], reason: str = ""
) -> bool:
    """Change ``group``'s settings (name, copy mode, copy value, rounding…)
    to the values in ``data``; return whether anything changed.

    Only changed fields are saved and journaled (``before``/``after`` hold
    them). Raises ``ApplicationError`` for the leader (fixed at creation),
    the owner, ``enabled`` (use pause / resume), a name the owner already
    uses, or a copy value ≤ 0, or when ``actor`` is neither the owner nor
    staff giving a ``reason`` (:func:`copytrade.core.actors.actor_reason_check`).
    The reason is journaled with the actor.
    """
    reason = reason.strip()
    locked = _lock_group(group, actor, reason)
    for name in data:
        if name == "leader":
            raise ApplicationError(
                "the leader of a copy group cannot change after creation; "
                "create a new group to copy another account",
                field="leader",
            )
        if name in _NOT_SETTINGS:
            raise ApplicationError(f"{name} is not a group setting")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in data.items():
        current = getattr(locked, name)  # an unknown field raises AttributeError: a bug
        if current != value:
            before[name], after[name] = current, value
    if not after:
        return False
    if (
        "name" in after
        and CopyGroup.objects.filter(owner_id=locked.owner_id, name=after["name"])
        .exclude(pk=locked.pk)
        .exists()
    ):
        raise ApplicationError(f"you already have a group named {after['name']!r}", field="name")
    if "copy_value" in after and not after["copy_value"] > 0:
        raise ApplicationError(
            f"copy value must be > 0, got {after['copy_value']}", field="copy_value"
        )
    for name, value in after.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*after, "updated_at"])
    changes = ", ".join(f"{name} {before[name]} → {after[name]}" for name in after)
    journal_record(
        owner_id=locked.owner_id,
        event_type=EventType.COPY_GROUP_CHANGED,
        group_id=locked.pk,
        account_id=locked.leader_id,
        actor_label=actor.username,
        actor_user_id=actor.pk,
        message=(
            f"Copy group {before.get('name', locked.name)!r} settings changed: {changes}"
            f"{actor_note(actor, locked.owner_id, reason)}"
        ),
        before=before,
        after=after,
        extra_data=_journal_extra(reason),
    )
    for name, value in after.items():
        setattr(group, name, value)
    return True


# -- pause / resume --------------------------------------------------------------


def _group_set_enabled(group: CopyGroup, actor: User, enabled: bool, reason: str) -> bool:
    reason = reason.strip()
    locked = _lock_group(group, actor, reason)
    group.enabled = locked.enabled
    if locked.enabled == enabled:
        return False
    locked.enabled = enabled
    locked.save(update_fields=["enabled", "updated_at"])
    group.enabled = enabled
    verb = "resumed" if enabled else "paused"
    journal_record(
        owner_id=locked.owner_id,
        event_type=EventType.COPY_GROUP_RESUMED if enabled else EventType.COPY_GROUP_PAUSED,
        group_id=locked.pk,
        account_id=locked.leader_id,
        actor_label=actor.username,
        actor_user_id=actor.pk,
        message=(
            f"Copy group {locked.name!r} {verb} by {actor.username}"
            f"{actor_note(actor, locked.owner_id, reason)}"
        ),
        before={"enabled": not enabled},
        after={"enabled": enabled},
        extra_data=_journal_extra(reason),
    )
    feed_state_on_commit(user_id=locked.owner_id, group_ids=[locked.pk], reason=verb)
    return True


@transaction.atomic
def copy_group_pause(*, group: CopyGroup, actor: User, reason: str = "") -> bool:
    """Pause ``group``: the engine copies none of the leader's new entries
    into its followers (exits still are, so no follower is left holding a
    position the leader closed). Return whether the group was running;
    pausing a paused group changes and journals nothing.
    """
    return _group_set_enabled(group, actor, enabled=False, reason=reason)


@transaction.atomic
def copy_group_resume(*, group: CopyGroup, actor: User, reason: str = "") -> bool:
    """Resume ``group``: the leader's next entry is copied again. Return
    whether the group was paused; resuming a running group changes and
    journals nothing."""
    return _group_set_enabled(group, actor, enabled=True, reason=reason)


def _follower_set_enabled(follower: Follower, actor: User, enabled: bool, reason: str) -> bool:
    reason = reason.strip()
    locked = _lock_follower(follower, actor, reason)
    follower.enabled = locked.enabled
    if locked.enabled == enabled:
        return False
    locked.enabled = enabled
    locked.save(update_fields=["enabled", "updated_at"])
    follower.enabled = enabled
    verb = "resumed" if enabled else "paused"
    journal_record(
        owner_id=locked.group.owner_id,
        event_type=EventType.FOLLOWER_RESUMED if enabled else EventType.FOLLOWER_PAUSED,
        group_id=locked.group_id,
        account_id=locked.account_id,
        actor_label=actor.username,
        actor_user_id=actor.pk,
        message=(
            f"{locked.account.name} in {locked.group.name!r} {verb} by {actor.username}"
            f"{actor_note(actor, locked.group.owner_id, reason)}"
        ),
        before={"enabled": not enabled},
        after={"enabled": enabled},
        extra_data=_journal_extra(reason),
    )
    feed_state_on_commit(
        user_id=locked.group.owner_id, group_ids=[locked.group_id], reason=f"follower {verb}"
    )
    return True


@transaction.atomic
def follower_pause(*, follower: Follower, actor: User, reason: str = "") -> bool:
    """Pause one follower: the engine copies no new entries into its account
    (exits still are). Return whether it was running; idempotent, journals
    only a change."""
    return _follower_set_enabled(follower, actor, enabled=False, reason=reason)


@transaction.atomic
def follower_resume(*, follower: Follower, actor: User, reason: str = "") -> bool:
    """Resume one follower: the leader's next entry is copied into it again.
    Return whether it was paused; idempotent, journals only a change."""
    return _follower_set_enabled(follower, actor, enabled=True, reason=reason)


@transaction.atomic
def follower_update(
    *, follower: Follower, actor: User, data: dict[str, Any], reason: str = ""
) -> bool:
    """Change a follower's ``ratio`` (``Decimal``, 0.1-1000, DESIGN.md) or
    ``sizing_basis``; return whether anything changed.

    Only changed fields are saved and journaled (``follower.changed``, with
    ``before``/``after`` and the reason). Raises :class:`ApplicationError`
    for another field (``enabled`` has pause / resume), a ratio out of
    range, or an ``actor`` that is neither the owner nor staff giving a reason.
    """
    reason = reason.strip()
    for name in data:
        if name not in _FOLLOWER_SETTINGS:
            raise ApplicationError(f"{name} is not a follower setting")
    ratio = data.get("ratio")
    if ratio is not None and not RATIO_MIN <= ratio <= RATIO_MAX:
        raise ApplicationError(
            f"ratio must be between {RATIO_MIN} and {RATIO_MAX}, got {ratio}", field="ratio"
        )
    locked = _lock_follower(follower, actor, reason)
    if "sizing_basis" in data:
        problem = sizing_basis_problem(
            data["sizing_basis"], leader=locked.group.leader, account=locked.account
        )
        if problem is not None:
            raise problem
    before = {n: getattr(locked, n) for n, v in data.items() if getattr(locked, n) != v}
    after = {n: data[n] for n in before}
    if not after:
        return False
    for name, value in after.items():
        setattr(locked, name, value)
        setattr(follower, name, value)
    locked.save(update_fields=[*after, "updated_at"])
    changes = ", ".join(f"{n} {before[n]} \u2192 {after[n]}" for n in after)
    journal_record(
        owner_id=locked.group.owner_id,
        event_type=EventType.FOLLOWER_CHANGED,
        group_id=locked.group_id,
        account_id=locked.account_id,
        actor_label=actor.username,
        actor_user_id=actor.pk,
        message=(
            f"{locked.account.name} in {locked.group.name!r} changed: {changes}"
            f"{actor_note(actor, locked.group.owner_id, reason)}"
        ),
        before=before,
        after=after,
        extra_data=_journal_extra(reason),
    )
    return True


# -- delete ----------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDeletePreview:
    """What deleting a group removes, and what it keeps (the journal)."""

    followers: list[Follower]
    copy_order_count: int
    journal_entry_count: int
    running_replays: list[ReplayJob]


def copy_group_delete_preview(*, group: CopyGroup) -> GroupDeletePreview:
    """Read what ``copy_group_delete`` would remove, for the confirmation page."""
    return GroupDeletePreview(
        followers=list(group.followers.select_related("account").order_by("pk")),
        copy_order_count=CopyOrder.objects.filter(group=group).count(),
        journal_entry_count=JournalEntry.objects.filter(
            owner_id=group.owner_id, group_id=group.pk
        ).count(),
        running_replays=list(
            ReplayJob.objects.filter(group=group, status=ReplayJob.Status.RUNNING).order_by("pk")
        ),
    )


@transaction.atomic
def copy_group_delete(*, group: CopyGroup, actor: User) -> None:
    """Delete ``group`` with its followers, copy orders and replay jobs.

    The journal is kept: entries refer to groups by plain id, and one more
    entry records the settings and follower list in ``before``. Leader events
    and fills stay (they belong to the accounts). Raises ``ApplicationError``
    while a replay job is streaming into the group: its worker would go on
    feeding the leader, and so every other group that leader leads.
    """
    locked = _lock_group(group, actor)
    # Locking the jobs also stops a worker claiming a pending one meanwhile:
    # its conditional update waits for this transaction and then finds no row.
    jobs = list(ReplayJob.objects.select_for_update().filter(group=locked).order_by("pk"))
    running = [job for job in jobs if job.status == ReplayJob.Status.RUNNING]
    if running:
        labels = ", ".join(repr(job.label) for job in running)
        raise ApplicationError(
            f"{locked.name!r} cannot be deleted while a replay is streaming into it "
            f"({labels}); wait until it is done. Pausing the group stops the copying meanwhile."
        )
    followers = list(locked.followers.select_related("account").order_by("pk"))
    copy_orders = CopyOrder.objects.filter(group=locked).count()
    settings = _settings(locked)
    journal_record(
        owner_id=locked.owner_id,
        event_type=EventType.COPY_GROUP_DELETED,
        group_id=locked.pk,
        account_id=locked.leader_id,
        actor_label=actor.username,
        actor_user_id=actor.pk,
        message=(
            f"Copy group {locked.name!r} deleted by {actor.username}: leader "
            f"{settings['leader']}, {len(followers)} follower(s), {copy_orders} copy order(s)"
        ),
        before={**settings, "followers": _follower_rows(followers)},
        after=None,
        extra_data={"copy_orders": copy_orders, "replay_jobs": [job.pk for job in jobs]},
    )
    locked.delete()
