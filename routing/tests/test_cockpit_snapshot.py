"""The group snapshot the page draws live (routing.cockpit): positions at
tick precision with hand-computed PnL, the header, each follower's badges
and eligibility, closes and copied trades.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5 (daily loss
$375), Funded 150K at 3. MNQ: tick 0.25 points, $2 per point.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client
from django.utils import timezone

from accounts.models import BrokerAccount, BrokerLogin
from conftest import Route
from journal.models import ExportImport, Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import Quarantine, ReplayJob
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.account_halts import account_halt
from routing.services.account_sessions import account_session_current
from routing.services.group_rules import follower_pause
from routing.services.position_actions import position_close_request
from routing.services.route_levels import route_lock

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
SYMBOL = "MNQH6"


def _snapshot(route: Route) -> dict[str, Any]:
    client = Client()
    client.force_login(route.owner)
    response = client.get(f"/api/groups/{route.group.pk}/snapshot/")
    assert response.status_code == 200
    return response.json()


def _by_account(snap: dict[str, Any], key: str) -> dict[int, Any]:
    return {row["account_id"]: row for row in snap[key]}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_positions_pnl_and_copied_trades_by_hand(route: Route) -> None:
    # Arrange: the leader buys 3 @ 21000.25 and 1 @ 21001; the market then
    # trades at 21010.50 and layer 2 marks the followers there.
    registry = AdapterRegistry({"paper": PaperBroker(await sync_to_async(engine_contract_specs)())})
    await registry.connect_all()
    worker = EngineWorker(registry)

    async def leader(event_id: str, side: Side, qty: int, price: str) -> None:
        fill = LeaderFill(event_id, "lead", SYMBOL, side, qty, Decimal(price), T0)
        await worker.handle_leader_fill(route.leader.pk, fill, "t")

    await leader("f1", Side.BUY, 3, "21000.25")
    await leader("f2", Side.BUY, 1, "21001")
    registry.paper.mark(SYMBOL, Decimal("21010.50"), T0)
    await worker.watch_risk(at=T0)
    # Act
    snap = await sync_to_async(_snapshot)(route)
    # Assert
    # Leader: 4 @ (3 x 21000.25 + 21001) / 4 = 21000.4375, an average between
    # MNQ's 0.25 ticks shown whole (up to two places past the tick's); marked
    # at 21010.50: 4 x 10.0625 x $2 = +$80.50.
    assert snap["leader"]["positions"] == [
        {
            "symbol": SYMBOL,
            "qty": 4,
            "avg_price": "21000.4375",
            "mark": "21010.50",
            "pnl": "80.50",
            "tracked": 0,
            "untracked": 0,
            "closing": False,
        }
    ]
    followers = _by_account(snap, "followers")
    # Eval 25K (0.5): 1 @ 21000.25 (1.5 rounds down), then 1 @ 21001 to 2:
    # avg 21000.625, shown whole; 2 x (21010.50 - 21000.625) x $2 = +$39.50.
    [small] = followers[route.small.pk]["positions"]
    assert (small["qty"], small["avg_price"], small["mark"], small["pnl"]) == (
        2,
        "21000.625",
        "21010.50",
        "39.50",
    )
    assert (small["tracked"], small["untracked"]) == (2, 0)
    # Funded 150K (3): 9 @ 21000.25 + 3 @ 21001 = 12 @ 21000.4375;
    # 12 x (21010.50 - 21000.4375) x $2 = +$241.50.
    [large] = followers[route.large.pk]["positions"]
    assert (large["qty"], large["avg_price"], large["mark"], large["pnl"]) == (
        12,
        "21000.4375",
        "21010.50",
        "241.50",
    )
    assert followers[route.large.pk]["unrealized_pnl"] == "241.50"
    assert snap["trades"] == []
    assert snap["tick_sizes"]["MNQ"] == "0.25" and snap["tick_sizes"]["YM"] == "1"

    # Act: the leader exits at 21005: both followers' round trips close.
    await leader("f3", Side.SELL, 4, "21005")
    snap = await sync_to_async(_snapshot)(route)
    # Assert: Funded 150K (9 x 21000.25 + 3 x 21001 in, 12 x 21005 out):
    # (252060 - 252005.25) x $2 = +$109.50; Eval 25K: (42010 - 42001.25) x $2 = +$17.50.
    trades = {(t["follower"], t["side"], t["qty"], t["pnl"]) for t in snap["trades"]}
    assert trades == {("Funded 150K", "long", 12, "109.50"), ("Eval 25K", "long", 2, "17.50")}
    assert all(p["positions"] == [] for p in snap["followers"])
    assert snap["leader"]["positions"] == []


@pytest.mark.django_db
def test_prices_are_written_to_each_contracts_tick(route: Route) -> None:
    for symbol, qty, avg, mark, pnl in (
        ("YMH6", 1, "42150.000000", "42163.000000", "65.00"),  # tick 1
        ("RTYH6", -2, "2050.100000", "2049.900000", "20.00"),  # tick 0.10
        ("NGH6", 1, "3.125000", "3.131000", "60.00"),  # tick 0.001
    ):
        Position.objects.create(
            account=route.large,
            symbol=symbol,
            qty=qty,
            avg_price=Decimal(avg),
            mark_price=Decimal(mark),
            unrealized_pnl=Decimal(pnl),
        )
    snap = _snapshot(route)
    rows = {
        p["symbol"]: (p["avg_price"], p["mark"], p["pnl"])
        for p in _by_account(snap, "followers")[route.large.pk]["positions"]
    }
    assert rows == {
        "NGH6": ("3.125", "3.131", "60.00"),
        "RTYH6": ("2050.1", "2049.9", "20.00"),
        "YMH6": ("42150", "42163", "65.00"),
    }
    assert "E+" not in str(snap)


@pytest.mark.django_db
def test_header_and_badges_follow_level_halt_quarantine_pause_and_logins(route: Route) -> None:
    # Arrange
    route_lock(
        group=route.group, reason="incident: rejected_order: Eval 25K refused", actor_label="engine"
    )
    now = timezone.now()
    row = account_session_current(account=route.small, at=now)
    account_halt(
        row=row, reason="daily loss 400.00 ≥ limit 375.00", at=now, group_id=route.group.pk
    )
    Quarantine.objects.create(
        follower=route.small_follower,
        symbol=SYMBOL,
        reason="rejected: MARGIN",
        trading_date=now.date(),
    )
    follower_pause(follower=route.large_follower, actor=route.owner)
    login = BrokerLogin.objects.create(
        owner=route.owner,
        platform=BrokerAccount.Platform.TRADOVATE,
        label="Tradovate demo",
        environment="demo",
        identity="alice",
        secret="not read here",
        connection_state=BrokerLogin.ConnectionState.DOWN,
        connection_detail="socket closed",
    )
    BrokerAccount.objects.filter(pk=route.large.pk).update(login=login, enabled=False)
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name="grid.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "e1"}, {"event_id": "e2"}],
        fill_count=2,
    )
    ReplayJob.objects.create(
        owner=route.owner,
        group=route.group,
        export_import=record,
        label="grid.csv",
        status=ReplayJob.Status.RUNNING,
        next_index=1,
    )
    # Act
    snap = _snapshot(route)
    # Assert
    header = snap["header"]
    assert (header["level"], header["level_label"], header["level_reason"]) == (
        4,
        "4 Locked",
        "incident: rejected_order: Eval 25K refused",
    )
    assert header["enabled"] is True
    assert any("4 Locked" in r for r in header["refusals"])
    assert header["replay"] == {
        "id": header["replay"]["id"],
        "label": "grid.csv",
        "simulated": False,
        "status": "running",
        "status_label": "Running",
        "fills": 2,
        "next": 1,
        "cycle": 0,
        "error": "",
    }
    states = _by_account(snap, "states")
    small = {(b["code"], b["text"], b["title"]) for b in states[route.small.pk]["badges"]}
    assert small == {
        ("locked", "Locked", "route level 4: incident: rejected_order: Eval 25K refused"),
        ("halted", "Halted", "daily loss 400.00 ≥ limit 375.00"),
        ("quarantined", f"Quarantined {SYMBOL}", "rejected: MARGIN"),
    }
    assert states[route.small.pk]["eligibility"] == {
        "eligible": False,
        "text": "Halted",
        "title": "daily loss 400.00 ≥ limit 375.00",
    }
    large = [b["code"] for b in states[route.large.pk]["badges"]]
    assert large == ["locked", "paused", "disabled", "unreachable"]
    [unreachable] = [b for b in states[route.large.pk]["badges"] if b["code"] == "unreachable"]
    assert unreachable["title"] == "login Tradovate demo down: socket closed"
    assert states[route.large.pk]["enabled"] is False
    assert states[route.large.pk]["eligibility"]["text"] == "Not eligible"


@pytest.mark.django_db
def test_a_pending_close_shows_on_the_position_and_in_the_closes(route: Route) -> None:
    Position.objects.create(account=route.large, symbol=SYMBOL, qty=-3, avg_price=Decimal(21000))
    position_close_request(
        user=route.owner, group=route.group, account_id=route.large.pk, symbol=SYMBOL, seen_qty=-3
    )
    snap = _snapshot(route)
    [position] = _by_account(snap, "followers")[route.large.pk]["positions"]
    assert position["closing"] is True
    [close] = snap["closes"]
    assert (close["follower"], close["symbol"], close["status"], close["requested_by"]) == (
        "Funded 150K",
        SYMBOL,
        "pending",
        "alice",
    )


@pytest.mark.django_db
def test_a_pilot_routes_leader_positions_are_not_shown(route: Route) -> None:
    Position.objects.create(account=route.leader, symbol=SYMBOL, qty=2, avg_price=Decimal(21000))
    type(route.group).objects.filter(pk=route.group.pk).update(pilot_route=True)
    snap = _snapshot(route)
    assert snap["leader"] == {
        "account_id": route.leader.pk,
        "name": "a published pilot",
        "positions": [],
    }
