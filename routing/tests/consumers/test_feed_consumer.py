"""The live feed websocket through the real Redis channel layer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import User
from conftest import Route
from copytrade.asgi import application
from routing.engine.types import LeaderFill, Side
from routing.services.leader_events import leader_event_ingest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.mark.django_db
def test_channel_layer_is_redis() -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"


def _cookie_for(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def _connect(*headers: tuple[bytes, bytes]) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, "/ws/feed/", headers=list(headers))
    connected, _ = await communicator.connect()
    return communicator, connected


@pytest.mark.asyncio
async def test_owner_receives_copy_orders_and_other_user_does_not(route: Route, bob: User) -> None:
    # Arrange
    alice_ws, alice_ok = await _connect(
        ORIGIN, await database_sync_to_async(_cookie_for)(route.owner)
    )
    bob_ws, bob_ok = await _connect(ORIGIN, await database_sync_to_async(_cookie_for)(bob))
    assert alice_ok and bob_ok
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), datetime.now(UTC))
    # Act
    await database_sync_to_async(leader_event_ingest)(
        account=route.leader, fill=fill, source="test"
    )
    # Assert: alice gets one numbered message with both followers' orders.
    message = await alice_ws.receive_json_from(timeout=5)
    assert message["kind"] == "copy_orders"
    assert message["seq"] == 1
    assert {(o["follower"], o["qty"], o["status"]) for o in message["data"]["orders"]} == {
        ("Eval 25K", 1, "pending"),
        ("Funded 150K", 6, "pending"),
    }
    assert await bob_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


@pytest.mark.asyncio
async def test_sequence_numbers_increase_per_user(route: Route) -> None:
    ws, ok = await _connect(ORIGIN, await database_sync_to_async(_cookie_for)(route.owner))
    assert ok
    for n, side in enumerate((Side.BUY, Side.SELL), start=1):
        fill = LeaderFill(f"f{n}", "lead", "MNQH5", side, 2, Decimal("21539.50"), datetime.now(UTC))
        await database_sync_to_async(leader_event_ingest)(
            account=route.leader, fill=fill, source="t"
        )
    seqs = [(await ws.receive_json_from(timeout=5))["seq"] for _ in range(2)]
    assert seqs == [1, 2]
    await ws.disconnect()


@pytest.mark.asyncio
async def test_anonymous_socket_is_refused(db: None) -> None:
    _, connected = await _connect(ORIGIN)
    assert not connected


@pytest.mark.asyncio
async def test_foreign_origin_is_refused(route: Route) -> None:
    cookie = await database_sync_to_async(_cookie_for)(route.owner)
    _, connected = await _connect((b"origin", b"http://evil.example"), cookie)
    assert not connected


def _second_group(route: Route) -> None:
    from accounts.services import broker_account_create
    from routing.services.copy_groups import copy_group_create, follower_add

    group = copy_group_create(owner=route.owner, name="Funded", leader=route.leader)
    other = broker_account_create(owner=route.owner, name="PA 50K", balance=Decimal(50_000))
    follower_add(group=group, account=other, ratio=Decimal(2))


@pytest.mark.asyncio
async def test_worker_sends_one_message_per_user_per_event_with_every_answer(
    route: Route,
) -> None:
    from routing.brokers.paper import PaperBroker
    from routing.runtime.adapters import AdapterRegistry
    from routing.runtime.worker import EngineWorker
    from routing.selectors import engine_contract_specs

    # Arrange: the leader leads two groups of alice's (three followers).
    await database_sync_to_async(_second_group)(route)
    ws, ok = await _connect(ORIGIN, await database_sync_to_async(_cookie_for)(route.owner))
    assert ok
    specs = await database_sync_to_async(engine_contract_specs)()
    registry = AdapterRegistry({"paper": PaperBroker(specs)})
    await registry.connect_all()
    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), datetime.now(UTC))
    # Act
    await EngineWorker(registry).handle_leader_fill(route.leader.pk, fill, source="t")
    # Assert: one message, every order of the event across both groups, as
    # the broker answered (filled), not as first stored (sent).
    message = await ws.receive_json_from(timeout=5)
    assert (message["kind"], message["seq"]) == ("copy_orders", 1)
    assert {
        (o["follower"], o["qty"], o["status"], o["filled_qty"]) for o in message["data"]["orders"]
    } == {
        ("Eval 25K", 1, "filled", 1),
        ("Funded 150K", 6, "filled", 6),
        ("PA 50K", 4, "filled", 4),
    }
    assert len(message["data"]["groups"]) == 2
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()
