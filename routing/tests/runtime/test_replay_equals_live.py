"""One real export through the ``replay`` machinery and through the live
worker: the same decisions, halts, locks and flattens (issue 9, item 4).

Both sides run the engine's layer-2 transitions (:mod:`routing.engine.watch`);
this test is what keeps them one implementation. The export is the
NinjaTrader grid with Sim101 as the leader (SOURCES.md §6; MNQH5, one CME
session, 2025-01-28, times read as UTC; the fill table is in
``routing/tests/commands/test_replay_limits.py``).

* Replay: :func:`routing.runtime.simulate.simulate` on a parsed route file,
  in memory.
* Live: the same route built in the database from the same
  :class:`~routing.route_file.RouteSpec`, and per leader fill what the
  running worker does: the beat's session roll (17:00 CT), the paper broker
  marked at the fill's price, one layer-2 pass (``EngineWorker.watch_risk``:
  marks, halts, route locks, flatten on breach), then the fill itself
  (``EngineWorker.handle_leader_fill``: decide, send, record, incidents).

Compared per follower and leader fill: status, qty, side, symbol and the
engine's reason; every halt (account, time, code, text), every route lock
(time, code, text), every flatten close, and the final position and realized
PnL. Two differences are by construction, and normalised explicitly:

* client order ids: live keys a follower by its account id and the route by
  the group id, the replay by their names, so an id inside a reason is
  mapped to the replay's id of the same (leader event, follower);
* a rejected order's row: live appends the broker's answer to the order's
  reason (``"; broker: …"``); the replay keeps the engine's reason and names
  the broker's answer in the lock's incident text, as live does too;
* an incident's lock time: live stamps it when the broker's answer is
  recorded (the wall clock: ``incident_record`` is called without ``at``),
  the replay at the leader fill that caused it. Incident locks are compared
  on code and text, and their live time must be the test's own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.importers.detect import read_export
from journal.models import EventType, Fill, JournalEntry, Position
from routing.brokers.paper import PaperBroker
from routing.engine.limits import RiskLimits
from routing.engine.types import LeaderFill
from routing.models import CopyGroup, CopyOrder
from routing.route_file import RouteSpec, parse_route
from routing.runtime.adapters import AdapterRegistry
from routing.runtime.simulate import DecisionRecord, RiskEvent, simulate
from routing.runtime.worker import EngineWorker
from routing.selectors import engine_contract_specs
from routing.services.account_sessions import account_sessions_roll
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.risk_limits import risk_limit_update

NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
CENT = Decimal("0.01")
# Lock codes of incidents, which live stamps with the wall clock (module docstring).
INCIDENTS = frozenset({"slippage", "rejected_order"})


@dataclass(frozen=True)
class Scenario:
    route: str
    slippage_ticks: int = 0
    reject: tuple[str, ...] = ()  # followers whose MNQ orders the broker refuses
    halts: tuple[str, ...] = ()  # codes that must occur (the test must be able to fail)
    locks: tuple[str, ...] = ()
    flattens: bool = False


ROUTE = """
[group]
name = "Same"
[leader]
name = "Lead"
balance = 150000
{rest}
"""

SCENARIOS = {
    # Loser's session loss reaches 150 at fill 6 (-157.50): halted, its adds
    # blocked; Steady goes on until the two together lose 450 (fill 12).
    "daily_loss_halt_then_route_session_loss_lock": Scenario(
        route=ROUTE.format(
            rest="""
[route]
max_session_loss = 450
[[followers]]
name = "Loser"
balance = 50000
ratio = 1
[followers.limits]
daily_loss = 150
[[followers]]
name = "Steady"
balance = 50000
ratio = 1
"""
        ),
        halts=("daily_loss",),
        locks=("route_session_loss",),
    ),
    # Two ticks of slippage against a max of 1: the first copy locks the
    # route (incident); Flat's loss at fill 3 (9 x -4.25 x $2 = -76.50 >= 60)
    # halts it and closes its 9 lots at the mark.
    "slippage_lock_then_halt_with_flatten": Scenario(
        route=ROUTE.format(
            rest="""
