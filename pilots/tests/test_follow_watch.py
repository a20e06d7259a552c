"""The watch period through the real engine: the pilot's fills go through the
engine worker (``leader_event_ingest``, sizing, risk checks) into the
subscriber's paper watch account on the paper broker, and the subscriptions
page lists each pilot round trip with its paper copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from accounts.models import User
from conftest import Route
from pilots.models import Plan, Subscription
from pilots.subscriptions import pilot_publish, subscription_start, user_plan_set
from pilots.watch import WatchTrade, watch_account, watch_trades
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.copy_groups import risk_limit_set
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim, copy_order_record_result


def _last_monday_15_utc() -> datetime:
    """The latest Monday 15:00 UTC at least an hour ago (in the session, and
    less than 14 days ago, so the watch period is still running)."""
    now = datetime.now(UTC) - timedelta(hours=1)
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    return monday if monday <= now else monday - timedelta(days=7)


T0 = _last_monday_15_utc()


def _subscribed(route: Route, bob: User, max_contracts: int | None = 2) -> Subscription:
    pilot = pilot_publish(
        owner=route.owner,
        account=route.leader,
        display_name="Alice NQ",
        markets=["MNQ"],
        nominal_balance=Decimal(50_000),
        at=T0,
    )
    plan = Plan.objects.create(name="Monthly", term="monthly", max_pilots=1)
    user_plan_set(user=bob, plan=plan, at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    # Bob's caps on the watch account: at most 2 contracts per order.
    account = watch_account(subscription)
    assert account is not None
    if max_contracts is not None:
        risk_limit_set(
            account=account, daily_loss=None, max_contracts=max_contracts, actor_label="bob"
        )
    return subscription


def _fill(event_id: str, side: Side, qty: int, price: str, minutes: int) -> LeaderFill:
    return LeaderFill(
        event_id, "lead", "MNQH6", side, qty, Decimal(price), T0 + timedelta(minutes=minutes)
    )


def _page(user: User, url: str = "/subscriptions/") -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url, follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_watch_period_lists_each_pilot_trade_with_its_paper_copy(
    route: Route, bob: User
) -> None:
    # Arrange: Bob watches Alice's pilot; the engine worker on a paper broker
    # filling market orders 1 tick (0.25) against them fills the copies.
    subscription = await sync_to_async(_subscribed)(route, bob)
    registry = await sync_to_async(
        lambda: AdapterRegistry({"paper": PaperBroker(engine_contract_specs(), slippage_ticks=1)})
    )()
    await registry.connect_all()
    worker = EngineWorker(registry)
    fills = [
        # Trip 1: long 2, +10.00 points: the pilot 10 x 2 x $2 = $40.00; Bob's
        # paper copy bought at 21000.50, sold at 21010.00: 9.5 x 2 x $2 = $38.00.
        _fill("p1", Side.BUY, 2, "21000.25", 1),
        _fill("p2", Side.SELL, 2, "21010.25", 2),
        # Trip 2: short 3, +7.50 points: the pilot 7.5 x 3 x $2 = $45.00; Bob's
        # limit of 2 contracts per order blocks the entry (the engine's risk
        # check), so his exit is skipped too: $0.
        _fill("p3", Side.SELL, 3, "21020.00", 3),
        _fill("p4", Side.BUY, 3, "21012.50", 4),
        # Trip 3, still open: long 1.
        _fill("p5", Side.BUY, 1, "21015.00", 5),
    ]
    # Act
    for fill in fills:
        await worker.handle_leader_fill(route.leader.pk, fill, source="test")
    trades: list[WatchTrade] = await sync_to_async(watch_trades)(subscription)
    page = await sync_to_async(_page)(bob)
    # Assert: newest first.
    open_, short, long_ = trades
    assert (long_.side, long_.pilot.max_qty, long_.pilot.pnl) == ("buy", 2, Decimal("40.00"))
    assert (long_.copy.max_qty, long_.copy.entry, long_.copy.exit, long_.copy.pnl) == (
        2, Decimal("21000.50"), Decimal("21010.00"), Decimal("38.00")
    )
    assert long_.closed_at == T0 + timedelta(minutes=2) and long_.pilot_pnl == Decimal(40)
    assert (short.side, short.pilot.max_qty, short.pilot.pnl) == ("sell", 3, Decimal("45.00"))
    assert (short.copy.max_qty, short.copy.entry, short.copy.exit, short.copy.pnl) == (
        0, None, None, Decimal(0)
    )
    (note,) = short.notes
    assert note.startswith("sell 3 MNQH6: blocked")
    assert "max contracts per order 2" in note
    assert (open_.closed_at, open_.pilot.max_qty, open_.copy.max_qty) == (None, 1, 1)
    assert (open_.copy.entry, open_.copy.pnl) == (Decimal("21015.25"), Decimal(0))
    assert "$40.00" in page and "$38.00" in page and "$45.00" in page
    assert "max contracts per order 2" in page
    assert f"Watching until {T0 + timedelta(days=14):%Y-%m-%d %H:%M} UTC" in page
    assert 'data-testid="mirror-disabled"' in page
    # Privacy: the pilot's pages never show the subscriber or his watch route.
    for url in ("/", "/journal/", "/pilots/mine/", "/broker-accounts/"):
        alice_page = await sync_to_async(_page)(route.owner, url)
        assert "bob" not in alice_page and "Watch" not in alice_page, url
    mine = await sync_to_async(_page)(route.owner, "/pilots/mine/")
    assert "<strong>1</strong> follower" in mine


def _send_pending(paper: PaperBroker, order_ids: list[int]) -> None:
    """What the engine worker's ``send_order`` does for each pending order:
    claim it, place it on the paper broker, record the answer."""
    for order_id in order_ids:
        claimed = copy_order_claim(order_id=order_id)
        assert claimed is not None
        copy_order_record_result(
            order_id=order_id, result=async_to_sync(paper.place_order)(claimed.request)
        )


@pytest.mark.django_db
def test_a_reversal_closes_one_trade_and_opens_the_next_and_a_carried_trade_is_marked(
    route: Route, bob: User
) -> None:
    # Arrange: Alice is long 1 MNQ before Bob subscribes (at T0).
    leader_event_ingest(account=route.leader, fill=_fill("p0", Side.BUY, 1, "20990.00", -10),
                        source="test")
    subscription = _subscribed(route, bob, max_contracts=None)
    paper = PaperBroker(engine_contract_specs())
    async_to_sync(paper.connect)()
    fills = [
        # Alice closes the carried long; Bob's watch account is flat: skipped.
        _fill("p1", Side.SELL, 1, "20995.00", 1),
        # Long 2, then one sell of 3 reverses to short 1, bought back.
        _fill("p2", Side.BUY, 2, "21000.00", 2),
        _fill("p3", Side.SELL, 3, "21005.00", 3),
        _fill("p4", Side.BUY, 1, "21001.00", 4),
    ]
    # Act
    for fill in fills:
        result = leader_event_ingest(account=route.leader, fill=fill, source="test")
        _send_pending(paper, result.pending_order_ids)
    # Assert, oldest first. The carried long: Alice's exit only (no PnL: its
    # entry came before the watch), nothing copied.
    carried, long_, short = reversed(watch_trades(subscription))
    assert (carried.carried, carried.pilot_pnl) == (True, None)
    assert (carried.copy.max_qty, carried.copy.pnl) == (0, Decimal(0))
    # Long 2: 21000.00 -> 21005.00 = 5 x 2 x $2 = $20.00 for both (no slippage).
    assert (long_.side, long_.pilot.max_qty, long_.pilot.pnl) == ("buy", 2, Decimal("20.00"))
    assert (long_.copy.max_qty, long_.copy.entry, long_.copy.exit, long_.copy.pnl) == (
        2, Decimal("21000.00"), Decimal("21005.00"), Decimal("20.00")
    )
    # Short 1 opened by the reversal: 21005.00 -> 21001.00 = 4 x 1 x $2 = $8.00.
    assert (short.side, short.pilot.max_qty, short.pilot.pnl) == ("sell", 1, Decimal("8.00"))
    assert (short.copy.max_qty, short.copy.entry, short.copy.exit, short.copy.pnl) == (
        1, Decimal("21005.00"), Decimal("21001.00"), Decimal("8.00")
    )
    assert short.closed_at == T0 + timedelta(minutes=4) and not short.carried
