"""Issue 10, defect 2: one user's replay never moves another user's prices.

Two users on one engine (the production registry, venues per leader's
routes). Bob's follower "B Funded" (ratio 1, daily loss 1,000, flatten on
breach) holds +2 MNQH6 bought at 21,000 behind his leader. Alice uploads an
export with one MNQH6 buy at 1.00 and replays it into her group. Before the
fix the paper exchange kept one price per contract for everybody: Bob's
position was marked at 1.00 - (1.00 - 21,000) x 2 x $2 = -$41,998 - his
account halted and was flattened near 1.00, and his leader's next fill at
21,010 was refused by the price collar (more than 5 % from Alice's 1.00).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import EventType, ExportImport, JournalEntry, Position
from routing.engine.types import LeaderFill, Side
from routing.models import AccountSession, CopyOrder, ReplayJob, RiskLimit
from routing.runtime.adapters import build_registry
from routing.runtime.worker import EngineWorker
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from routing.services.replays import replay_job_create

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.asyncio,
]
SYMBOL = "MNQH6"


def _bob_route(bob: User) -> tuple[BrokerAccount, BrokerAccount]:
    leader = broker_account_create(owner=bob, name="B Lead", balance=Decimal(150_000))
    funded = broker_account_create(
        owner=bob, name="B Funded", balance=Decimal(50_000), kind="funded"
    )
    group = copy_group_create(owner=bob, name="Bob's route", leader=leader)
    follower_add(group=group, account=funded, ratio=Decimal(1))
    risk_limit_set(account=funded, daily_loss=Decimal(1000), max_contracts=None, actor_label="t")
    RiskLimit.objects.filter(account=funded).update(flatten_on_breach=True)
    return leader, funded


def _alice_replay(route: Route) -> int:
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name="absurd.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "x1", "symbol": SYMBOL, "side": "buy", "qty": "1", "price": "1.00"}],
        fill_count=1,
    )
    job = replay_job_create(
        group=route.group, export_import=record, interval_ms=0, actor_label="alice"
    )
    return job.pk


def _fill(event_id: str, account: BrokerAccount, side: Side, price: str) -> LeaderFill:
    return LeaderFill(
        event_id, account.external_id, SYMBOL, side, 2, Decimal(price), timezone.now()
    )


async def _until(check: Callable[[], bool], what: str, *, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {seconds} s: {what}")


async def test_one_users_absurd_replay_never_marks_halts_or_flattens_another(
    route: Route, bob: User, settings: Any
) -> None:
    # Arrange: Bob's follower holds +2 at 21,000 behind his leader (no
    # slippage, so copies fill at the leader's price).
    settings.PAPER_SLIPPAGE_TICKS = 0
    bob_leader, funded = await sync_to_async(_bob_route)(bob)
    registry = await sync_to_async(build_registry)()
    await registry.connect_all()
    worker = EngineWorker(registry, poll_seconds=0.05)
    await worker.handle_leader_fill(
        bob_leader.pk, _fill("b1", bob_leader, Side.BUY, "21000.00"), source="t"
    )

    def bob_position() -> tuple[int, Decimal | None]:
        row = Position.objects.get(account=funded, symbol=SYMBOL)
        return row.qty, row.mark_price

    assert await sync_to_async(bob_position)() == (2, Decimal("21000.00"))

    # Act: Alice replays her one fill at 1.00 through the running engine,
    # which also runs its layer-2 passes meanwhile.
    job_id = await sync_to_async(_alice_replay)(route)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:

        def replayed() -> bool:
            return ReplayJob.objects.get(pk=job_id).status == ReplayJob.Status.DONE

        await _until(replayed, "Alice's replay done")
        await worker.watch_risk()  # one more layer-2 pass after the replay, to be sure
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    # Assert: Bob's account is untouched: still +2, marked at 21,000, no
    # halt, no flatten, nothing journaled against it...
    assert await sync_to_async(bob_position)() == (2, Decimal("21000.00"))
    assert registry.paper.position(funded.external_id, SYMBOL).qty == 2

    def bob_trouble() -> list[str]:
        halted = AccountSession.objects.filter(account=funded).exclude(halt_reason="")
        entries = JournalEntry.objects.filter(
            account_id=funded.pk,
            event_type__in=[EventType.ACCOUNT_HALTED, EventType.ACCOUNT_FLATTENED],
        )
        return [s.halt_reason for s in halted] + [e.message for e in entries]

    assert await sync_to_async(bob_trouble)() == []
    # ...while Alice's own route traded at her price, on her route's venue
    # (ratio 3: +3 at 1.00), not collared against Bob's 21,000.
    alice = await sync_to_async(
        lambda: Position.objects.values_list("qty", "mark_price").get(
            account=route.large, symbol=SYMBOL
        )
    )()
    assert alice == (3, Decimal("1.00"))

    # Act: Bob's leader exits 2 at 21,010, within 5 % of his own last mark.
    await registry.connect_all()
    await EngineWorker(registry).handle_leader_fill(
        bob_leader.pk, _fill("b2", bob_leader, Side.SELL, "21010.00"), source="t"
    )
    await registry.disconnect_all()

    # Assert: copied (not collared against Alice's 1.00): Bob's follower is
    # flat with +10 points x 2 x $2 = $40.00 realized.
    def bob_exit() -> tuple[list[tuple[str, int]], int, Decimal]:
        orders = list(
            CopyOrder.objects.filter(account=funded, leader_event__external_id="b2").values_list(
                "status", "filled_qty"
            )
        )
        row = Position.objects.get(account=funded, symbol=SYMBOL)
        return orders, row.qty, row.realized_pnl

    assert await sync_to_async(bob_exit)() == ([("filled", 2)], 0, Decimal("40.00"))
