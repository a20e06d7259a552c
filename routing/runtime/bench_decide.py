"""``python -m routing.runtime.bench_decide``: ``decide_copies`` alone, µs per follower.

The micro-benchmark behind issue 9, item 3 ("the engine itself ≤ 5 µs per
follower"); ``manage.py bench_engine`` reports the same figure
(``engine_only_per_follower_us``) from inputs captured on a database run,
this one needs no database, no Django and runs in seconds.

**Inputs.** Per scenario, one :class:`GroupConfig` and ``--followers``
:class:`FollowerState` rows built as :class:`routing.services.follower_state
.FollowerStates` builds them (ratios 0.5-3, balances $25K-$150K, daily loss
and max contracts on every account as in :mod:`routing.runtime.bench`, and on
some: percent-of-balance sizing, position and exposure caps, max position,
long only, positions in other contracts, a session loss past the limit, a
quarantine, a paused follower). A seeded stream of ``--events`` leader moves
(entries, adds, partial exits, flats and reversals) is decided once to
carry each follower's tracked position from event to event (a SEND moves it
to the decision's target, as the ingest service does); those
``(move, followers)`` calls are captured and then replayed ``--repeat``
times, each call timed with ``perf_counter_ns``.

**Output.** Per scenario: p50 and p90 of (call time / followers) in µs,
the same when every decision's ``reason`` is read too (what the ingest
service does: it stores every decision), the target, and a SHA-256 of
every decision of the captured stream, so a change that must keep
behaviour can be checked to decide exactly the same. ``--profile N``
cProfiles one pass of the first scenario (top N by own time, on stderr).
The figures are only comparable on one machine in one minute: the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.limits import AccountSession, Direction, OnBreach, RiskLimits, RouteLimits
from routing.engine.types import (
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    SizingBasis,
    SizingMode,
)

TARGET_US_PER_FOLLOWER = 5.0  # issue 9, item 3 (as routing.runtime.bench)
DEFAULT_FOLLOWERS = 200
DEFAULT_EVENTS = 200
DEFAULT_REPEAT = 3
DEFAULT_SEED = 20250304
TICK = Decimal("0.25")

Call = tuple[LeaderMove, GroupConfig, list[FollowerState]]


@dataclass(frozen=True)
class Scenario:
    """A route: ``group`` copies the leader's ``symbol`` (``price`` to start)."""

    name: str
    group: GroupConfig
    symbol: str
    price: Decimal


SCENARIOS = (
    # As the project's bench: MNQ into MNQ, multiplier, with route caps.
    Scenario(
        "mnq",
        GroupConfig(
            copy_mode=CopyMode.MULTIPLIER,
            copy_value=Decimal(1),
            limits=RouteLimits(stop_ticks=40, slippage_ticks=2, max_contracts_per_account=40),
        ),
        "MNQH5",
        Decimal("21500.00"),
    ),
    # ES in notional sizing with the micro fallback: conversions on every follower.
    Scenario(
        "es-notional-micro",
        GroupConfig(
            copy_mode=CopyMode.MULTIPLIER,
            copy_value=Decimal("0.5"),
            sizing_mode=SizingMode.NOTIONAL,
            auto_micro=True,
            leader_balance=Decimal(150_000),
            limits=RouteLimits(stop_ticks=8, max_total_contracts=4000),
        ),
        "ESH5",
        Decimal("5900.00"),
    ),
)


def followers_of(count: int, seed: int) -> list[FollowerState]:
    """``count`` varied followers, flat (positions are carried by the caller)."""
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible set-up
    ratios = [Decimal(r) for r in ("0.5", "1", "1.5", "2", "2.5", "3")]
    states = []
    for index in range(count):
        balance = Decimal(rng.choice((25_000, 50_000, 100_000, 150_000)))
        pnl = Decimal(rng.randint(-900, 600))
        kind = index % 10
        limits = RiskLimits(
            daily_loss=balance / 25,
            max_contracts=rng.choice((5, 10, 20)),
            max_position=30 if kind == 1 else None,
            position_cap_pct=Decimal(2) if kind == 2 else None,
            exposure_cap=Decimal(6000) if kind == 3 else None,
            on_breach=OnBreach.SCALE_DOWN if kind in (2, 3) else OnBreach.BLOCK,
            direction=Direction.LONG_ONLY if kind == 4 else Direction.BOTH,
        )
        states.append(
            FollowerState(
                key=str(1000 + index),
                ratio=rng.choice(ratios),
                positions={"MESH5": 2, "CLJ5": -1} if kind == 5 else {},
                session_pnl=Decimal(-2000) if index == 7 else pnl,
                limits=limits,
                enabled=index != 11,
                sizing_basis=SizingBasis.PERCENT_OF_BALANCE if kind == 6 else SizingBasis.RATIO,
                balance=balance,
                quarantined=frozenset({"MNQH5", "ESH5"}) if index == 13 else frozenset(),
                session=AccountSession(equity=balance + pnl, realized=pnl),
            )
        )
    return states


