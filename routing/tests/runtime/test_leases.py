"""Leader leases: claim, renew, expiry, take-over, release, fair share, fencing.

Clocks are moved with time-machine; the database is the real PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, LeaderEvent, LeaderLease
from routing.selectors import engine_workers_live, engine_workers_live_count, leader_leases_held
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.leader_events import leader_event_ingest
from routing.services.leases import (
    LeaseFence,
    LeaseLostError,
    engine_worker_beat,
    engine_worker_stop,
    leader_leases_acquire,
    leader_leases_release,
    leader_leases_renew,
    leader_lock,
)

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
TTL = timedelta(seconds=8)
pytestmark = pytest.mark.django_db


def _acquire(worker_id: str, held: dict[int, int] | None = None) -> dict[int, int]:
    won = leader_leases_acquire(worker_id=worker_id, held=held or {}, ttl=TTL, fair_share=False)
    return {f.leader_id: f.generation for f in won}


def test_first_claim_creates_the_lease_and_holds_it_for_the_ttl(route: Route) -> None:
    # Act
    with time_machine.travel(T0, tick=False):
        won = _acquire("a")
    # Assert
    assert won == {route.leader.pk: 1}
    lease = LeaderLease.objects.get(leader=route.leader)
    assert (lease.worker_id, lease.generation) == ("a", 1)
    assert (lease.acquired_at, lease.expires_at) == (T0, T0 + TTL)
    assert LeaderLease.objects.count() == 1  # followers get no lease
    assert JournalEntry.objects.filter(event_type=EventType.LEADER_TAKEN_OVER).count() == 0


def test_held_lease_when_not_expired_then_another_worker_gets_nothing(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        _acquire("a")
    with time_machine.travel(T0 + TTL - timedelta(milliseconds=1), tick=False):
        assert _acquire("b") == {}
    assert leader_leases_held(at=T0 + timedelta(seconds=1)) == {route.leader.pk: "a"}


def test_renewed_lease_outlives_the_first_ttl(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        held = _acquire("a")
    with time_machine.travel(T0 + timedelta(seconds=6), tick=False):
        assert leader_leases_renew(worker_id="a", held=held, ttl=TTL) == {route.leader.pk}
    # 10 s after the claim, 4 s after the renewal: still a's.
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        assert _acquire("b") == {}
    assert LeaderLease.objects.get().expires_at == T0 + timedelta(seconds=14)


def test_expired_lease_when_taken_over_then_generation_bumped_and_journaled(
    route: Route,
) -> None:
    # Arrange: a claims, then dies (stops renewing).
    with time_machine.travel(T0, tick=False):
        held_a = _acquire("a")
    # Act: 8.5 s later b finds it expired.
    with time_machine.travel(T0 + timedelta(seconds=8.5), tick=False):
        held_b = _acquire("b")
    # Assert
    assert held_b == {route.leader.pk: 2}
    entry = JournalEntry.objects.get(event_type=EventType.LEADER_TAKEN_OVER)
    assert entry.owner_id == route.owner.pk
    assert entry.account_id == route.leader.pk
    assert entry.message == (
        "Leader Lead: engine worker b took over from a (its lease expired 0.5 s ago); "
        "recovering and reconciling before copying"
    )
    assert (entry.before, entry.after) == (
        {"worker_id": "a", "generation": 1},
        {"worker_id": "b", "generation": 2},
    )
    # a comes back to life: its renewal says the lease is gone.
    with time_machine.travel(T0 + timedelta(seconds=9), tick=False):
        assert leader_leases_renew(worker_id="a", held=held_a, ttl=TTL) == set()
    assert LeaderLease.objects.get().expires_at == T0 + timedelta(seconds=8.5) + TTL


def test_two_claims_of_one_lease_when_racing_then_exactly_one_wins(route: Route) -> None:
    from routing.services.leases import _claim

    with time_machine.travel(T0, tick=False):
        _acquire("a")
    stale = LeaderLease.objects.select_related("leader").get()  # both read generation 1
    with time_machine.travel(T0 + timedelta(seconds=9), tick=False):
        first = _claim(stale, worker_id="b", ttl=TTL, now=T0 + timedelta(seconds=9))
        second = _claim(stale, worker_id="c", ttl=TTL, now=T0 + timedelta(seconds=9))
    assert first == LeaseFence(route.leader.pk, "b", 2)
    assert second is None
    assert LeaderLease.objects.get().worker_id == "b"


def test_released_lease_when_claimed_at_once_then_no_take_over_journaled(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        held = _acquire("a")
        assert leader_leases_release(worker_id="a", held=held) == 1
        assert _acquire("b") == {route.leader.pk: 2}
    assert not JournalEntry.objects.filter(event_type=EventType.LEADER_TAKEN_OVER).exists()


def test_release_of_a_lease_taken_over_meanwhile_leaves_it_alone(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        held = _acquire("a")
    with time_machine.travel(T0 + timedelta(seconds=9), tick=False):
        _acquire("b")
        assert leader_leases_release(worker_id="a", held=held) == 0
    assert LeaderLease.objects.get().worker_id == "b"


def test_same_worker_id_when_restarted_then_takes_its_leader_back_at_once(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        _acquire("host-engine-1")
    # The process restarts 1 s later (nothing in memory) under the same id.
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        assert _acquire("host-engine-1") == {route.leader.pk: 2}
    assert not JournalEntry.objects.filter(event_type=EventType.LEADER_TAKEN_OVER).exists()


def test_fair_share_when_two_workers_live_then_three_leaders_split_two_and_one(
    route: Route,
) -> None:
    # Arrange: two more leaders (three in all) and two live workers.
    for n in (2, 3):
        leader = broker_account_create(owner=route.owner, name=f"Lead {n}", balance=Decimal(1))
        follower = broker_account_create(owner=route.owner, name=f"F {n}", balance=Decimal(1))
        group = copy_group_create(owner=route.owner, name=f"G{n}", leader=leader)
        follower_add(group=group, account=follower, ratio=Decimal(1))
    with time_machine.travel(T0, tick=False):
        engine_worker_beat(worker_id="a", leaders=0)
        engine_worker_beat(worker_id="b", leaders=0)
        # Act
        won_a = leader_leases_acquire(worker_id="a", ttl=TTL)
        won_b = leader_leases_acquire(worker_id="b", ttl=TTL)
        again_a = leader_leases_acquire(worker_id="a", held=[f.leader_id for f in won_a], ttl=TTL)
    # Assert: ceil(3 / 2) = 2 for the first, the one left for the second.
    assert len(won_a) == 2
    assert len(won_b) == 1
    assert again_a == []
    assert set(leader_leases_held(at=T0).values()) == {"a", "b"}


def test_live_workers_when_silent_past_the_ttl_or_stopped_then_not_counted() -> None:
    with time_machine.travel(T0, tick=False):
        engine_worker_beat(worker_id="a", leaders=2)
        engine_worker_beat(worker_id="b", leaders=1)
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        engine_worker_beat(worker_id="b", leaders=1)
        engine_worker_beat(worker_id="c", leaders=0)
        engine_worker_stop(worker_id="c")
    # 9 s after T0: a was last seen 9 s ago (> TTL), b 4 s ago, c stopped.
    at = T0 + timedelta(seconds=9)
    assert engine_workers_live_count(at=at) == 1
    assert [w.worker_id for w in engine_workers_live(at=at)] == ["b"]


def test_fence_when_lease_taken_over_then_old_holder_is_refused(route: Route) -> None:
    with time_machine.travel(T0, tick=False):
        _acquire("a")
    with time_machine.travel(T0 + timedelta(seconds=9), tick=False):
        _acquire("b")
    with transaction.atomic():
        leader_lock(leader_id=route.leader.pk, fence=LeaseFence(route.leader.pk, "b", 2))
        leader_lock(leader_id=route.leader.pk)  # unfenced: a lock, no check
    with pytest.raises(LeaseLostError, match="a no longer holds the lease"), transaction.atomic():
        leader_lock(leader_id=route.leader.pk, fence=LeaseFence(route.leader.pk, "a", 1))
    with pytest.raises(LeaseLostError), transaction.atomic():
        # Generation 0: what a worker passes for a leader it never held.
        leader_lock(leader_id=route.leader.pk, fence=LeaseFence(route.leader.pk, "b", 0))


def test_ingest_when_fence_is_stale_then_nothing_is_stored_or_decided(route: Route) -> None:
    # Arrange: a held the leader, b took it over.
    with time_machine.travel(T0, tick=False):
        _acquire("a")
    with time_machine.travel(T0 + timedelta(seconds=9), tick=False):
        _acquire("b")
    fill = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21000"), T0)
    # Act / Assert: a's decision is refused, b's goes through.
    with pytest.raises(LeaseLostError):
        leader_event_ingest(
            account=route.leader,
            fill=fill,
            source="t",
            fence=LeaseFence(route.leader.pk, "a", 1),
        )
    assert LeaderEvent.objects.count() == 0
    assert CopyOrder.objects.count() == 0
    result = leader_event_ingest(
        account=route.leader, fill=fill, source="t", fence=LeaseFence(route.leader.pk, "b", 2)
    )
    # Eval 25K at 0.5: 2 x 0.5 = 1; Funded 150K at 3: 2 x 3 = 6.
    assert sorted(o.qty for o in result.orders) == [1, 6]
