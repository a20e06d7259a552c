"""A simulated leader session for the demo when no real export is at hand.

Deterministic (seeded) MNQ round trips on the 0.25 tick grid: scale in,
partial exits, reversals never. The dashboard labels a replay of it as
simulated; it is never presented as real trading.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from routing.engine.types import LeaderFill, Side

TICK = Decimal("0.25")


def simulated_session(
    *, start: datetime, seed: int = 20250128, round_trips: int = 8
) -> list[LeaderFill]:
    """Leader fills for ``round_trips`` MNQH5 trades starting at ``start`` (aware).

    Each trip enters 1-5 lots, may add once, exits in one or two parts and
    ends flat, so the session ends flat.
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    price = Decimal("21500.00")
    time = start
    fills: list[LeaderFill] = []

    def fill(side: Side, qty: int) -> None:
        nonlocal price, time
        price += TICK * rng.randint(-12, 12)
        time += timedelta(seconds=rng.randint(5, 90))
        fills.append(
            LeaderFill(
                event_id=f"sim-{len(fills) + 1}",
                account="simulated",
                symbol="MNQH5",
                side=side,
                qty=qty,
                price=price,
                time=time,
            )
        )

    for _ in range(round_trips):
        side = rng.choice((Side.BUY, Side.SELL))
        held = rng.randint(1, 5)
        fill(side, held)
        if rng.random() < 0.5:
            add = rng.randint(1, 3)
            fill(side, add)
            held += add
        if held > 1 and rng.random() < 0.6:
            part = rng.randint(1, held - 1)
            fill(side.opposite, part)
            held -= part
        fill(side.opposite, held)
    return fills
