"""Copy quality: a follower fill's slippage against the leader's, and percentiles.

Pure, like the rest of the engine: values in, figures out, no clock. Used by
the group's performance page (:mod:`routing.copy_quality`) for the figures
measured live on every copy order.

Slippage is signed so that a cost to the follower reads positive: buying
above the leader's fill price, or selling below it, is a cost; the other
way is price improvement (negative). In ticks of the follower's contract
and in dollars through its tick value, per contract (CME contract specs,
:mod:`routing.contract_specs`): a leader buy at 21,500.25 on MNQ (tick 0.25,
tick value $0.50) filled for the follower at 21,500.75 costs 2 ticks =
$1.00 per contract.

Percentiles interpolate linearly between the closest ranks, as PostgreSQL's
``percentile_cont`` does, so the figures are the same whichever database
the page runs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from routing.engine.types import Side

_ONE = Decimal(1)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SlippageCost:
    """A fill's distance from the leader's, signed as a cost to the follower.

    ``points`` in price points, ``ticks`` in the follower contract's ticks
    (exact, not rounded: an average of several fills may fall between
    ticks), ``per_contract`` in dollars per contract (``ticks`` x tick
    value). Positive: the follower paid more (bought higher, sold lower)
    than the leader; negative: it did better.
    """

    points: Decimal
    ticks: Decimal
    per_contract: Decimal

    def dollars(self, contracts: int) -> Decimal:
        """The cost over ``contracts`` filled contracts (``per_contract`` x
        ``contracts``); raises ``ValueError`` for a negative count."""
        if contracts < 0:
            raise ValueError(f"contracts must be >= 0, got {contracts}")
        return self.per_contract * contracts


def slippage_cost(
    *,
    side: Side,
    fill_price: Decimal,
    leader_price: Decimal,
    tick_size: Decimal,
    tick_value: Decimal,
) -> SlippageCost:
    """The cost of filling ``side`` at ``fill_price`` (the follower's average,
    price points) against the leader's ``leader_price`` (points), in the
    follower's contract: ``tick_size`` points, ``tick_value`` dollars per
    tick and contract. Both prices must be in one underlying and one
    expiry (the caller checks: another contract has no comparable price).
    Raises ``ValueError`` for a tick size or tick value that is not > 0.
    """
    if not tick_size > 0:
        raise ValueError(f"tick_size must be > 0 points, got {tick_size}")
    if not tick_value > 0:
        raise ValueError(f"tick_value must be > 0 dollars, got {tick_value}")
    points = (fill_price - leader_price) * side.sign
    ticks = points / tick_size
    return SlippageCost(points=points, ticks=ticks, per_contract=ticks * tick_value)


def percentile(values: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """The ``fraction`` (0 to 1) percentile of ``values``, interpolated
    linearly between the two closest ranks (PostgreSQL ``percentile_cont``):
    of 1..10, the 0.5 percentile is 5.5 and the 0.99 percentile 9.91.
    ``values`` need not be sorted. Raises ``ValueError`` for no values or a
    fraction outside 0..1.
    """
    if not values:
        raise ValueError("a percentile needs at least one value")
    if not _ZERO <= fraction <= _ONE:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)  # rank >= 0: int() floors
    if low == len(ordered) - 1:
        return ordered[low]
    weight = rank - low
    return ordered[low] + (ordered[low + 1] - ordered[low]) * weight
