"""Issue 10, defect 6: an error on the hot path is retried, then shown.

A leader event or a broker answer that fails for another reason than the
database being down (here PostgreSQL's "value too long for type character
varying(100)": an event id or a broker fill id of 150 characters) was only
logged before, and the event was lost without a trace on any page. Now it
is tried again, and when it still fails it is an incident on its route
(level 4, listed on the group page, journaled with the error), and the
leader's next events are still applied.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from conftest import Route
from journal.models import EventType, JournalEntry
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, Incident, LeaderEvent
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]
T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
LONG = "x" * 150  # the columns hold 100 characters


def _buy(event_id: str, minutes: int = 0) -> LeaderFill:
    return LeaderFill(
        event_id, "lead", "MNQH6", Side.BUY, 2, Decimal("21000"), T0 + timedelta(minutes=minutes)
    )


async def _worker(**paper: str) -> EngineWorker:
    specs = await sync_to_async(engine_contract_specs)()
    registry = AdapterRegistry({"paper": PaperBroker(specs, **paper)})
    await registry.connect_all()
    return EngineWorker(registry)


def _incidents() -> list[tuple[int, str, str]]:
    return list(Incident.objects.order_by("pk").values_list("group_id", "kind", "detail"))


async def test_leader_event_that_keeps_failing_locks_its_route_and_the_next_event_applies(
    route: Route,
) -> None:
    worker = await _worker()

    # Act: an event whose id does not fit its column (PostgreSQL refuses it).
    await worker.handle_leader_event(route.leader.pk, _buy(LONG), source="paper")

    # Assert: an incident on the leader's route with the database's error,
    # the route at level 4, the incident journaled.
    [(group_id, kind, detail)] = await sync_to_async(_incidents)()
    assert (group_id, kind) == (route.group.pk, Incident.Kind.EVENT_NOT_APPLIED)
    assert detail.startswith(f"leader Lead event {LONG} could not be applied: DataError: ")
    assert "value too long" in detail
    level = await sync_to_async(lambda: CopyGroup.objects.get(pk=route.group.pk).level)()
    assert level == 4
    journaled = await sync_to_async(
        lambda: JournalEntry.objects.filter(
            event_type=EventType.INCIDENT, group_id=route.group.pk
        ).count()
    )()
    assert journaled == 1

    # Act: the leader's next event arrives.
    await worker.handle_leader_event(route.leader.pk, _buy("f2", 1), source="paper")

    # Assert: it is applied (stored, decided) under the lock: entries blocked.
    def decided() -> list[tuple[str, str]]:
        return list(
            CopyOrder.objects.filter(leader_event__external_id="f2")
            .order_by("pk")
            .values_list("status", "reason")
        )

    statuses = await sync_to_async(decided)()
    assert [s for s, _ in statuses] == ["blocked", "blocked"]
    assert await sync_to_async(LeaderEvent.objects.filter(external_id="f2").exists)()


async def test_broker_answer_that_cannot_be_recorded_is_an_incident_on_its_order(
    route: Route,
) -> None:
    # Arrange: a broker whose fill ids do not fit the journal's column.
    worker = await _worker(fill_id_prefix="f" * 150)

    # Act: the leader buys 2: orders of 1 and 6 are sent and filled at the
    # broker, but their answers cannot be recorded.
    await worker.handle_leader_event(route.leader.pk, _buy("f1"), source="paper")

    # Assert: one incident per order on the route, naming the order, what
    # failed and the error; the orders stay SENT, for recovery to query.
    incidents = await sync_to_async(_incidents)()
    assert len(incidents) == 2
    for group_id, kind, detail in incidents:
        assert (group_id, kind) == (route.group.pk, Incident.Kind.EVENT_NOT_APPLIED)
        assert "the broker's answer (filled, " in detail
        assert "DataError" in detail and "value too long" in detail
    names = sorted(detail.split(" order ")[0] for _, _, detail in incidents)
    assert names == ["Eval 25K", "Funded 150K"]
    statuses = await sync_to_async(
        lambda: sorted(CopyOrder.objects.values_list("status", flat=True))
    )()
    assert statuses == ["sent", "sent"]


async def test_group_page_lists_the_event_not_applied(route: Route) -> None:
    worker = await _worker()
    await worker.handle_leader_event(route.leader.pk, _buy(LONG), source="paper")

    def page() -> str:
        client = Client()
        client.force_login(route.owner)
        return client.get(f"/groups/{route.group.pk}/").content.decode()

    html = await sync_to_async(page)()
    assert "Event not applied" in html
    assert f"leader Lead event {LONG} could not be applied" in html


async def test_sequence_gap_never_filled_locks_the_route_and_later_events_still_apply(
    route: Route,
) -> None:
    # Arrange: the leader's stream delivers seq 2 (a buy of 2) but seq 1
    # never arrives: the gate holds seq 2 for its hold time (2 s).
    worker = await _worker()
    numbered = LeaderFill("f2", "lead", "MNQH6", Side.BUY, 2, Decimal("21000"), T0, seq=2)
    await worker.handle_leader_event(route.leader.pk, numbered, source="paper")
    assert await sync_to_async(_incidents)() == []

    # Act: the hold time passes.
    await asyncio.sleep(2.2)
    await worker.expire_held_events()

    # Assert: the missing fill is an incident on the route (level 4: the
    # followers may be off their targets), and seq 2 is applied under the
    # lock (an entry: blocked).
    [(group_id, kind, detail)] = await sync_to_async(_incidents)()
    assert (group_id, kind) == (route.group.pk, Incident.Kind.EVENT_NOT_APPLIED)
    assert detail.startswith(
        "leader Lead event seq:1 could not be applied: gap: seq 1 never arrived within "
        "the hold time; skipped"
    )
    statuses = await sync_to_async(
        lambda: sorted(
            CopyOrder.objects.filter(leader_event__external_id="f2").values_list(
                "status", flat=True
            )
        )
    )()
    assert statuses == ["blocked", "blocked"]
