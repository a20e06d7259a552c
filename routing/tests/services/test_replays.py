"""Replay jobs reach only their group's own simulated exchange (issue 10,
defect 2): a replay into a leader on a real platform or with a follower on
a real platform is refused with the account named, and nothing is queued.
(A leader never follows a group: ``copy_group_create`` refuses it.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import ExportImport
from routing.models import CopyGroup, ReplayJob
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.replays import replay_job_create

pytestmark = pytest.mark.django_db


def _export(route: Route) -> ExportImport:
    return ExportImport.objects.create(
        owner=route.owner,
        file_name="day.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "e1", "symbol": "MNQH6", "side": "buy", "qty": "1", "price": "21000"}],
        fill_count=1,
    )


def _replay(route: Route, group: CopyGroup) -> ReplayJob:
    return replay_job_create(
        group=group, export_import=_export(route), interval_ms=0, actor_label="t"
    )


def test_replay_into_a_paper_route_is_queued(route: Route) -> None:
    job = _replay(route, route.group)
    assert (job.group_id, job.status) == (route.group.pk, ReplayJob.Status.PENDING)


def test_replay_into_a_real_platform_leader_is_refused(route: Route) -> None:
    leader = broker_account_create(
        owner=route.owner,
        name="Topstep 50K",
        balance=Decimal(50_000),
        platform="projectx",
        external_id="PX-1",
    )
    group = copy_group_create(owner=route.owner, name="Live", leader=leader)

    with pytest.raises(
        ApplicationError, match="Topstep 50K is a ProjectX account: replays run only"
    ):
        _replay(route, group)
    assert not ReplayJob.objects.exists()


def test_replay_with_a_real_platform_follower_is_refused(route: Route) -> None:
    real = broker_account_create(
        owner=route.owner,
        name="Apex 100K",
        balance=Decimal(100_000),
        platform="tradovate",
        external_id="TV-9",
    )
    follower_add(group=route.group, account=real, ratio=Decimal(1))

    with pytest.raises(ApplicationError, match="Apex 100K is a Tradovate account following Lead"):
        _replay(route, route.group)
    assert not ReplayJob.objects.exists()
