"""The copy path end to end through the real engine worker, with Tradovate
accounts at the fake: a paper leader copied to Tradovate followers, and a
Tradovate leader (fills from the websocket) copied to paper followers; a
Tradovate follower's position marked at Tradovate's market data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.models import Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession, CopyOrder
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.tests.brokers.tradovate.conftest import PRICE, SYMBOL, AdapterFactory, Venue, until


@dataclass
class Group:
    leader: BrokerAccount
    followers: list[BrokerAccount]


def _group(leader_platform: str, leader_id: str | None, follower_platform: str,
           follower_ids: list[str | None]) -> Group:  # fmt: skip
    """A copy group of alice's: ratios 1, 2, 3... per follower."""
    contract_specs_sync()
    alice = User.objects.create_user("alice", password="alice-password-1")
    leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000),
                                   platform=leader_platform, external_id=leader_id)  # fmt: skip
    group = copy_group_create(owner=alice, name="Tradovate route", leader=leader)
    followers = []
    for n, external_id in enumerate(follower_ids, start=1):
        account = broker_account_create(
            owner=alice, name=f"Follower {n}", balance=Decimal(50_000),
            platform=follower_platform, external_id=external_id,
        )  # fmt: skip
        follower_add(group=group, account=account, ratio=Decimal(n))
        followers.append(account)
    return Group(leader, followers)