def leader_moves(count: int, symbol: str, price: Decimal, seed: int) -> list[LeaderMove]:
    """Entries of 1-4 from flat, adds, partial exits, flats and reversals."""
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible stream
    position, moves = 0, []
    for index in range(count):
        price += rng.randint(-12, 12) * TICK
        side = 1 if position > 0 else -1
        roll = rng.random()
        if position == 0:
            after = rng.choice((1, -1)) * rng.randint(1, 4)
        elif roll < 0.1:
            after = -side * rng.randint(1, 4)  # reversal
        elif abs(position) < 8 and roll < 0.4:
            after = position + side * rng.randint(1, 2)  # add
        elif abs(position) > 1 and roll < 0.75:
            after = position - side * rng.randint(1, abs(position) - 1)  # partial exit
        else:
            after = 0
        moves.append(LeaderMove(f"LEAD:bench-{index}", symbol, position, after, price))
        position = after
    return moves


def capture(scenario: Scenario, followers: int, events: int, seed: int) -> list[Call]:
    """The scenario's calls, each follower's position carried across events."""
    base = followers_of(followers, seed)
    held = [dict(f.positions) for f in base]
    calls: list[Call] = []
    for move in leader_moves(events, scenario.symbol, scenario.price, seed):
        states = [_with_positions(f, dict(h)) for f, h in zip(base, held, strict=True)]
        calls.append((move, scenario.group, states))
        for decision, h in zip(_decide(calls[-1]), held, strict=True):
            if decision.status is DecisionStatus.SEND:
                h[decision.symbol] = decision.target
    return calls


def _with_positions(state: FollowerState, positions: dict[str, int]) -> FollowerState:
    return FollowerState(
        key=state.key,
        ratio=state.ratio,
        positions=positions,
        session_pnl=state.session_pnl,
        limits=state.limits,
        enabled=state.enabled,
        sizing_basis=state.sizing_basis,
        balance=state.balance,
        quarantined=state.quarantined,
        session=state.session,
    )


def _decide(call: Call) -> list[CopyDecision]:
    move, group, states = call
    return decide_copies(move, group, states, SPECS_BY_ROOT, route_key="bench-route")


def _read_reasons(call: Call) -> list[CopyDecision]:
    decisions = _decide(call)
    for decision in decisions:
        _ = decision.reason
    return decisions


def digest(calls: Sequence[Call]) -> str:
    """SHA-256 (16 hex) over every field of every decision of ``calls``."""
    sha = hashlib.sha256()
    for call in calls:
        for d in _decide(call):
            fields = (d.follower, d.symbol, d.side, d.qty, d.status, d.intent, d.reason)
            rest = (d.client_order_id, d.position_before, d.target, d.scaled_from)
            sha.update(repr((*fields, *rest)).encode())
    return sha.hexdigest()[:16]


def per_follower_us(
    calls: Sequence[Call], run: Callable[[Call], object], repeat: int
) -> tuple[float, float]:
    """``(p50, p90)`` of call time / followers, µs, over ``repeat`` passes."""
    for call in calls[:20]:  # warm caches
        run(call)
    samples = []
    for _ in range(repeat):
        for call in calls:
            started = time.perf_counter_ns()
            run(call)
            samples.append((time.perf_counter_ns() - started) / len(call[2]) / 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[len(samples) * 9 // 10]


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures of every scenario and the target; exit status 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=DEFAULT_FOLLOWERS)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    print(
        f"decide_copies: {args.followers} followers, {args.events} events x {args.repeat}; "
        f"target <= {TARGET_US_PER_FOLLOWER} us/follower (p50); load {_load()}"
    )
    for scenario in SCENARIOS:
        calls = capture(scenario, args.followers, args.events, args.seed)
        p50, p90 = per_follower_us(calls, _decide, args.repeat)
        r50, r90 = per_follower_us(calls, _read_reasons, args.repeat)
        sends = sum(d.status is DecisionStatus.SEND for c in calls for d in _decide(c))
        print(
            f"  {scenario.name:<18} p50 {p50:5.2f} p90 {p90:5.2f} us/follower | "
            f"reasons read: p50 {r50:5.2f} p90 {r90:5.2f} | "
            f"{'OK' if r50 <= TARGET_US_PER_FOLLOWER else 'over'} target | "
            f"{sends} sends, decisions {digest(calls)}"
        )
        if args.profile and scenario is SCENARIOS[0]:
            profiler = cProfile.Profile()
            profiler.runcall(lambda c=calls: [_read_reasons(call) for call in c])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
            print(out.getvalue(), file=sys.stderr)
    print(f"load after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