[route]
max_slippage_ticks = 1
[[followers]]
name = "Flat"
balance = 50000
ratio = 1
[followers.limits]
daily_loss = 60
flatten_on_breach = true
"""
        ),
        slippage_ticks=2,
        halts=("daily_loss",),
        locks=("slippage",),
        flattens=True,
    ),
    # The broker refuses Refused's MNQ orders: the first one locks the route
    # (incident) and quarantines MNQ for it. Other holds 9 from fill 1; its
    # trailing floor follows the fill-2 equity 50,004.50 to 49,944.50, and
    # fill 3 marks it at 50,000 - 3.75 x 9 x $2 = 49,932.50: halted.
    "rejected_order_lock_then_drawdown_halt": Scenario(
        route=ROUTE.format(
            rest="""
[[followers]]
name = "Refused"
balance = 50000
ratio = 1
[[followers]]
name = "Other"
balance = 50000
ratio = 1
[followers.limits]
max_drawdown = 60
drawdown_mode = "trailing_intraday"
"""
        ),
        reject=("Refused",),
        halts=("drawdown",),
        locks=("rejected_order",),
    ),
}


def _fills(shared_data: Path) -> list[LeaderFill]:
    export = read_export(shared_data / NINJATRADER, leader_account="Sim101")
    return list(export.fills)


# -- replay ------------------------------------------------------------------------


def _replay(spec: RouteSpec, fills: list[LeaderFill], scenario: Scenario) -> dict[str, Any]:
    specs = engine_contract_specs()
    broker = PaperBroker(specs, slippage_ticks=scenario.slippage_ticks)
    for name in scenario.reject:
        broker.reject_orders(name, "MNQ", reason="no MNQ for this account")
    result = simulate(spec, fills, specs, broker=broker)
    decisions = [r for r in result.records if isinstance(r, DecisionRecord)]
    events = [r for r in result.records if isinstance(r, RiskEvent)]
    return {
        "decisions": [
            (d.leader_event, d.follower, d.status, d.qty, d.side, d.symbol, d.reason)
            for d in decisions
        ],
        "coids": {(d.leader_event, d.follower): d.client_order_id for d in decisions},
        "halts": [
            (e.follower, e.time, e.details["code"], e.reason) for e in events if e.kind == "halt"
        ],
        "locks": [(e.time, e.details["code"], e.reason) for e in events if e.kind == "lock"],
        "flattens": [
            (
                e.follower,
                e.details["symbol"],
                e.details["side"],
                e.details["qty"],
                Decimal(e.details["fill_price"]),
            )
            for e in events
            if e.kind == "flatten"
        ],
        "books": {
            f["follower"]: (f["final_position"], Decimal(f["realized_pnl"]))
            for f in result.summary["followers"]
        },
    }


# -- live --------------------------------------------------------------------------


def _live_route(spec: RouteSpec) -> tuple[int, dict[str, BrokerAccount]]:
    """The route file's group in the database: (leader id, followers by name)."""
    contract_specs_sync()
    owner = User.objects.create_user("trader", password="trader-password-1")
    leader = broker_account_create(owner=owner, name=spec.leader.name, balance=spec.leader.balance)
    group = copy_group_create(owner=owner, name=spec.name, leader=leader)
    limits = spec.group.limits
    CopyGroup.objects.filter(pk=group.pk).update(
        level=limits.level.value,
        max_session_loss=limits.max_session_loss,
        max_slippage_ticks=limits.max_slippage_ticks,
    )
    accounts = {}
    defaults = RiskLimits()
    for f in spec.followers:
        account = broker_account_create(
            owner=owner, name=f.account.name, balance=f.account.balance, kind=f.account.kind
        )
        follower_add(group=group, account=account, ratio=f.ratio)
        changed = {
            name: getattr(f.limits, name)
            for name in ("daily_loss", "flatten_on_breach", "max_drawdown", "drawdown_mode")
            if getattr(f.limits, name) != getattr(defaults, name)
        }
        if changed:
            risk_limit_update(account=account, actor=owner, **changed)
        accounts[f.account.name] = account
    return leader.pk, accounts


