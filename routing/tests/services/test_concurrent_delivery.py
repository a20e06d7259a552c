"""The same leader event delivered twice at once produces one order per follower.

Two threads, two database connections, one fill: the leader row lock and
the unique constraints decide; neither delivery may add orders.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from conftest import Route
from routing.engine.types import LeaderFill, Side
from routing.models import CopyOrder, ExpectedPosition, LeaderEvent
from routing.services.leader_events import IngestResult, leader_event_ingest

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("deliveries", [2, 4])
def test_concurrent_duplicate_delivery_creates_one_order_per_follower(
    route: Route, deliveries: int
) -> None:
    fill = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 4, Decimal("21000"), T0)
    barrier = threading.Barrier(deliveries)
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(leader_event_ingest(account=route.leader, fill=fill, source="t"))
        except BaseException as exc:  # reported to the main thread, which asserts none
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(r.created for r in results) == [False] * (deliveries - 1) + [True]
    assert LeaderEvent.objects.count() == 1
    assert CopyOrder.objects.count() == 2
    ids = {frozenset(o.pk for o in r.orders) for r in results}
    assert len(ids) == 1  # every delivery answers with the same two orders
    # Expected positions moved once: 4 x 0.5 = 2 and 4 x 3 = 12.
    assert dict(ExpectedPosition.objects.values_list("account__name", "qty")) == {
        "Eval 25K": 2,
        "Funded 150K": 12,
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_event_waiting_on_a_pause_in_flight_is_decided_paused(route: Route) -> None:
    """An event whose ingest waits for the leader's lock while a dashboard
    save holds it is decided on the saved configuration, not on the one
    cached before (the version is read after the lock, not in its snapshot)."""
    from routing.services.group_rules import copy_group_pause
    from routing.services.route_state import leader_routes, route_cache_clear, route_config_key

    route_cache_clear()
    leader_routes(leader_id=route.leader.pk, key=route_config_key())  # warm, running
    pausing = threading.Event()
    errors: list[BaseException] = []
    results: list[IngestResult] = []

    def pause() -> None:
        try:
            from django.db import transaction

            from accounts.models import BrokerAccount

            with transaction.atomic():
                # As every route service: the leader's row first, then the change.
                BrokerAccount.objects.select_for_update().get(pk=route.leader.pk)
                pausing.set()
                threading.Event().wait(0.5)  # the ingest is queued on the lock now
                copy_group_pause(group=route.group, actor=route.owner)
        except BaseException as exc:  # reported to the main thread, which asserts none
            errors.append(exc)
        finally:
            connection.close()

    def ingest() -> None:
        try:
            pausing.wait(5)
            fill = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21000"), T0)
            results.append(leader_event_ingest(account=route.leader, fill=fill, source="t"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pause), threading.Thread(target=ingest)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    # Paused: both entries skipped, nothing sent.
    assert sorted(o.status for o in results[0].orders) == ["skipped", "skipped"]
    assert all("route paused" in o.reason for o in results[0].orders)
