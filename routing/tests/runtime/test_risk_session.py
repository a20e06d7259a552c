"""A full session of the risk engine, end to end on the paper broker.

A follower with several open mirrored positions loses its daily limit on
unrealized PnL; later leader entries are blocked for it only; its open
positions stay open and its exits are still copied; the next session's reset
lets mirroring resume (issue "The risk engine", Done when).

Clock: Tuesday 2026-11-17 (CST, UTC-6). The session for trading date 11-17
opened Monday 17:00 CST; the next opens Tuesday 17:00 CST = 23:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async as sync_to_async

from conftest import Route
from journal.models import JournalEntry, Position
from routing.brokers.paper import PaperBroker
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession, CopyOrder, RiskLimit
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.risk_loop import watch_risk
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.account_sessions import account_sessions_roll

T_MNQ = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # 09:00 CST
T_MES = datetime(2026, 11, 17, 15, 1, tzinfo=UTC)
T_DROP = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)
T_ADD = datetime(2026, 11, 17, 15, 45, tzinfo=UTC)
T_EXIT = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
T_NEXT = datetime(2026, 11, 17, 23, 0, 30, tzinfo=UTC)  # 17:00:30 CST: next session
T_AGAIN = datetime(2026, 11, 17, 23, 5, tzinfo=UTC)


def _fill(event_id: str, symbol: str, side: Side, qty: int, price: str, at: datetime) -> LeaderFill:
    return LeaderFill(event_id, "lead", symbol, side, qty, Decimal(price), at)


def _orders(account_id: int, event_id: str) -> list[tuple[str, int, str]]:
    return list(
        CopyOrder.objects.filter(account_id=account_id, leader_event__external_id=event_id)
        .order_by("pk")
        .values_list("status", "qty", "reason")
    )


def _positions(account_id: int) -> dict[str, int]:
    return dict(
        Position.objects.filter(account_id=account_id).exclude(qty=0).values_list("symbol", "qty")
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_daily_loss_on_unrealized_halts_one_follower_until_next_session(
    route: Route,
) -> None:
    # Arrange: Eval 25K (ratio 0.5, daily loss 375) and Funded 150K (ratio 3,
    # no limits) follow the leader; no slippage, so copies fill at the leader's price.
    registry = await sync_to_async(
        lambda: AdapterRegistry({"paper": PaperBroker(engine_contract_specs())})
    )()
    await registry.connect_all()
    worker = EngineWorker(registry)
    small, large = route.small.pk, route.large.pk
    lead = route.leader.pk

    # Two mirrored positions: leader +4 MNQ -> small +2, large +12;
    # leader +2 MES -> small +1, large +6.
    await worker.handle_leader_fill(
        lead, _fill("e1", "MNQZ6", Side.BUY, 4, "21000.00", T_MNQ), source="test"
    )
    await worker.handle_leader_fill(
        lead, _fill("e2", "MESZ6", Side.BUY, 2, "6000.00", T_MES), source="test"
    )
    assert await sync_to_async(_positions)(small) == {"MNQZ6": 2, "MESZ6": 1}

    # Act 1: the market drops. Small's unrealized: MNQ (20900 - 21000) x 2 x $2
    # = -400.00; MES (5990 - 6000) x 1 x $5 = -50.00; -450.00 >= 375.00.
    registry.paper.mark("MNQZ6", Decimal("20900.00"), T_DROP)
    registry.paper.mark("MESZ6", Decimal("5990.00"), T_DROP)
    due = await watch_risk(registry, at=T_DROP)

    # Assert 1: small halted (journaled with the numbers), nothing to flatten
    # (flatten on breach is off), large untouched.
    assert due == {}
    halted = await sync_to_async(
        lambda: list(
            JournalEntry.objects.filter(event_type="account.halted").values_list(
                "account_id", "message"
            )
        )
    )()
    assert len(halted) == 1
    assert halted[0][0] == small
    assert "daily loss 450.00 \u2265 limit 375.00" in halted[0][1]

    # Act 2: the leader adds 2 MNQ (+4 -> +6): small's target 3 would be an
    # entry of 1; large's target 18 an entry of 6.
    await worker.handle_leader_fill(
        lead, _fill("e3", "MNQZ6", Side.BUY, 2, "20900.00", T_ADD), source="test"
    )
    # Assert 2: blocked for small only, with the halt's reason; large filled 6.
    [(status, qty, reason)] = await sync_to_async(_orders)(small, "e3")
    assert (status, qty) == ("blocked", 0)
    assert "halted this session: daily loss 450.00 \u2265 limit 375.00" in reason
    assert [(s, q) for s, q, _ in await sync_to_async(_orders)(large, "e3")] == [("filled", 6)]
    # Positions already open stay open.
    assert await sync_to_async(_positions)(small) == {"MNQZ6": 2, "MESZ6": 1}

    # Act 3: the leader exits MES: exits still pass for the halted account.
    await worker.handle_leader_fill(
        lead, _fill("e4", "MESZ6", Side.SELL, 2, "5990.00", T_EXIT), source="test"
    )
    assert [(s, q) for s, q, _ in await sync_to_async(_orders)(small, "e4")] == [("filled", 1)]
    assert await sync_to_async(_positions)(small) == {"MNQZ6": 2}

    # Act 4: 17:00 CST, the next session: the beat's roll resets every follower.
    rolled = await sync_to_async(account_sessions_roll)(at=T_NEXT)
    assert rolled == 2
    row = await sync_to_async(AccountSession.objects.get)(
        account_id=small, trading_date=date(2026, 11, 18)
    )
    # Opening balance 25,000.00 + realized -50.00 (MES 1 x -10 x $5) = 24,950.00;
    # the open MNQ carries its -400.00 in, so today's PnL starts at 0.
    assert (row.opening_balance, row.opening_unrealized, row.halted_at) == (
        Decimal("24950.00"),
        Decimal("-400.00"),
        None,
    )

    # Act 5: the leader adds 2 MNQ (+6 -> +8): small's target 4, holds 2.
    await worker.handle_leader_fill(
        lead, _fill("e5", "MNQZ6", Side.BUY, 2, "20900.00", T_AGAIN), source="test"
    )
    # Assert 5: mirroring resumed for small.
    assert [(s, q) for s, q, _ in await sync_to_async(_orders)(small, "e5")] == [("filled", 2)]
    assert await sync_to_async(_positions)(small) == {"MNQZ6": 4}
    resets = await sync_to_async(
        lambda: JournalEntry.objects.filter(
            event_type="session.reset", account_id=small, message__contains="session 2026-11-18"
        ).count()
    )()
    assert resets == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_flatten_on_breach_closes_only_the_breached_account(route: Route) -> None:
    # Arrange: as above, but Eval 25K closes everything when its daily loss trips.
    registry = await sync_to_async(
        lambda: AdapterRegistry({"paper": PaperBroker(engine_contract_specs())})
    )()
    await registry.connect_all()
    worker = EngineWorker(registry)
    small, large, lead = route.small.pk, route.large.pk, route.leader.pk
    await sync_to_async(
        lambda: RiskLimit.objects.filter(account_id=small).update(flatten_on_breach=True)
    )()
    await worker.handle_leader_fill(
        lead, _fill("e1", "MNQZ6", Side.BUY, 4, "21000.00", T_MNQ), source="test"
    )
    await worker.handle_leader_fill(
        lead, _fill("e2", "MESZ6", Side.BUY, 2, "6000.00", T_MES), source="test"
    )
    # Act: the same drop (-450.00 on Eval 25K), one layer-2 pass of the worker.
    registry.paper.mark("MNQZ6", Decimal("20900.00"), T_DROP)
    registry.paper.mark("MESZ6", Decimal("5990.00"), T_DROP)
    await worker.watch_risk(at=T_DROP)
    # Assert: Eval 25K closed at the marks, realizing the 450.00; Funded untouched.
    assert await sync_to_async(_positions)(small) == {}
    assert await sync_to_async(_positions)(large) == {"MNQZ6": 12, "MESZ6": 6}
    realized = await sync_to_async(
        lambda: sum(p.realized_pnl for p in Position.objects.filter(account_id=small))
    )()
    assert realized == Decimal("-450.00")
    row = await sync_to_async(AccountSession.objects.get)(
        account_id=small, trading_date=date(2026, 11, 17)
    )
    assert row.flatten_due and row.flattened_at is not None
    flattened = await sync_to_async(
        lambda: list(
            JournalEntry.objects.filter(event_type="account.flattened").values_list(
                "account_id", "message"
            )
        )
    )()
    assert [a for a, _ in flattened] == [small]
    assert "daily loss 450.00 \u2265 limit 375.00" in flattened[0][1]
    # A second pass sends nothing more (already flattened).
    await worker.watch_risk(at=T_DROP)
    assert (
        await sync_to_async(
            lambda: JournalEntry.objects.filter(event_type="account.flattened").count()
        )()
        == 1
    )
    # Later leader entries: blocked for Eval 25K only.
    await worker.handle_leader_fill(
        lead, _fill("e3", "MNQZ6", Side.BUY, 2, "20900.00", T_ADD), source="test"
    )
    assert [(s, q) for s, q, _ in await sync_to_async(_orders)(small, "e3")] == [("blocked", 0)]
    assert [(s, q) for s, q, _ in await sync_to_async(_orders)(large, "e3")] == [("filled", 6)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
async def test_layer2_pass_opening_a_session_counts_its_own_marks_as_today(route: Route) -> None:
    # Arrange: small (ratio 0.5, daily loss 375) holds +2 MNQ bought at
    # 21000.00 on 11-17, marked there. The 17:00 roll never ran.
    registry = await sync_to_async(
        lambda: AdapterRegistry({"paper": PaperBroker(engine_contract_specs())})
    )()
    await registry.connect_all()
    worker = EngineWorker(registry)
    small = route.small.pk
    await worker.handle_leader_fill(
        route.leader.pk, _fill("e1", "MNQZ6", Side.BUY, 4, "21000.00", T_MNQ), source="test"
    )
    # Act: in the next session the market drops 100 points, and the first
    # layer-2 pass of the session sees it: (20900 - 21000) x 2 x $2 = -400.00.
    registry.paper.mark("MNQZ6", Decimal("20900.00"), T_NEXT)
    await watch_risk(registry, at=T_NEXT)
    # Assert: the session opened with nothing carried in (the mark stood at
    # 21000.00 at the open), so the drop is today's loss and halts small.
    row = await sync_to_async(AccountSession.objects.get)(
        account_id=small, trading_date=date(2026, 11, 18)
    )
    assert row.opening_unrealized == Decimal("0.00")
    assert row.halt_reason == "daily loss 400.00 \u2265 limit 375.00"
