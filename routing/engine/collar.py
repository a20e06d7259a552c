"""The price collar: a leader fill too far from the contract's last mark is not copied.

An exchange refuses orders priced outside a band around a reference price
(CME Globex "Price Banding", CME Group Client Systems Wiki; and the dynamic
circuit breakers of CME Rule 589, 7 % around a rolling anchor for the equity
index futures). Copytrade applies the same idea to what it copies: a leader
fill whose price is more than ``band_pct`` percent away from the last mark of
the contract is a bad price (a typo'd import, a broken feed, a 15-digit
number) rather than a market move, so no follower entry is sized or risk
checked from it: entries are BLOCKED with the reason (issue 10, defect 8).
Exits are never blocked (a missed exit costs an account): a follower exit
is still sent, at market, without the leader's price as its reference, and a
reversal closes the follower to flat without opening the other way
(:func:`collared_decision`). Without a mark (the first fill of a contract)
the price passes: there is nothing to compare it with. Pure: no Django.
"""

from __future__ import annotations

from decimal import Decimal

from routing.engine.types import CopyDecision, DecisionStatus, Intent

COLLAR_CODE = "PRICE_COLLAR"
"""The code every collared decision's reason starts with: an order whose reason
carries it is sent at market, never at the leader's (collared) price."""

DEFAULT_COLLAR_PCT = Decimal(5)
"""Default band, percent of the last mark: inside the 7 % CME equity-index dynamic circuit
breaker (CME Rule 589), so a price the exchange would still trade in one step passes."""


def collar_band(last_mark: Decimal, band_pct: Decimal) -> tuple[Decimal, Decimal]:
    """The lowest and highest price (price points) allowed around ``last_mark``.

    ``band_pct`` is a percentage of the mark: mark 21000 and 5 % give
    (19950, 22050); the bounds are inside the band.
    """
    width = last_mark * band_pct / 100
    return last_mark - width, last_mark + width


def check_price_collar(price: Decimal, last_mark: Decimal | None, band_pct: Decimal) -> str | None:
    """Why ``price`` is outside the collar around ``last_mark``, or ``None`` when it may pass.

    ``None`` when there is no mark. The reason is a greppable code with the
    numbers: ``"PRICE_COLLAR: leader price 22050.25 is outside 19950..22050
    (5% of last mark 21000)"``; :func:`collared_decision` says what happens
    to each follower. ``band_pct`` must be > 0 (a band of 0 or less would
    refuse every price: rejected as a configuration error).
    """
    if band_pct <= 0:
        raise ValueError(f"price collar band must be > 0 percent, got {band_pct}")
    if last_mark is None:
        return None
    low, high = collar_band(last_mark, band_pct)
    if low <= price <= high:
        return None
    return (
        f"{COLLAR_CODE}: leader price {price} is outside {_plain(low)}..{_plain(high)} "
        f"({_plain(band_pct)}% of last mark {_plain(last_mark)})"
    )


def collared_decision(decision: CopyDecision, collar: str) -> CopyDecision:
    """``decision`` for a leader fill outside the collar (``collar`` from
    :func:`check_price_collar`).

    - an entry (or a decision that sends nothing) is BLOCKED: no order, the
      position unchanged, reason ``"<collar>; not copied"``;
    - an exit is sent as decided, reason ``"<collar>; exit sent at market"``
      (the order's reason code keeps the leader's price off the order);
    - a reversal closes the follower to flat only (``target`` 0, ``qty`` its
      position), reason ``"<collar>; reversal closed to flat at market, the
      new position not copied"``; with nothing to close it is BLOCKED.
    """
    if decision.status is DecisionStatus.SEND and decision.intent is Intent.EXIT:
        return decision._replace(reason=f"{collar}; exit sent at market")
    if (
        decision.status is DecisionStatus.SEND
        and decision.intent is Intent.REVERSAL
        and decision.position_before != 0
    ):
        return decision._replace(
            qty=abs(decision.position_before),
            target=0,
            intent=Intent.EXIT,
            scaled_from=None,
            reason=f"{collar}; reversal closed to flat at market, the new position not copied",
        )
    return decision._replace(
        status=DecisionStatus.BLOCKED,
        qty=0,
        target=decision.position_before,
        scaled_from=None,
        reason=f"{collar}; not copied",
    )


def _plain(value: Decimal) -> str:
    """``value`` without trailing zeros and never in exponent notation (``19950``)."""
    return format(value.normalize(), "f")
