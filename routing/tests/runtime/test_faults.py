"""Fault isolation (issue 10, defects 4 and 5): one bad account or adapter
stops only its own route, and a database blip does not end the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import psycopg.sql
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.db import InterfaceError, OperationalError, connection, connections

from accounts.models import BrokerAccount
from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, JournalEntry
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, Incident, LeaderEvent
from routing.runtime import faults as faults_module
from routing.runtime import worker as worker_module
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]
NO_ADAPTER = "no broker adapter for platform 'tradovate'"


def _registry() -> AdapterRegistry:
    return AdapterRegistry({"paper": PaperBroker(engine_contract_specs())})


def _fill(event_id: str, leader: BrokerAccount, side: Side, qty: int) -> LeaderFill:
    return LeaderFill(event_id, leader.external_id, "MNQH6", side, qty, Decimal("21000"), T0)


def _bad_follower(route: Route) -> BrokerAccount:
    """A follower on a platform this worker has no adapter for."""
    bad = broker_account_create(
        owner=route.owner,
        name="Tradovate 50K",
        balance=Decimal(50_000),
        platform=BrokerAccount.Platform.TRADOVATE,
        external_id="TV-123",
    )
    follower_add(group=route.group, account=bad, ratio=Decimal(1))
    return bad


def _second_group(route: Route) -> tuple[CopyGroup, BrokerAccount, list[BrokerAccount]]:
    leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(100_000))
    group = copy_group_create(owner=route.owner, name="Second", leader=leader)
    followers = []
    for n in range(2):
        account = broker_account_create(owner=route.owner, name=f"S{n}", balance=Decimal(50_000))
        follower_add(group=group, account=account, ratio=Decimal(1))
        followers.append(account)
    return group, leader, followers


def _checked[T](check: Callable[[], T]) -> T | None:
    """Run ``check`` on a connection of its own (not the worker's), closed
    after; a database that is down counts as "not yet"."""
    try:
        return check()
    except (OperationalError, InterfaceError):
        return None
    finally:
        connection.close()


async def _until(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await asyncio.to_thread(_checked, check):
            return True
        await asyncio.sleep(0.05)
    return False


def _statuses(account: BrokerAccount) -> list[str]:
    return list(
        CopyOrder.objects.filter(account=account).order_by("pk").values_list("status", flat=True)
    )


async def test_follower_without_adapter_after_restart_is_isolated_and_others_keep_copying(
    route: Route,
) -> None:
    # Arrange: a follower on tradovate (no adapter here) with orders a previous
    # run left SENT and PENDING, and a second group with paper followers.
    bad = await sync_to_async(_bad_follower)(route)
    second, leader2, followers2 = await sync_to_async(_second_group)(route)
    sent = await sync_to_async(leader_event_ingest)(
        account=route.leader, fill=_fill("f0", route.leader, Side.BUY, 2), source="t"
    )
    bad_sent = next(o.pk for o in sent.orders if o.account_id == bad.pk)
    assert await sync_to_async(copy_order_claim)(order_id=bad_sent) is not None
    await sync_to_async(leader_event_ingest)(
        account=route.leader, fill=_fill("f1", route.leader, Side.BUY, 2), source="t"
    )
    registry = await sync_to_async(_registry)()
    stop = asyncio.Event()
    # Act: the worker restarts; later, leader 2 trades.
    running = asyncio.create_task(EngineWorker(registry, poll_seconds=0.05).run(stop))
    try:
        assert await _until(
            lambda: set(_statuses(bad)) == {"rejected"} and len(_statuses(bad)) == 2
        ), f"bad account orders: {await sync_to_async(_statuses)(bad)}"
        registry.paper.publish_leader_fill(_fill("g1", leader2, Side.BUY, 3))
        assert await _until(lambda: all(_statuses(a) == ["filled"] for a in followers2)), [
            await sync_to_async(_statuses)(a) for a in followers2
        ]
        assert not running.done()  # the worker is still running
    finally:
        stop.set()
        await running
    # Assert: the bad account's orders name the missing adapter, journaled;
    # its route has its incident (level 4), the other route none.
    reasons = await sync_to_async(
        lambda: list(CopyOrder.objects.filter(account=bad).values_list("reason", flat=True))
    )()
    assert all(NO_ADAPTER in r for r in reasons), reasons
    rejected = await sync_to_async(
        lambda: list(
            JournalEntry.objects.filter(
                event_type=EventType.COPY_ORDER_REJECTED, account_id=bad.pk
            ).values_list("message", flat=True)
        )
    )()
    assert len(rejected) == 2 and all(NO_ADAPTER in m for m in rejected), rejected
    incidents = await sync_to_async(
        lambda: list(Incident.objects.values_list("group_id", "kind"))
    )()
    assert incidents and {g for g, _ in incidents} == {route.group.pk}
    levels = await sync_to_async(lambda: dict(CopyGroup.objects.values_list("pk", "level")))()
    assert levels[route.group.pk] == 4
    assert levels[second.pk] != 4
    # The good followers of the bad account's route got their leftover orders.
    for account in (route.small, route.large):
        assert await sync_to_async(_statuses)(account) == ["filled", "filled"]


async def test_fresh_fill_with_a_follower_without_adapter_copies_to_the_good_ones(
    route: Route,
) -> None:
    bad = await sync_to_async(_bad_follower)(route)
    registry = await sync_to_async(_registry)()
    stop = asyncio.Event()
    running = asyncio.create_task(EngineWorker(registry, poll_seconds=0.05).run(stop))
    try:
        registry.paper.publish_leader_fill(_fill("f1", route.leader, Side.BUY, 2))
        assert await _until(
            lambda: (
                _statuses(route.small) == ["filled"]
                and _statuses(route.large) == ["filled"]
                and _statuses(bad) == ["rejected"]
            )
        )
        assert not running.done()
    finally:
        stop.set()
        await running
    order = await sync_to_async(CopyOrder.objects.get)(account=bad)
    assert NO_ADAPTER in order.reason
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 6


def _own_connection(dbname: str | None = None) -> psycopg.Connection:
    params = connection.get_connection_params()
    if dbname is not None:
        params["dbname"] = dbname
    for name in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(name, None)
    return psycopg.connect(**params, autocommit=True)


def _terminate_worker_connections(spare: int) -> int:
    """Kill every backend on the test database but ``spare`` (the test
    thread's own), from a connection of its own (to the maintenance
    database, which a test database refusing connections leaves open);
    returns how many."""
    with _own_connection("postgres") as own:
        rows = own.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
            [connection.settings_dict["NAME"], spare],
        ).fetchall()
    return len(rows)


def _allow_connections(allow: bool) -> None:
    name = connection.settings_dict["NAME"]
    with _own_connection("postgres") as own:
        own.execute(
            psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.SQL("true" if allow else "false")
            )
        )


@pytest.fixture
def spare(route: Route) -> int:
    """The backend of the test's own connection (the one that flushes the
    tables after the test), which the blip leaves alone."""
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


async def test_database_blip_when_connections_terminated_then_worker_survives_and_copies_next_event(
    route: Route, spare: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: the worker keeps its connection between calls (as with
    # CONN_MAX_AGE in production), so terminating it breaks its next call.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", None)
    registry = await sync_to_async(_registry)()
    stop = asyncio.Event()
    running = asyncio.create_task(EngineWorker(registry, poll_seconds=0.05).run(stop))
    try:
        registry.paper.publish_leader_fill(_fill("f1", route.leader, Side.BUY, 2))
        assert await _until(lambda: _statuses(route.large) == ["filled"])
        # Act 1: the database drops the worker's connection while it idles.
        assert await asyncio.to_thread(_terminate_worker_connections, spare) >= 1
        await asyncio.sleep(0.5)
        assert not running.done(), running.exception() if running.done() else None
        # Act 2: the database goes away for 1.5 s (connections dropped and
        # refused) just as the leader's next fill arrives.
        await asyncio.to_thread(_allow_connections, False)
        try:
            await asyncio.to_thread(_terminate_worker_connections, spare)
            registry.paper.publish_leader_fill(_fill("f2", route.leader, Side.SELL, 2))
            await asyncio.sleep(1.5)
        finally:
            await asyncio.to_thread(_allow_connections, True)
        ok = await _until(
            lambda: (
                _statuses(route.large) == ["filled", "filled"]
                and _statuses(route.small) == ["filled", "filled"]
            )
        )
        assert ok, await asyncio.to_thread(_checked, lambda: _statuses(route.large))
        assert not running.done()
    finally:
        stop.set()
        await running
        # The worker's thread keeps its connection (CONN_MAX_AGE None): close it.
        await sync_to_async(lambda: connection.close())()
    assert registry.paper.position(route.large.external_id, "MNQH6").qty == 0
    events = await asyncio.to_thread(
        _checked, lambda: sorted(LeaderEvent.objects.values_list("external_id", flat=True))
    )
    assert events == ["f1", "f2"]  # nothing lost, nothing twice


async def test_ingest_failing_past_retries_when_journal_also_down_then_kept_and_locked_later(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: the ingest always fails as if the database were gone, and the
    # first attempts to record the incident fail too.
    monkeypatch.setattr(faults_module, "DB_RETRY_FIRST_DELAY", 0.01)
    calls = {"incident": 0}

    def ingest_down(**kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    real_incidents = faults_module.incidents_leader_event_not_applied

    def incidents_flaky(**kwargs: object) -> object:
        calls["incident"] += 1
        if calls["incident"] <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real_incidents(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "leader_event_ingest", ingest_down)
    monkeypatch.setattr(faults_module, "incidents_leader_event_not_applied", incidents_flaky)
    registry = await sync_to_async(_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry, poll_seconds=0.05)
    # Act
    await worker.handle_leader_event(
        route.leader.pk, _fill("f1", route.leader, Side.BUY, 2), source="t"
    )
    assert worker.unjournaled_drops == 1  # kept in memory, not lost
    await worker.journal_drops()  # fails again (2nd try), still kept
    assert worker.unjournaled_drops == 1
    await worker.journal_drops()
    # Assert: the event could not be applied, so its route is locked with
    # an incident naming it and the database's error (journaled).
    assert worker.unjournaled_drops == 0
    entry = await sync_to_async(JournalEntry.objects.get)(event_type=EventType.INCIDENT)
    assert "f1" in entry.message and "server closed the connection" in entry.message
    assert "not stored: database unavailable" in entry.message
    level = await sync_to_async(lambda: CopyGroup.objects.get(pk=route.group.pk).level)()
    assert level == 4
