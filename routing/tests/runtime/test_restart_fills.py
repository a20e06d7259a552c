"""Issue 10, defect 1: fills after an engine restart are stored like any other.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
A leader buy of 2 MNQH6 makes market orders of 1 and 6; two such buys, one
before and one after a restart, leave the followers at 2 and 12 contracts,
in 4 journal fills (one per order, each filled at once in full).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from conftest import Route
from journal.models import Fill, Position
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, Incident
from routing.runtime.adapters import build_registry
from routing.runtime.worker import EngineWorker

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _buy(event_id: str, minutes: int) -> LeaderFill:
    return LeaderFill(
        event_id, "lead", "MNQH6", Side.BUY, 2, Decimal("21000"), T0 + timedelta(minutes=minutes)
    )


async def test_fills_after_a_restart_are_all_stored(route: Route) -> None:
    # Arrange: an engine runs one leader buy, then stops.
    first = await sync_to_async(build_registry)()
    await first.connect_all()
    await EngineWorker(first).handle_leader_fill(route.leader.pk, _buy("f1", 0), source="t")
    await first.disconnect_all()
    # Act: a restarted engine builds a new paper broker (positions restored
    # from the journal) and copies the next leader buy.
    second = await sync_to_async(build_registry)()
    await second.connect_all()
    await EngineWorker(second).handle_leader_fill(route.leader.pk, _buy("f2", 1), source="t")
    await second.disconnect_all()

    # Assert: every filled contract is in the journal, positions follow.
    def state() -> tuple[dict[str, int], int, dict[str, int], int, int]:
        followers = Fill.objects.exclude(account=route.leader)
        filled = sum(CopyOrder.objects.filter(status="filled").values_list("filled_qty", flat=True))
        held = {
            p.account.name: p.qty
            for p in Position.objects.select_related("account").exclude(account=route.leader)
        }
        counts = {
            name: followers.filter(account__name=name).count()
            for name in ("Eval 25K", "Funded 150K")
        }
        return counts, sum(f.qty for f in followers), held, filled, Incident.objects.count()

    counts, journal_qty, held, filled, incidents = await sync_to_async(state)()
    assert counts == {"Eval 25K": 2, "Funded 150K": 2}
    assert journal_qty == filled == 1 + 6 + 1 + 6
    assert held == {"Eval 25K": 2, "Funded 150K": 12}
    assert incidents == 0
    assert second.paper.position(route.large.external_id, "MNQH6").qty == 12
