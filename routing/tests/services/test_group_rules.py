"""Group rules: settings, pause / resume of groups and followers, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import User
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import ExportImport, Fill, JournalEntry
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, Follower, LeaderEvent, ReplayJob
from routing.services.group_rules import (
    copy_group_delete,
    copy_group_delete_preview,
    copy_group_pause,
    copy_group_resume,
    copy_group_update,
    follower_pause,
    follower_resume,
)
from routing.services.leader_events import leader_event_ingest

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 28, 15, 0, tzinfo=UTC)


def _buy(route: Route, event_id: str, qty: int = 2):
    fill = LeaderFill(event_id, "lead", "MNQH5", Side.BUY, qty, Decimal("21539.50"), T0)
    return leader_event_ingest(account=route.leader, fill=fill, source="test")


def _entries(event_type: str) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=event_type).order_by("pk"))


def _replay_job(route: Route, status: str, label: str = "grid.csv") -> ReplayJob:
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name=label,
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "e1"}],
        fill_count=1,
    )
    return ReplayJob.objects.create(
        owner=route.owner, group=route.group, export_import=record, label=label, status=status
    )


# -- pause / resume a group ------------------------------------------------------


def test_group_pause_when_running_then_disabled_and_journaled_with_actor(route: Route) -> None:
    # Act
    changed = copy_group_pause(group=route.group, actor=route.owner)
    # Assert
    assert changed is True
    assert route.group.enabled is False
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is False
    [entry] = _entries("copy_group.paused")
    assert (entry.owner_id, entry.group_id, entry.account_id) == (
        route.owner.pk,
        route.group.pk,
        route.leader.pk,
    )
    assert (entry.actor_user_id, entry.actor_label) == (route.owner.pk, "alice")
    assert (entry.before, entry.after) == ({"enabled": True}, {"enabled": False})
    assert entry.message == "Copy group 'Evals' paused by alice"


def test_group_pause_when_already_paused_then_nothing_changes_or_journals(route: Route) -> None:
    # Arrange
    copy_group_pause(group=route.group, actor=route.owner)
    stale = CopyGroup.objects.get(pk=route.group.pk)
    updated_at = stale.updated_at
    # Act: a second click, also from an object that still believes it runs
    route.group.enabled = True
    changed = copy_group_pause(group=route.group, actor=route.owner)
    # Assert
    assert changed is False
    assert route.group.enabled is False  # refreshed from the row
    assert CopyGroup.objects.get(pk=route.group.pk).updated_at == updated_at
    assert len(_entries("copy_group.paused")) == 1


def test_group_resume_when_paused_then_enabled_and_journaled(route: Route) -> None:
    copy_group_pause(group=route.group, actor=route.owner)
    # Act
    changed = copy_group_resume(group=route.group, actor=route.owner)
    # Assert
    assert changed is True
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is True
    [entry] = _entries("copy_group.resumed")
    assert (entry.before, entry.after, entry.actor_user_id) == (
        {"enabled": False},
        {"enabled": True},
        route.owner.pk,
    )


def test_group_resume_when_running_then_nothing_journaled(route: Route) -> None:
    assert copy_group_resume(group=route.group, actor=route.owner) is False
    assert _entries("copy_group.resumed") == []


def test_group_pause_when_not_owner_then_refused_and_unchanged(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="only the owner"):
        copy_group_pause(group=route.group, actor=bob)
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is True
    assert _entries("copy_group.paused") == []


def test_leader_entry_when_group_paused_then_nothing_sent_until_resumed(route: Route) -> None:
    # Arrange
    copy_group_pause(group=route.group, actor=route.owner)
    # Act
    paused = _buy(route, "f1")
    copy_group_resume(group=route.group, actor=route.owner)
    resumed = _buy(route, "f2")
    # Assert
    assert paused.pending_order_ids == []
    pending = CopyOrder.objects.filter(pk__in=resumed.pending_order_ids)
    assert {o.account_id for o in pending} == {route.small.pk, route.large.pk}


# -- pause / resume a follower -----------------------------------------------------


def test_follower_pause_then_journaled_and_no_entry_sent_to_it(route: Route) -> None:
    # Act
    changed = follower_pause(follower=route.small_follower, actor=route.owner)
    result = _buy(route, "f1")
    # Assert
    assert changed is True
    assert Follower.objects.get(pk=route.small_follower.pk).enabled is False
    [entry] = _entries("follower.paused")
    assert (entry.group_id, entry.account_id, entry.actor_label) == (
        route.group.pk,
        route.small.pk,
        "alice",
    )
    assert (entry.before, entry.after) == ({"enabled": True}, {"enabled": False})
    pending = CopyOrder.objects.filter(pk__in=result.pending_order_ids)
    assert [o.account_id for o in pending] == [route.large.pk]


def test_follower_pause_twice_then_one_entry(route: Route) -> None:
    follower_pause(follower=route.small_follower, actor=route.owner)
    assert follower_pause(follower=route.small_follower, actor=route.owner) is False
    assert len(_entries("follower.paused")) == 1


def test_follower_resume_when_paused_then_enabled_and_journaled_once(route: Route) -> None:
    follower_pause(follower=route.small_follower, actor=route.owner)
    # Act
    first = follower_resume(follower=route.small_follower, actor=route.owner)
    second = follower_resume(follower=route.small_follower, actor=route.owner)
    # Assert
    assert (first, second) == (True, False)
    assert Follower.objects.get(pk=route.small_follower.pk).enabled is True
    [entry] = _entries("follower.resumed")
    assert (entry.before, entry.after) == ({"enabled": False}, {"enabled": True})


def test_follower_pause_when_not_owner_then_refused(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="only the owner"):
        follower_pause(follower=route.small_follower, actor=bob)
    assert Follower.objects.get(pk=route.small_follower.pk).enabled is True


# -- settings ------------------------------------------------------------------------


def test_group_update_then_changed_fields_saved_and_journaled(route: Route) -> None:
    # Act
    changed = copy_group_update(
        group=route.group,
        actor=route.owner,
        data={"name": "Evals", "copy_mode": "fixed", "copy_value": Decimal(2)},
    )
    # Assert
    assert changed is True
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.copy_mode, group.copy_value) == ("fixed", Decimal(2))
    [entry] = _entries("copy_group.changed")
    assert entry.before == {"copy_mode": "multiplier", "copy_value": "1.0000"}
    assert entry.after == {"copy_mode": "fixed", "copy_value": "2"}
    assert entry.actor_user_id == route.owner.pk


def test_group_update_when_same_values_then_nothing_journaled(route: Route) -> None:
    changed = copy_group_update(
        group=route.group, actor=route.owner, data={"copy_value": Decimal("1.0")}
    )
    assert changed is False
    assert _entries("copy_group.changed") == []


def test_group_update_when_leader_given_then_refused_and_leader_kept(route: Route) -> None:
    with pytest.raises(ApplicationError, match="cannot change after creation") as exc:
        copy_group_update(group=route.group, actor=route.owner, data={"leader": route.large})
    assert exc.value.field == "leader"
    assert CopyGroup.objects.get(pk=route.group.pk).leader_id == route.leader.pk


def test_group_update_when_name_taken_then_refused_on_name(route: Route) -> None:
    from accounts.services import broker_account_create
    from routing.services.copy_groups import copy_group_create

    other = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    copy_group_create(owner=route.owner, name="Funded", leader=other)
    with pytest.raises(ApplicationError, match="already have a group named 'Funded'") as exc:
        copy_group_update(group=route.group, actor=route.owner, data={"name": "Funded"})
    assert exc.value.field == "name"


# -- delete ----------------------------------------------------------------------------


def test_delete_then_followers_and_orders_gone_journal_kept(route: Route) -> None:
    # Arrange: orders and fills exist, and the group's history is journaled
    _buy(route, "f1")
    order_ids = list(CopyOrder.objects.filter(group=route.group).values_list("pk", flat=True))
    assert len(order_ids) == 2
    follower_pause(follower=route.small_follower, actor=route.owner)
    kept = set(JournalEntry.objects.filter(group_id=route.group.pk).values_list("pk", "event_type"))
    assert {"copy_group.created", "follower.added", "follower.paused"} <= {e for _, e in kept}
    group_id = route.group.pk
    # Act
    copy_group_delete(group=route.group, actor=route.owner)
    # Assert
    assert not CopyGroup.objects.filter(pk=group_id).exists()
    assert not Follower.objects.filter(group_id=group_id).exists()
    assert not CopyOrder.objects.filter(pk__in=order_ids).exists()
    assert LeaderEvent.objects.filter(account=route.leader, external_id="f1").exists()
    assert Fill.objects.filter(account=route.leader).count() == 1
    after = set(JournalEntry.objects.filter(group_id=group_id).values_list("pk", "event_type"))
    assert kept < after
    [deleted] = [e for _, e in after - kept]
    assert deleted == "copy_group.deleted"


def test_delete_then_journal_before_holds_settings_and_followers(route: Route) -> None:
    follower_pause(follower=route.large_follower, actor=route.owner)
    # Act
    copy_group_delete(group=route.group, actor=route.owner)
    # Assert
    [entry] = _entries("copy_group.deleted")
    assert entry.message == (
        "Copy group 'Evals' deleted by alice: leader Lead, 2 follower(s), 0 copy order(s)"
    )
    assert (entry.actor_user_id, entry.actor_label, entry.after) == (route.owner.pk, "alice", None)
    expected = {
        "name": "Evals",
        "leader_id": route.leader.pk,
        "leader": "Lead",
        "copy_mode": "multiplier",
        "copy_value": "1.0000",
        "rounding": "entry_down_exit_up",
        "enabled": True,
        "followers": [
            {
                "account_id": route.small.pk,
                "account": "Eval 25K",
                "ratio": "0.5000",
                "enabled": True,
            },
            {
                "account_id": route.large.pk,
                "account": "Funded 150K",
                "ratio": "3.0000",
                "enabled": False,
            },
        ],
    }
    # Settings added to CopyGroup later land in ``before`` too.
    assert {key: entry.before[key] for key in expected} == expected
    assert set(entry.before) - set(expected) <= {f.attname for f in CopyGroup._meta.concrete_fields}


def test_delete_then_accounts_free_to_lead_and_follow_again(route: Route) -> None:
    from routing.services.copy_groups import copy_group_create, follower_add

    copy_group_delete(group=route.group, actor=route.owner)
    # The former follower may lead now, and the former leader may follow it.
    group = copy_group_create(owner=route.owner, name="Evals", leader=route.small)
    follower_add(group=group, account=route.leader)
    assert group.followers.get().account_id == route.leader.pk


def test_delete_when_replay_running_then_refused_and_nothing_changes(route: Route) -> None:
    # Arrange
    _replay_job(route, ReplayJob.Status.RUNNING, label="grid.csv")
    # Act
    with pytest.raises(
        ApplicationError, match=r"while a replay is streaming into it \('grid.csv'\)"
    ):
        copy_group_delete(group=route.group, actor=route.owner)
    # Assert
    assert CopyGroup.objects.filter(pk=route.group.pk).exists()
    assert Follower.objects.filter(group=route.group).count() == 2
    assert _entries("copy_group.deleted") == []


@pytest.mark.parametrize("status", ["pending", "done", "failed"])
def test_delete_when_replay_not_running_then_jobs_deleted_too(route: Route, status: str) -> None:
    job = _replay_job(route, status)
    copy_group_delete(group=route.group, actor=route.owner)
    assert not ReplayJob.objects.filter(pk=job.pk).exists()
    [entry] = _entries("copy_group.deleted")
    assert entry.extra_data == {"copy_orders": 0, "replay_jobs": [job.pk]}


def test_delete_when_not_owner_then_refused(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="only the owner"):
        copy_group_delete(group=route.group, actor=bob)
    assert CopyGroup.objects.filter(pk=route.group.pk).exists()


def test_delete_preview_counts_what_goes_and_what_stays(route: Route) -> None:
    _buy(route, "f1")
    running = _replay_job(route, ReplayJob.Status.RUNNING)
    _replay_job(route, ReplayJob.Status.DONE, label="old.csv")
    # Act
    preview = copy_group_delete_preview(group=route.group)
    # Assert
    assert [f.account.name for f in preview.followers] == ["Eval 25K", "Funded 150K"]
    assert preview.copy_order_count == 2
    # created + 2 followers added + each follower's first session reset
    assert preview.journal_entry_count == 5
    assert preview.running_replays == [running]
