"""seed_demo: the demo route and its looping replay (embedded default's first page)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from journal.models import EventType, JournalEntry
from routing.models import CopyGroup, ReplayJob, RiskLimit

pytestmark = pytest.mark.django_db


def test_seed_demo_queues_a_looping_replay_once(
    shared_data: Path, tmp_path: Path, settings: Any
) -> None:
    settings.BASE_DIR = tmp_path  # .demo-credentials is written there, not in the checkout
    call_command("seed_demo", "--host", "127.0.0.1:8000", stdout=StringIO())
    call_command("seed_demo", "--host", "127.0.0.1:8000", stdout=StringIO())
    group = CopyGroup.objects.get()
    assert group.followers.count() == 5
    job = ReplayJob.objects.get(group=group)
    # The demo feed must keep moving: the job starts over when it reaches the end.
    assert job.repeat is True
    assert job.status == ReplayJob.Status.PENDING


def test_seed_demo_sets_a_route_budget_and_drawdowns(
    shared_data: Path, tmp_path: Path, settings: Any
) -> None:
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--host", "127.0.0.1:8000", stdout=StringIO())
    group = CopyGroup.objects.get()
    # The pre-session check can price risk: (40 + 4) ticks, level 3 Active.
    assert (group.stop_ticks, group.slippage_ticks, group.level) == (40, 4, 3)
    # Made at 1 Test like every new route, raised to 3 with the reason journaled.
    created = JournalEntry.objects.get(event_type=EventType.COPY_GROUP_CREATED)
    raised = JournalEntry.objects.get(event_type=EventType.ROUTE_LEVEL_CHANGED)
    assert (created.after["level"], raised.before, raised.after["level"]) == (1, {"level": 1}, 3)
    assert "seed_demo: the demo route copies each follower at its ratio" in raised.message
    assert group.max_total_contracts == 120
    drawdowns = dict(
        RiskLimit.objects.filter(max_drawdown__isnull=False).values_list(
            "account__name", "drawdown_mode"
        )
    )
    assert drawdowns == {
        "Eval 25K": "trailing_eod",
        "Eval 50K": "trailing_intraday",
        "Eval 100K": "trailing_intraday",
    }
