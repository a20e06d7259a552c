"""End to end: an alert posted to the webhook is copied by the engine worker.

The web request only stores the leader event and its PENDING copy orders;
the engine worker's pass (``send_pending``) sends them to the followers'
broker (the paper exchange here) and records the answers.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from conftest import Route
from routing.brokers.paper import PaperBroker
from routing.models import CopyOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.tests.webhooks.conftest import alert
from routing.webhooks.settings import webhook_enable

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _post(token: str, body: dict[str, object]) -> int:
    url = reverse("webhook_tradingview", kwargs={"token": token})
    return Client().post(url, data=json.dumps(body), content_type="application/json").status_code


async def _until(check: object, what: str) -> None:
    for _ in range(200):
        if await sync_to_async(check)():  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"engine worker never got there: {what}")


async def test_alerts_are_sent_to_followers_by_the_running_engine_worker(route: Route) -> None:
    # Arrange: the engine worker runs its loop beside the web requests.
    await sync_to_async(cache.clear)()
    made = await sync_to_async(webhook_enable)(group=route.group, actor=route.owner)
    assert made is not None
    specs = await sync_to_async(engine_contract_specs)()
    registry = AdapterRegistry({"paper": PaperBroker(specs)})
    stop = asyncio.Event()
    running = asyncio.create_task(EngineWorker(registry, poll_seconds=0.05).run(stop))
    token, secret = made.webhook.token, made.secret

    def all_filled() -> bool:
        statuses = set(CopyOrder.objects.values_list("status", flat=True))
        return statuses == {CopyOrder.Status.FILLED}

    try:
        # Act: a buy.
        assert await sync_to_async(_post)(token, alert(secret, quantity=2, alert_id="in")) == 200
        await _until(all_filled, "the buy's copies filled")
        # Assert: each follower holds its copy at the broker.
        assert registry.paper.position(route.small.external_id, "MNQH6").qty == 1
        assert registry.paper.position(route.large.external_id, "MNQH6").qty == 6
        # Act: the same alert again, then an exit.
        assert await sync_to_async(_post)(token, alert(secret, quantity=2, alert_id="in")) == 200
        exit_alert = alert(secret, action="exit", alert_id="out")
        assert await sync_to_async(_post)(token, exit_alert) == 200
        await _until(
            lambda: CopyOrder.objects.count() == 4 and all_filled(), "the exit's copies filled"
        )
    finally:
        stop.set()
        await running
    # Assert: every follower flat, no order twice.
    for account in (route.small, route.large):
        assert registry.paper.position(account.external_id, "MNQH6").qty == 0
    assert await sync_to_async(CopyOrder.objects.count)() == 4
