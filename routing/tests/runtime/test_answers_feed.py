"""The live-feed message of a leader event's orders, sent once their answers
are recorded: every order as recorded, whichever way it was recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import DatabaseError

from conftest import Route
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.runtime import worker as worker_module
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.feed import FeedMessage


def _registry() -> AdapterRegistry:
    return AdapterRegistry({"paper": PaperBroker(engine_contract_specs())})


async def _event_feed(route: Route, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The orders of the one ``copy_orders`` message a leader buy of 2 MNQ
    makes the worker send (the channel layer's send caught)."""
    sent: list[FeedMessage] = []

    async def caught(message: FeedMessage) -> None:
        sent.append(message)

    monkeypatch.setattr(worker_module, "feed_push", caught)
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    buy = LeaderFill("f1", "lead", "MNQH6", Side.BUY, 2, Decimal("21500.25"), datetime.now(UTC))
    await EngineWorker(registry).handle_leader_fill(route.leader.pk, buy, source="test")
    (message,) = sent
    assert (message.user_id, message.message["kind"]) == (route.owner.pk, "copy_orders")
    return message.message["data"]["orders"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_answers_recorded_in_their_batch_then_the_message_carries_them(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = await _event_feed(route, monkeypatch)
    assert [(o["follower"], o["qty"], o["status"], o["filled_qty"]) for o in orders] == [
        ("Eval 25K", 1, "filled", 1),
        ("Funded 150K", 6, "filled", 6),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_batch_failed_and_answers_recorded_one_by_one_then_the_message_carries_them(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: the event's batch of answers fails (a database blip); the
    # worker records them one by one instead.
    def blip(**kwargs: Any) -> None:
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(worker_module, "event_answers_record", blip)
    # Act
    orders = await _event_feed(route, monkeypatch)
    # Assert: the orders as recorded, not as the ingest stored them (sent).
    assert [(o["follower"], o["qty"], o["status"], o["filled_qty"]) for o in orders] == [
        ("Eval 25K", 1, "filled", 1),
        ("Funded 150K", 6, "filled", 6),
    ]
