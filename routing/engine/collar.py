"""The price collar: a leader fill too far from the contract's last mark is not copied.

An exchange refuses orders priced outside a band around a reference price
(CME Globex "Price Banding", CME Group Client Systems Wiki; and the dynamic
circuit breakers of CME Rule 589, 7 % around a rolling anchor for the equity
index futures). Copytrade applies the same idea to what it copies: a leader
fill whose price is more than ``band_pct`` percent away from the last mark of
the contract is a bad price (a typo'd import, a broken feed, a 15-digit
number) rather than a market move, so no follower order is sized or risk
checked from it; every follower decision is BLOCKED with the reason
(issue 10, defect 8). Without a mark (the first fill of a contract) the price
passes: there is nothing to compare it with. Pure: no Django.
"""

from __future__ import annotations

from decimal import Decimal

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


def check_price_collar(
    price: Decimal, last_mark: Decimal | None, band_pct: Decimal
) -> str | None:
    """Why ``price`` is outside the collar around ``last_mark``, or ``None`` when it may pass.

    ``None`` when there is no mark. The reason is a greppable code with the
    numbers: ``"PRICE_COLLAR: leader price 22050.25 is outside 19950..22050
    (5% of last mark 21000)"``. ``band_pct`` must be > 0 (a band of 0 or
    less would refuse every price: rejected as a configuration error).
    """
    if band_pct <= 0:
        raise ValueError(f"price collar band must be > 0 percent, got {band_pct}")
    if last_mark is None:
        return None
    low, high = collar_band(last_mark, band_pct)
    if low <= price <= high:
        return None
    return (
        f"PRICE_COLLAR: leader price {price} is outside {_plain(low)}..{_plain(high)} "
        f"({_plain(band_pct)}% of last mark {_plain(last_mark)}); not copied"
    )


def _plain(value: Decimal) -> str:
    """``value`` without trailing zeros and never in exponent notation (``19950``)."""
    return format(value.normalize(), "f")
