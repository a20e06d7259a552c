"""Risk settings and risk state: per account, per route (issue "The risk engine").

Value types only; the checks are in :mod:`routing.engine.risk`. Money is
``Decimal`` dollars, quantities whole contracts, ``None`` means "no limit set".
Pure: no Django, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import NamedTuple

# A prop firm's usual consistency share (e.g. Apex and Topstep payout rules
# cap one day's profit at 30-50% of the target); the default.
DEFAULT_CONSISTENCY_PCT = Decimal(30)


class OnBreach(StrEnum):
    """What happens to an entry that would break a quantity or exposure cap."""

    SCALE_DOWN = "scale_down"  # send the part that fits (nothing if nothing fits)
    BLOCK = "block"  # send none of the entry


class Direction(StrEnum):
    """Which way an account may open positions (exits always pass)."""

    BOTH = "both"
    LONG_ONLY = "long_only"
    SHORT_ONLY = "short_only"


class DrawdownMode(StrEnum):
    """How the drawdown floor is set, as prop firms define it.

    * static: starting balance - max drawdown, never moves;
    * trailing intraday (Apex's "trailing threshold"): high-water mark of the
      equity seen during sessions, open profit included, - max drawdown;
    * trailing end of day (Topstep's "Maximum Loss Limit"): high-water mark
      of the balance at session closes - max drawdown.

    A trailing floor stops rising at the starting balance (Topstep's rule:
    once the account has made its drawdown in profit, the floor locks there;
    Apex locks it $100 higher, not modelled).
    """

    STATIC = "static"
    TRAILING_INTRADAY = "trailing_intraday"
    TRAILING_EOD = "trailing_eod"


class RouteLevel(IntEnum):
    """How far a route (copy group) is trusted (DESIGN.md, Route level)."""

    OFF = 0  # no entries copied
    TEST = 1  # every follower's position forced to 1 contract, no scaling
    REDUCED = 2  # total contracts capped; entries need the route reviewed this session
    ACTIVE = 3
    LOCKED = 4  # after an incident or a breach; leaving needs a written reason

    @property
    def label(self) -> str:
        return f"{self.value} {self.name.title()}"


# Limits that must be > 0 when set (0 would read as "no limit": refused).
POSITIVE_MONEY_LIMITS = (
    "daily_loss",
    "daily_profit_target",
    "exposure_cap",
    "max_drawdown",
    "profit_target",
)
POSITIVE_CONTRACT_LIMITS = ("max_contracts", "max_position", "max_open_positions")
POSITIVE_LIMITS = (*POSITIVE_MONEY_LIMITS, *POSITIVE_CONTRACT_LIMITS, "position_cap_pct")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Per-account limits checked before each copied entry.

    * ``daily_loss`` (dollars > 0): session loss, realized + unrealized, at
      which entries stop for the rest of the session;
      ``flatten_on_breach`` also closes the account's positions then;
    * ``daily_profit_target`` (dollars > 0): session profit, realized +
      unrealized, at which entries stop for the rest of the session (the
      trader's own "done for the day"; exits still copy, nothing is closed);
    * ``max_contracts``: per order; ``max_position``: per position (one
      contract); ``max_open_positions``: contracts (symbols) held at once;
    * ``position_cap_pct``: percent of the balance one position may risk, in
      dollars of exposure (contracts x the route's risk per contract);
      ``exposure_cap``: dollars of exposure across all the account's
      positions; ``on_breach``: scale the entry down to fit, or block it;
    * ``allowed_roots`` (empty: all) and ``denied_roots``: product roots;
      ``direction``: long only, short only or both;
    * ``max_drawdown`` (dollars) with ``drawdown_mode``: the floor below which
      no entry is taken;
    * ``profit_target`` (dollars) and ``consistency_pct``: once the session's
      realized profit exceeds that share of the target, no more entries this
      session (a prop firm's consistency rule; the evaluation's target is
      its base, not a daily stop: that is ``daily_profit_target``).
    """

    daily_loss: Decimal | None = None
    daily_profit_target: Decimal | None = None
    max_contracts: int | None = None
    max_position: int | None = None
    max_open_positions: int | None = None
    position_cap_pct: Decimal | None = None
    exposure_cap: Decimal | None = None
    on_breach: OnBreach = OnBreach.BLOCK
    allowed_roots: frozenset[str] = frozenset()
    denied_roots: frozenset[str] = frozenset()
    direction: Direction = Direction.BOTH
    max_drawdown: Decimal | None = None
    drawdown_mode: DrawdownMode = DrawdownMode.STATIC
    profit_target: Decimal | None = None
    consistency_pct: Decimal = DEFAULT_CONSISTENCY_PCT
    flatten_on_breach: bool = False

    def __post_init__(self) -> None:
        for name in POSITIVE_MONEY_LIMITS:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 dollars, got {value}")
        for name in POSITIVE_CONTRACT_LIMITS:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 contracts, got {value}")
        if self.position_cap_pct is not None and not 0 < self.position_cap_pct <= 100:
            raise ValueError(f"position_cap_pct must be in (0, 100], got {self.position_cap_pct}")
        if not 0 < self.consistency_pct <= 100:
            raise ValueError(f"consistency_pct must be in (0, 100], got {self.consistency_pct}")
        both = self.allowed_roots & self.denied_roots
        if both:
            raise ValueError(f"roots both allowed and denied: {', '.join(sorted(both))}")


class AccountSession(NamedTuple):
    """One account's risk state for the current session, as the services keep it.

    ``halt`` is the reason the account takes no new entries until the next
    session (daily loss tripped, consistency lock, emergency flatten), or
    ``None``. ``equity`` = opening balance + session PnL (realized +
    unrealized), dollars; ``realized`` the session's realized PnL;
    ``drawdown_floor`` the equity at or below which no entry is taken
    (:func:`routing.engine.risk.drawdown_floor`), ``None`` without a drawdown
    limit. ``trading_date`` is the CME trading date of the session.

    A named tuple: one is made per follower per leader event, and a frozen
    dataclass takes several times as long to make (issue 9, item 3). Change
    one with ``_replace``.
    """

    trading_date: date | None = None
    halt: str | None = None
    equity: Decimal | None = None
    realized: Decimal = Decimal(0)
    drawdown_floor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RouteLimits:
    """Per-route (copy group) limits and settings.

    ``level`` (:class:`RouteLevel`) and ``reviewed`` (level 2: the route was
    marked reviewed for the current session); ``max_accounts`` followers
    receive entries (the first ones, in the order given); contract caps per
    follower account and across all followers; ``max_session_loss`` dollars
    across all followers (realized + unrealized). Risk per contract =
    (``stop_ticks`` + ``slippage_ticks``) x tick value: the route's stop
    distance and slippage allowance, used for exposure; ``None`` stop ticks
    means exposure cannot be computed (caps that need it block).
    ``max_slippage_ticks``: a fill further than this from the leader's price
    is an incident that locks the route.
    """

    level: RouteLevel = RouteLevel.ACTIVE
    reviewed: bool = False
    max_accounts: int | None = None
    max_contracts_per_account: int | None = None
    max_total_contracts: int | None = None
    max_session_loss: Decimal | None = None
    stop_ticks: int | None = None
    slippage_ticks: int = 0
    max_slippage_ticks: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_accounts", "max_contracts_per_account", "max_total_contracts"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if self.max_session_loss is not None and self.max_session_loss <= 0:
            raise ValueError(f"max_session_loss must be > 0 dollars, got {self.max_session_loss}")
        if self.stop_ticks is not None and self.stop_ticks <= 0:
            raise ValueError(f"stop_ticks must be > 0, got {self.stop_ticks}")
        if self.slippage_ticks < 0:
            raise ValueError(f"slippage_ticks must be >= 0, got {self.slippage_ticks}")
        if self.max_slippage_ticks is not None and self.max_slippage_ticks < 0:
            raise ValueError(f"max_slippage_ticks must be >= 0, got {self.max_slippage_ticks}")


def limit_names() -> tuple[str, ...]:
    """Every account limit's name, in declaration order (route files, forms
    and services accept exactly these)."""
    return tuple(f.name for f in fields(RiskLimits))
