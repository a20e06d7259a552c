"""Pre-trade risk checks for one follower entry.

Each check returns ``None`` when the order may pass or a denial reason: a
sentence naming the limit and the numbers, e.g. ``"daily loss 375.00 >=
limit 375.00"``. Checks apply to entries only: an exit always reduces risk,
and blocking it would leave the follower holding a position its leader no
longer has (DESIGN.md, Session: "a tripped daily limit blocks new entries,
never closes open positions").
"""

from __future__ import annotations

from decimal import Decimal

from routing.engine.types import FollowerState, RiskLimits


def check_daily_loss(session_pnl: Decimal, limits: RiskLimits) -> str | None:
    """Deny when the session loss (realized + unrealized, dollars) reached the limit."""
    if limits.daily_loss is None:
        return None
    loss = -session_pnl
    if loss >= limits.daily_loss:
        return f"daily loss {loss:.2f} \u2265 limit {limits.daily_loss:.2f}"
    return None


def check_max_contracts(qty: int, limits: RiskLimits) -> str | None:
    """Deny an entry order larger than the account's max contracts per order."""
    if limits.max_contracts is None or qty <= limits.max_contracts:
        return None
    return f"order {qty} contracts > max contracts per order {limits.max_contracts}"


def check_entry(follower: FollowerState, qty: int) -> str | None:
    """Run every entry check in order; the first denial wins."""
    return check_daily_loss(follower.session_pnl, follower.limits) or check_max_contracts(
        qty, follower.limits
    )
