"""A real platform's login in the worker: its accounts held while it is
down, its copied working orders cancelled on a reconnect after a long
down (before anything else reaches them), left alone after a short one;
its states recorded when they change; logins handed to their adapter.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5 (paper), Funded
150K at 3 — here on "projectx" (the paper exchange behind a fake login).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount
from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.brokers.budget import Priority
from routing.brokers.logins import ConnectionState, Environment, LoginConfig, LoginState
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, LeaderOrder, LeaderOrderAction, OrderType, Side
from routing.models import AccountSession, CopyOrder
from routing.runtime import logins as worker_logins
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.route_state import route_config_bump
from routing.tests.runtime.login_fakes import FakeLogin

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
SYMBOL = "MNQH6"
ACCOUNT = "PRAC-150K-1"
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]


def _login() -> LoginConfig:
    return LoginConfig(
        1, "projectx", Environment.DEMO, {"username": "u", "api_key": "k"}, (ACCOUNT,)
    )


async def _worker(route: Route) -> tuple[EngineWorker, FakeLogin, list[list[LoginState]]]:
    def on_projectx() -> None:
        BrokerAccount.objects.filter(pk=route.large.pk).update(
            platform="projectx", external_id=ACCOUNT
        )
        route_config_bump()

    await sync_to_async(on_projectx)()
    paper = await sync_to_async(lambda: PaperBroker(engine_contract_specs(), slippage_ticks=0))()
    projectx = await sync_to_async(FakeLogin)()
    registry = AdapterRegistry({"paper": paper, "projectx": projectx})
    await registry.connect_all()
    recorded: list[list[LoginState]] = []

    def record(*, states: list[LoginState]) -> None:
        recorded.append(list(states))

    worker = EngineWorker(registry, logins_source=lambda: [_login()], logins_record=record)
    await worker.refresh_logins()
    return worker, projectx, recorded


async def _working_bid(route: Route, worker: EngineWorker) -> CopyOrder:
    """The leader long 4, then a bid of 2 resting at 20990: Funded 150K
    holds 12 on ProjectX and its mirror of 6 is working there."""
    buy = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal("21000"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="t")
    bid = LeaderOrder(
        "L1:new",
        "L1",
        "lead",
        LeaderOrderAction.NEW,
        SYMBOL,
        Side.BUY,
        2,
        OrderType.LIMIT,
        T0,
        limit_price=Decimal("20990"),
    )
    await worker.handle_leader_order(route.leader.pk, bid, source="t")
    return await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.large, leader_order_id="L1")
    )()


async def _status(order: CopyOrder) -> str:
    return await sync_to_async(lambda: CopyOrder.objects.get(pk=order.pk).status)()


async def test_logins_handed_to_their_adapter_and_states_recorded_on_change(
    route: Route,
) -> None:
    worker, projectx, recorded = await _worker(route)
    assert projectx.logins == [[_login()]]
    await worker.refresh_logins()  # unchanged: not handed again
    assert len(projectx.logins) == 1
    # Two requests spent on login 1's budget (shared by its accounts).
    budget = worker.registry.budgets_of("projectx")(1)
    assert await budget.spend(Priority.ENTRY) and await budget.spend(Priority.EXIT)
    await worker.watch_logins(now=T0)
    await worker.watch_logins(now=T0)  # unchanged: not recorded again
    assert [[(s.login_id, s.state) for s in states] for states in recorded] == [
        [(1, ConnectionState.CONNECTED)]
    ]
    assert recorded[0][0].budget_used == 2
    assert recorded[0][0].budget_limit == budget.used()[1] is not None
    projectx.down(T0)
    await worker.watch_logins(now=T0)
    assert recorded[-1][0].state is ConnectionState.DOWN
    assert recorded[-1][0].detail == "socket closed"


async def test_reconnect_after_a_long_down_cancels_working_copies_first(route: Route) -> None:
    worker, projectx, _ = await _worker(route)
    mirror = await _working_bid(route, worker)
    assert (mirror.status, mirror.qty) == ("working", 6)
    # The login drops at T0; the worker sees it and holds the account.
    projectx.down(T0)
    await worker.watch_logins(now=T0 + timedelta(seconds=1))
    held = worker.registry.unreachable("projectx", ACCOUNT)
    assert held is not None
    assert held.startswith("projectx login down since 2026-03-03 15:30:00 UTC: socket closed")
    # Back after 45 s (past the default 30 s): still held until handled...
    projectx.back(T0 + timedelta(seconds=45))
    assert worker.registry.unreachable("projectx", ACCOUNT) is not None
    await worker.watch_logins(now=T0 + timedelta(seconds=46))
    # ...then the working copy is cancelled at the broker and here, and the
    # account released.
    assert await _status(mirror) == "cancelled"
    at_broker = await projectx.query_order(ACCOUNT, mirror.client_order_id)
    assert at_broker is not None
    assert at_broker.status.value == "cancelled"
    [message] = await sync_to_async(
        lambda: list(
            JournalEntry.objects.filter(event_type=EventType.BROKER_RECONNECTED).values_list(
                "message", flat=True
            )
        )
    )()
    assert message == (
        "Funded 150K: projectx connection back after 46 s down; 1 copied working order(s) "
        f"cancelled on reconnect: {mirror.client_order_id}"
    )
    assert worker.registry.unreachable("projectx", ACCOUNT) is None


async def test_reconnect_after_a_short_down_leaves_working_copies(
    route: Route, settings: object
) -> None:
    worker, projectx, _ = await _worker(route)
    mirror = await _working_bid(route, worker)
    projectx.down(T0)
    await worker.watch_logins(now=T0 + timedelta(seconds=1))
    projectx.back(T0 + timedelta(seconds=5))
    await worker.watch_logins(now=T0 + timedelta(seconds=6))
    assert await _status(mirror) == "working"
    assert worker.registry.unreachable("projectx", ACCOUNT) is None


async def test_a_platform_without_an_adapter_leaves_its_logins_failed(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = AdapterRegistry(
        {"paper": await sync_to_async(lambda: PaperBroker(engine_contract_specs()))()}
    )
    recorded: list[list[LoginState]] = []
    monkeypatch.setitem(worker_logins.PLATFORM_ADAPTERS, "rithmic", "routing.brokers.nowhere.X")
    login = LoginConfig(5, "rithmic", Environment.DEMO, {"username": "u"}, ("R-1",))
    worker = EngineWorker(
        registry,
        logins_source=lambda: [login],
        logins_record=lambda *, states: recorded.append(list(states)),
    )
    await worker.refresh_logins()
    [[state]] = recorded
    assert (state.login_id, state.state) == (5, ConnectionState.FAILED)
    assert "this engine worker cannot connect to rithmic" in state.detail
    assert registry.login_adapter("rithmic") is None


@pytest.mark.parametrize("platform", sorted(worker_logins.PLATFORM_ADAPTERS))
async def test_every_platform_adapter_is_built_from_a_login_without_connecting_it(
    route: Route, platform: str
) -> None:
    # A disabled-in-effect login (no accounts, an address nothing listens on):
    # the adapter is built and started, its login reported, nothing copied.
    registry = AdapterRegistry(
        {"paper": await sync_to_async(lambda: PaperBroker(engine_contract_specs()))()}
    )
    credentials = {
        "projectx": {"username": "u", "api_key": "k"},
        "tradovate": {
            "username": "u",
            "password": "p",
            "app_id": "a",
            "app_version": "1.0",
            "cid": "1",
            "secret": "s",
        },
        "rithmic": {"username": "u", "password": "p", "system": "Test", "gateway": "x"},
        "ib": {"host": "127.0.0.1", "port": "9", "client_id": "7"},
    }[platform]
    endpoint = {"ib": "127.0.0.1:9", "rithmic": "wss://127.0.0.1:9"}.get(
        platform, "http://127.0.0.1:9"
    )
    login = LoginConfig(8, platform, Environment.DEMO, credentials, (), endpoint)
    recorded: list[list[LoginState]] = []
    worker = EngineWorker(
        registry,
        logins_source=lambda: [login],
        logins_record=lambda *, states: recorded.append(list(states)),
    )
    try:
        await worker.refresh_logins()
        adapter = registry.login_adapter(platform)
        assert adapter is not None
        assert adapter.platform == platform
        assert [s.login_id for s in adapter.login_states()] == [8]
    finally:
        await registry.disconnect_all()
    assert recorded == []  # nothing FAILED for want of an adapter


async def test_a_position_on_a_real_platform_is_marked_at_its_market_data_and_halted(
    route: Route,
) -> None:
    # Arrange: Funded 150K (ratio 3, on "projectx") holds 12 MNQ @ 21000;
    # give it a $1,000 daily loss limit.
    worker, projectx, _ = await _worker(route)
    from routing.services.copy_groups import risk_limit_set

    await sync_to_async(risk_limit_set)(
        account=route.large, daily_loss=Decimal(1000), max_contracts=None, actor_label="test"
    )
    buy = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal("21000"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="t")
    # Act: ProjectX's market data prints 20950 (no leader fill): 12 x 50 x $2
    # = $1,200 lost, past the limit.
    projectx.prices[SYMBOL] = (Decimal("20950"), T0 + timedelta(minutes=5))
    await worker.watch_risk(at=T0 + timedelta(minutes=5))
    # Assert: the contract was watched, the position marked, the account halted.
    assert [SYMBOL] in projectx.watched
    position = await sync_to_async(
        lambda: Position.objects.get(account=route.large, symbol=SYMBOL)
    )()
    assert (position.mark_price, position.unrealized_pnl) == (Decimal("20950"), Decimal(-1200))
    halted = await sync_to_async(
        lambda: AccountSession.objects.get(account=route.large).halt_reason
    )()
    assert "daily loss" in halted


async def test_one_platform_whose_market_data_fails_does_not_stop_layer_2(route: Route) -> None:
    # Arrange: Eval 25K (paper, daily loss $375) and Funded 150K (on the
    # fake ProjectX, whose market data watch raises) both long MNQ.
    worker, projectx, _ = await _worker(route)

    async def broken(symbols: object) -> None:
        raise RuntimeError("market hub refused")

    projectx.watch_prices = broken  # type: ignore[method-assign]
    buy = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal("21000"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="t")
    # Act: the paper venue prints 20900: Eval 25K's 2 lose $400 > $375.
    worker.registry.paper.mark(SYMBOL, Decimal("20900"), T0 + timedelta(minutes=1))
    await worker.watch_risk(at=T0 + timedelta(minutes=1))
    # Assert: the paper account was still marked and halted.
    halted = await sync_to_async(
        lambda: AccountSession.objects.get(account=route.small).halt_reason
    )()
    assert "daily loss" in halted


async def test_entries_wait_while_a_real_platforms_positions_have_no_price(route: Route) -> None:
    # Arrange: Funded 150K (on the fake ProjectX) holds 12 MNQ after the
    # leader's buy of 4; ProjectX's market data gives no price.
    worker, projectx, _ = await _worker(route)
    buy = LeaderFill("f1", "lead", SYMBOL, Side.BUY, 4, Decimal("21000"), T0)
    await worker.handle_leader_fill(route.leader.pk, buy, source="t")
    # Act: passes at T0 and 4 minutes later: still within the 5 minutes.
    await worker.watch_risk(at=T0)
    await worker.watch_risk(at=T0 + timedelta(minutes=4))
    assert worker.registry.entries_held("projectx", ACCOUNT) is None
    # Five minutes without a price: entries wait.
    await worker.watch_risk(at=T0 + timedelta(minutes=5))
    reason = worker.registry.entries_held("projectx", ACCOUNT)
    assert reason is not None
    assert reason.startswith("no projectx price for MNQH6 since 2026-03-03 15:30:00 UTC")
    add = LeaderFill("f2", "lead", SYMBOL, Side.BUY, 2, Decimal("21001"), T0)
    await worker.handle_leader_fill(route.leader.pk, add, source="t")
    # Assert: the add is blocked for Funded 150K (the paper follower copies);
    # the exit still goes.
    order = await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.large, leader_event__external_id="f2")
    )()
    assert order.status == "blocked"
    assert "entries blocked: no projectx price for MNQH6" in order.reason
    small = await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.small, leader_event__external_id="f2")
    )()
    assert small.status == "filled"
    flat = LeaderFill("f3", "lead", SYMBOL, Side.SELL, 6, Decimal("21002"), T0)
    await worker.handle_leader_fill(route.leader.pk, flat, source="t")
    exit_order = await sync_to_async(
        lambda: CopyOrder.objects.get(account=route.large, leader_event__external_id="f3")
    )()
    assert (exit_order.status, exit_order.qty) == ("filled", 12)
    # A price comes back: the hold is lifted on the next pass.
    projectx.prices[SYMBOL] = (Decimal("21002"), T0 + timedelta(minutes=6))
    await worker.watch_risk(at=T0 + timedelta(minutes=6))
    assert worker.registry.entries_held("projectx", ACCOUNT) is None
