"""Route invariants hold in the database itself, not only in services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from routing.models import CopyGroup, CopyOrder, Follower, LeaderEvent
from routing.services.copy_groups import copy_group_create, follower_add

pytestmark = pytest.mark.django_db


def test_leader_change_when_raw_update_then_database_refuses(route: Route) -> None:
    # Arrange
    other = broker_account_create(owner=route.owner, name="Other", balance=Decimal(1000))
    # Act / Assert
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        CopyGroup.objects.filter(pk=route.group.pk).update(leader=other)
    route.group.refresh_from_db()
    assert route.group.leader_id == route.leader.pk


def test_rename_group_when_leader_unchanged_then_allowed(route: Route) -> None:
    CopyGroup.objects.filter(pk=route.group.pk).update(name="Renamed")
    assert CopyGroup.objects.get(pk=route.group.pk).name == "Renamed"


def test_follower_leads_when_raw_insert_then_database_refuses_cycle(route: Route) -> None:
    with pytest.raises(IntegrityError, match="cannot lead"), transaction.atomic():
        CopyGroup.objects.create(owner=route.owner, name="Cycle", leader=route.small)


def test_leader_follows_when_raw_insert_then_database_refuses_cycle(route: Route) -> None:
    second_leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(1000))
    other_group = CopyGroup.objects.create(owner=route.owner, name="G2", leader=second_leader)
    with pytest.raises(IntegrityError, match="cannot follow"), transaction.atomic():
        Follower.objects.create(group=other_group, account=route.leader)


def test_follower_twice_when_raw_insert_then_unique_constraint_refuses(route: Route) -> None:
    second_leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(1000))
    other_group = CopyGroup.objects.create(owner=route.owner, name="G2", leader=second_leader)
    with pytest.raises(IntegrityError, match="uniq_follower_account"), transaction.atomic():
        Follower.objects.create(group=other_group, account=route.small)
    with pytest.raises(IntegrityError, match="uniq_follower_account"), transaction.atomic():
        Follower.objects.create(group=route.group, account=route.small)


@pytest.mark.parametrize("ratio", [Decimal("0.09"), Decimal("1000.01"), Decimal(0)])
def test_ratio_out_of_range_when_raw_insert_then_check_constraint_refuses(
    route: Route, ratio: Decimal
) -> None:
    account = broker_account_create(owner=route.owner, name="New", balance=Decimal(1000))
    with pytest.raises(IntegrityError, match="follower_ratio_between"), transaction.atomic():
        Follower.objects.create(group=route.group, account=account, ratio=ratio)


def test_copy_order_twice_for_one_event_and_follower_then_refused(route: Route) -> None:
    from django.utils import timezone

    event = LeaderEvent.objects.create(
        account=route.leader,
        external_id="f1",
        symbol="MNQH5",
        side="buy",
        qty=1,
        price=Decimal("21500"),
        occurred_at=timezone.now(),
        source="test",
    )
    fields = dict(
        leader_event=event,
        group=route.group,
        follower=route.small_follower,
        account=route.small,
        symbol="MNQH5",
        side="buy",
        qty=1,
        intent="entry",
        status="pending",
    )
    CopyOrder.objects.create(client_order_id="ct-1", **fields)
    with (
        pytest.raises(IntegrityError, match="uniq_copy_order_event_follower"),
        transaction.atomic(),
    ):
        CopyOrder.objects.create(client_order_id="ct-2", **fields)


def test_service_when_cycle_then_clear_error(route: Route) -> None:
    with pytest.raises(ApplicationError, match="Eval 25K follows a group, so it cannot lead one"):
        copy_group_create(owner=route.owner, name="Cycle", leader=route.small)
    second_leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(1000))
    group2 = copy_group_create(owner=route.owner, name="G2", leader=second_leader)
    with pytest.raises(ApplicationError, match="Lead leads a group, so it cannot follow one"):
        follower_add(group=group2, account=route.leader)
    with pytest.raises(ApplicationError, match="already follows 'Evals'"):
        follower_add(group=group2, account=route.small)
    with pytest.raises(ApplicationError, match=r"ratio must be between 0\.1 and 1000"):
        follower_add(
            group=group2,
            account=broker_account_create(owner=route.owner, name="X", balance=Decimal(1)),
            ratio=Decimal("0.05"),
        )


def test_service_when_other_users_account_then_refused(route: Route, bob) -> None:
    bobs = broker_account_create(owner=bob, name="Bob's", balance=Decimal(1000))
    with pytest.raises(ApplicationError, match="belongs to another user"):
        follower_add(group=route.group, account=bobs)