def _copy_orders() -> list[tuple[str, str, int, str]]:
    return list(
        CopyOrder.objects.order_by("pk").values_list(
            "account__external_id", "client_order_id", "qty", "status"
        )
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_paper_leader_fill_when_copied_then_one_tradovate_order_per_follower(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: followers at Tradovate are the fake's accounts DEMO1 and DEMO2.
    group = await sync_to_async(_group)("paper", None, "tradovate", ["DEMO1", "DEMO2"])
    adapter = make_adapter(venue.login(accounts=("DEMO1", "DEMO2")))
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "tradovate": adapter})
    await registry.connect_all()
    worker = EngineWorker(registry)
    fill = LeaderFill("lead-f1", group.leader.external_id, SYMBOL, Side.BUY, 2, PRICE,
                      datetime.now(UTC))  # fmt: skip
    # Act
    sent = await worker.handle_leader_fill(group.leader.pk, fill, source="test")
    # Assert: one order per follower at the fake, keyed by the copy order's id.
    orders = await sync_to_async(_copy_orders)()
    assert len(sent) == 2
    assert [(o[0], o[2], o[3]) for o in orders] == [("DEMO1", 2, "filled"), ("DEMO2", 4, "filled")]
    placed = venue.fake.placeorders()
    assert sorted((b["accountSpec"], b["clOrdId"], b["orderQty"]) for b in placed) == sorted(
        (o[0], o[1], o[2]) for o in orders
    )
    for _, client_order_id, _, _ in orders:
        assert len(venue.fake.exchange.orders_with_client_id(client_order_id)) == 1
    position = await sync_to_async(Position.objects.get)(account=group.followers[1], symbol=SYMBOL)
    assert (position.qty, position.avg_price) == (4, PRICE)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_tradovate_leader_fill_when_streamed_then_copied_to_paper_followers(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: the leader trades on DEMO3 at Tradovate; followers are paper.
    group = await sync_to_async(_group)("tradovate", "DEMO3", "paper", [None, None])
    adapter = make_adapter(venue.login(accounts=("DEMO3",)))
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "tradovate": adapter})
    await registry.connect_all()
    worker = EngineWorker(registry)
    events = adapter.leader_events("DEMO3")
    adapter.watch_leader("DEMO3")
    # Act: the trader buys 3 in the Tradovate platform; the fill comes by websocket
    # and is applied as the worker's leader stream consumer applies it.
    user_id = venue.fake.exchange.users["trader"].user_id
    answer = venue.fake.exchange.place(
        user_id,
        {"accountId": venue.accounts["DEMO3"], "accountSpec": "DEMO3", "action": "Buy",
         "symbol": SYMBOL, "orderQty": 3, "orderType": "Market"},
    )  # fmt: skip
    event = await anext(events)
    await worker.handle_leader_event(group.leader.pk, event, source="tradovate")
    # Assert: the event is the fake's fill; followers bought 3 and 6 at its price.
    [fake_fill] = venue.fake.exchange.fills
    assert isinstance(event, LeaderFill)
    assert (event.event_id, event.order_id) == (str(fake_fill["id"]), str(answer["orderId"]))
    assert (event.account, event.symbol, event.side, event.qty, event.price) == (
        "DEMO3", SYMBOL, Side.BUY, 3, PRICE
    )  # fmt: skip
    orders = await sync_to_async(_copy_orders)()
    assert [(o[2], o[3]) for o in orders] == [(3, "filled"), (6, "filled")]
    assert [paper.position(a.external_id, SYMBOL).qty for a in group.followers] == [3, 6]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_twenty_follower_fan_out_when_socket_drops_midway_then_no_duplicate_order(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: 20 Tradovate followers; 3 answers lost, the socket drops at the 10th order.
    names = [f"FAN{n}" for n in range(1, 21)]
    for name in names:
        venue.fake.exchange.add_account("trader", name)
    group = await sync_to_async(_group)("paper", None, "tradovate", names)
    adapter = make_adapter(venue.login(accounts=tuple(names)))
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "tradovate": adapter})
    await registry.connect_all()
    venue.fake.lose_answers = 3
    venue.fake.drop_after_orders = 10
    worker = EngineWorker(registry)
    fill = LeaderFill("lead-fan", group.leader.external_id, SYMBOL, Side.BUY, 1, PRICE,
                      datetime.now(UTC))  # fmt: skip
    # Act
    await worker.handle_leader_fill(group.leader.pk, fill, source="test")
    # Assert: the faults happened, and the fake holds exactly one order per copy order.
    assert (venue.fake.lose_answers, venue.fake.drop_after_orders) == (0, None)
    orders = await sync_to_async(_copy_orders)()
    assert len(orders) == 20
    assert [o[3] for o in orders] == ["filled"] * 20
    for external_id, client_order_id, qty, _ in orders:
        [order_id] = venue.fake.exchange.orders_with_client_id(client_order_id)
        assert (
            venue.fake.exchange.accounts[venue.fake.exchange.orders[order_id]["accountId"]]["name"]
            == external_id
        )
        assert venue.fake.exchange.filled_qty(order_id) == qty
    assert len(venue.fake.exchange.orders) == 20
    assert venue.fake.count("/command/list") >= 3  # the lost ones were looked up


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_tradovate_position_when_market_data_prints_a_loss_then_account_halted(
    venue: Venue, make_adapter: AdapterFactory
) -> None:
    # Arrange: Follower 1 (DEMO1 at Tradovate) holds 4 MNQ @ 21500.25 after a
    # paper leader's buy; its daily loss limit is $1,000.
    group = await sync_to_async(_group)("paper", None, "tradovate", ["DEMO1"])
    [follower] = group.followers
    await sync_to_async(risk_limit_set)(
        account=follower, daily_loss=Decimal(1000), max_contracts=None, actor_label="test"
    )
    adapter = make_adapter(venue.login(accounts=("DEMO1",)))
    paper = PaperBroker(await sync_to_async(engine_contract_specs)())
    registry = AdapterRegistry({"paper": paper, "tradovate": adapter})
    await registry.connect_all()
    worker = EngineWorker(registry)
    fill = LeaderFill("lead-md", group.leader.external_id, SYMBOL, Side.BUY, 4, PRICE,
                      datetime.now(UTC))  # fmt: skip
    await worker.handle_leader_fill(group.leader.pk, fill, source="test")
    await worker.watch_risk()  # the first pass watches MNQ at Tradovate: no price yet
    await until(lambda: venue.fake.md.subscribers(SYMBOL) == 1)
    assert await sync_to_async(
        lambda: AccountSession.objects.get(account=follower).halt_reason
    )() in ("", None)
    # Act: Tradovate prints 21350.25, with no leader fill: 4 x 150 x $2 = $1,200 lost.
    venue.fake.md.publish_trade(SYMBOL, Decimal("21350.25"))
    await until(lambda: adapter.last_price(SYMBOL) is not None)
    await worker.watch_risk()
    # Assert: the position marked at the trade, the account halted for its daily loss.
    position = await sync_to_async(Position.objects.get)(account=follower, symbol=SYMBOL)
    assert (position.qty, position.mark_price, position.unrealized_pnl) == (
        4, Decimal("21350.25"), Decimal(-1200)
    )  # fmt: skip
    halted = await sync_to_async(lambda: AccountSession.objects.get(account=follower).halt_reason)()
    assert "daily loss" in halted
