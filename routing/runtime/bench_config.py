"""The engine benchmark's settings, targets and seeded leader stream.

What :mod:`routing.runtime.bench` runs (its cases, the sustained case of
:mod:`routing.runtime.bench_sustained`) is configured here, with the pure
helpers every part of it shares: the nearest-rank percentile and the
deterministic MNQ leader stream.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

DEFAULT_FOLLOWERS = (1, 20, 200, 1000)
DEFAULT_EVENTS = 500
DEFAULT_WARMUP = 50
DEFAULT_SEED = 20250304
DEFAULT_SUSTAINED_SECONDS = 60.0
DEFAULT_SUSTAINED_RATE = 25.0
DEFAULT_SUSTAINED_FOLLOWERS = 200
SYMBOL = "MNQH5"
START = datetime(2025, 3, 4, 14, 30, tzinfo=UTC)  # a Tuesday, inside the CME session
TICK = Decimal("0.25")
# Targets from the issue, for the paper adapter on a 2-core machine, on
# PostgreSQL (the SQLite run reports against them too). p99 (ms) from a
# leader event to the last follower order handed to the adapter:
TARGET_P99_MS = {20: 2.0, 200: 10.0, 1000: 50.0}
# p99 over the database floor's p99 (routing/runtime/bench_floor.py):
TARGET_RATIO_P99 = {200: 2.0, 1000: 2.0}
# decide_copies alone, µs per follower (every case):
TARGET_ENGINE_PER_FOLLOWER_US = 5.0

# The child reads what its scratch database is from here: {"vendor", "name"}.
SCRATCH_ENV = "COPYTRADE_BENCH_SCRATCH"
SETTINGS_MODULE = "copytrade.settings.base"


class BenchError(Exception):
    """The benchmark cannot run (bad arguments, scratch database problems)."""


@dataclass(frozen=True)
class BenchConfig:
    """``followers``: one case per count; ``events`` measured after ``warmup``."""

    followers: tuple[int, ...] = DEFAULT_FOLLOWERS
    events: int = DEFAULT_EVENTS
    warmup: int = DEFAULT_WARMUP
    seed: int = DEFAULT_SEED
    profile_top: int = 0  # > 0: cProfile extra events of the largest case
    profile_events: int = 1
    # The sustained case (routing/runtime/bench_sustained.py); 0 s skips it.
    sustained_seconds: float = DEFAULT_SUSTAINED_SECONDS
    sustained_rate: float = DEFAULT_SUSTAINED_RATE
    sustained_followers: int = DEFAULT_SUSTAINED_FOLLOWERS

    def __post_init__(self) -> None:
        if self.profile_events < 1:
            raise BenchError(f"--profile-events must be >= 1, got {self.profile_events}")
        if not self.followers or any(n < 1 for n in self.followers):
            raise BenchError(f"follower counts must be >= 1, got {list(self.followers)}")
        if self.events < 1:
            raise BenchError(f"events must be >= 1, got {self.events}")
        if self.warmup < 0:
            raise BenchError(f"warmup must be >= 0, got {self.warmup}")
        if not 0 <= self.sustained_seconds < math.inf:
            raise BenchError(f"--sustained takes seconds >= 0, got {self.sustained_seconds}")
        if self.sustained_seconds and not 0 < self.sustained_rate < math.inf:
            raise BenchError(f"--sustained-rate must be > 0, got {self.sustained_rate}")
        if self.sustained_seconds and self.sustained_followers < 1:
            raise BenchError(f"--sustained-followers must be >= 1, got {self.sustained_followers}")

    def as_args(self) -> list[str]:
        return [
            "--followers",
            ",".join(str(n) for n in self.followers),
            "--events",
            str(self.events),
            "--warmup",
            str(self.warmup),
            "--seed",
            str(self.seed),
            "--profile",
            str(self.profile_top),
            "--profile-events",
            str(self.profile_events),
            "--sustained",
            str(self.sustained_seconds),
            "--sustained-rate",
            str(self.sustained_rate),
            "--sustained-followers",
            str(self.sustained_followers),
        ]


# -- pure helpers ----------------------------------------------------------------


def parse_followers(text: str) -> tuple[int, ...]:
    """``"1,20,200"`` -> ``(1, 20, 200)``; raises ``BenchError`` otherwise."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BenchError(f"--followers takes counts like 1,20,200, got {text!r}") from None
    if not counts:
        raise BenchError("--followers needs at least one count")
    return counts


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank ``p``-th percentile (0 < p <= 100) of non-empty ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def leader_stream(count: int, *, account: str, seed: int, start: datetime = START) -> list[Any]:
    """``count`` MNQ ``LeaderFill``s on ``account``: from flat an entry of 1-4
    (either side), then adds, scale-outs and finally a flat, repeated; price a
    seeded random walk on the 0.25 tick; times one second apart from ``start``.
    Same arguments, same stream."""
    from routing.engine.types import LeaderFill, Side

    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible stream
    price = Decimal("21500.00")
    position = 0
    fills = []
    for index in range(count):
        price += rng.randint(-12, 12) * TICK
        if position == 0:
            signed = rng.choice((1, -1)) * rng.randint(1, 4)
        elif abs(position) < 8 and rng.random() < 0.3:
            signed = (1 if position > 0 else -1) * rng.randint(1, 2)  # add
        elif abs(position) > 1 and rng.random() < 0.6:
            signed = -(1 if position > 0 else -1) * rng.randint(1, abs(position) - 1)  # scale out
        else:
            signed = -position  # flat
        position += signed
        fills.append(
            LeaderFill(
                event_id=f"bench-{index}",
                account=account,
                symbol=SYMBOL,
                side=Side.BUY if signed > 0 else Side.SELL,
                qty=abs(signed),
                price=price,
                time=start + timedelta(seconds=index),
                seq=index + 1,
            )
        )
    return fills