def _live_results(accounts: dict[str, BrokerAccount]) -> dict[str, Any]:
    names = {a.pk: name for name, a in accounts.items()}
    orders = (
        CopyOrder.objects.filter(account_id__in=names)
        .select_related("leader_event")
        .order_by("leader_event__occurred_at", "leader_event_id", "pk")
    )
    decisions, coids = [], {}
    for o in orders:
        reason = o.reason
        if o.status == CopyOrder.Status.REJECTED and "RISK_REJECT" in reason:
            # Live appends the broker's answer to the row (module docstring).
            reason = reason.split("; broker: ")[0] if "; broker: " in reason else ""
        key = (o.leader_event.external_id, names[o.account_id])
        decisions.append((*key, o.status, o.qty, o.side, o.symbol, reason))
        coids[o.client_order_id] = key
    journal = JournalEntry.objects.filter(
        event_type__in=[EventType.ACCOUNT_HALTED, EventType.ROUTE_LEVEL_CHANGED]
    ).order_by("occurred_at", "pk")
    halts, locks = [], []
    for j in journal:
        if j.event_type == EventType.ACCOUNT_HALTED:
            halts.append(
                (names[j.account_id], j.occurred_at, j.extra_data["code"], j.extra_data["reason"])
            )
        elif j.after and j.after["level"] == 4:
            locks.append((j.occurred_at, j.after["code"], j.after["reason"]))
    flattens = [
        (names[f.account_id], f.symbol, f.side, f.qty, f.price)
        for f in Fill.objects.filter(account_id__in=names, copy_order__isnull=True).order_by("pk")
    ]
    books = {}
    for name, account in accounts.items():
        positions = Position.objects.filter(account=account)
        books[name] = (
            {p.symbol: p.qty for p in positions.order_by("symbol") if p.qty},
            sum((p.realized_pnl for p in positions), Decimal(0)).quantize(CENT),
        )
    return {
        "decisions": decisions,
        "coids": coids,
        "halts": halts,
        "locks": locks,
        "flattens": flattens,
        "books": books,
    }


async def _live(spec: RouteSpec, fills: list[LeaderFill], scenario: Scenario) -> dict[str, Any]:
    lead, accounts = await sync_to_async(_live_route)(spec)
    broker = await sync_to_async(
        lambda: PaperBroker(engine_contract_specs(), slippage_ticks=scenario.slippage_ticks)
    )()
    for name in scenario.reject:
        broker.reject_orders(accounts[name].external_id, "MNQ", reason="no MNQ for this account")
    registry = AdapterRegistry({"paper": broker})
    await registry.connect_all()
    worker = EngineWorker(registry)
    for fill in fills:
        at: datetime = fill.time
        await sync_to_async(account_sessions_roll)(at=at)  # the beat, at 17:00 CT
        broker.mark(fill.symbol, fill.price, at)
        await worker.watch_risk(at=at)  # the worker's layer-2 pass
        await worker.handle_leader_fill(lead, fill, source="test")
    await registry.disconnect_all()
    return await sync_to_async(_live_results)(accounts)


def _with_replay_ids(text: str, live_coids: dict[str, tuple[str, str]], coids: dict) -> str:
    for live_id, key in live_coids.items():
        text = text.replace(live_id, coids[key])
    return text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_replay_and_live_worker_decide_halt_and_lock_alike(
    shared_data: Path, name: str
) -> None:
    # Arrange: one route, one export.
    scenario = SCENARIOS[name]
    spec = parse_route(scenario.route, name=name)
    fills = _fills(shared_data)

    # Act: the replay (in memory), then the live worker on the database.
    started = datetime.now(UTC)
    replay = await sync_to_async(_replay)(spec, fills, scenario)
    live = await _live(spec, fills, scenario)

    # Assert: the scenario really halts and locks (else equality proves little).
    assert [code for *_, code, _ in replay["halts"]] == list(scenario.halts)
    assert [code for _, code, _ in replay["locks"]] == list(scenario.locks)
    assert bool(replay["flattens"]) is scenario.flattens
    # Identical decisions, follower by follower and fill by fill.
    assert len(live["decisions"]) == len(replay["decisions"]) == len(fills) * len(spec.followers)
    assert live["decisions"] == replay["decisions"]
    # Identical halts (account, time, code, text) and locks (time, code, text).
    assert live["halts"] == replay["halts"]
    relabel = [
        (
            at if code not in INCIDENTS else None,
            code,
            _with_replay_ids(text, live["coids"], replay["coids"]),
        )
        for at, code, text in live["locks"]
    ]
    assert relabel == [(at if c not in INCIDENTS else None, c, t) for at, c, t in replay["locks"]]
    assert all(at >= started for at, code, _ in live["locks"] if code in INCIDENTS)
    # Identical flatten closes and books.
    assert live["flattens"] == replay["flattens"]
    assert live["books"] == replay["books"]
