"""Fixtures for the webhook tests: alice's route with its webhook on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from conftest import Route
from routing.webhooks.settings import WebhookSecret, webhook_enable


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Each test starts with no alerts counted against any group."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hook(route: Route) -> WebhookSecret:
    made = webhook_enable(group=route.group, actor=route.owner)
    assert made is not None
    return made


def alert(secret: str, **fields: Any) -> dict[str, Any]:
    """A valid market buy of 2 MNQH6 at 21000, with ``fields`` changed."""
    body: dict[str, Any] = {
        "secret": secret,
        "symbol": "CME_MINI:MNQH2026",
        "action": "buy",
        "quantity": 2,
        "order_type": "market",
        "price": "21000",
        "alert_id": "a1",
    }
    body.update(fields)
    return body
