"""Value types shared by the engine, the adapters and the importers.

All types are frozen dataclasses: prices and money are ``Decimal``, quantities
are positive ``int`` contracts with the direction carried by :class:`Side`,
times are timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from routing.engine.limits import AccountSession, RiskLimits, RouteLimits

# Follower ratio bounds (DESIGN.md, Follower): enforced by the route file,
# the services and a database check constraint.
RATIO_MIN = Decimal("0.1")
RATIO_MAX = Decimal("1000")


class Side(StrEnum):
    """Order or fill direction."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: ``signed_qty = side.sign * qty``."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def of_signed(cls, signed_qty: int) -> Side:
        """The side whose fill moves a position by ``signed_qty`` (non-zero)."""
        if signed_qty == 0:
            raise ValueError("a zero quantity has no side")
        return cls.BUY if signed_qty > 0 else cls.SELL


class CopyMode(StrEnum):
    """How a follower's size derives from the leader's (DESIGN.md, Copy mode)."""

    MULTIPLIER = "multiplier"  # follower qty = leader qty x copy value x ratio
    FIXED = "fixed"  # follower qty = copy value x ratio, leader size ignored


class SizingMode(StrEnum):
    """How a quantity crosses from the leader's contract to the follower's."""

    CONTRACTS = "contracts"  # the count is copied as is (1 ES -> 1 MES)
    NOTIONAL = "notional"  # dollars per point preserved (1 ES = $50/pt -> 10 MES)


class SizingBasis(StrEnum):
    """What scales a follower's size besides the group's copy value."""

    RATIO = "ratio"  # x the follower's ratio
    PERCENT_OF_BALANCE = "percent_of_balance"  # x ratio x follower balance / leader balance


class PartialExit(StrEnum):
    """What a follower does when the leader scales out without going flat."""

    PROPORTIONAL = "proportional"  # reduce to the same share of the leader's position
    EXIT_WITH_LEADER = "exit_with_leader"  # ignore partials, go flat when the leader does


class OrderType(StrEnum):
    """Order types (CME Globex order types; brackets are an entry plus OCO children)."""

    MARKET = "market"
    LIMIT = "limit"  # rests at ``limit_price``; fills there or better
    STOP = "stop"  # becomes a market order when the market trades through ``stop_price``
    STOP_LIMIT = "stop_limit"  # becomes a limit at ``limit_price`` once ``stop_price`` trades


class RoundingMode(StrEnum):
    """How a fractional follower quantity becomes whole contracts."""

    ENTRY_DOWN_EXIT_UP = "entry_down_exit_up"  # default: never overshoot risk going in
    NEAREST = "nearest"  # half rounds up (ROUND_HALF_UP)
    ALWAYS_DOWN = "always_down"


class DecisionStatus(StrEnum):
    """Outcome of the engine for one follower and one leader event."""

    SEND = "send"  # an order of ``qty`` contracts is to be sent
    BLOCKED = "blocked"  # a risk rule refused it; ``reason`` names the rule and numbers
    SKIPPED = "skipped"  # nothing to send (sized to zero, follower flat on an exit, disabled)


class Intent(StrEnum):
    """Whether a leader fill opens/adds to or reduces the leader's position."""

    ENTRY = "entry"  # opens or adds: |position| grows
    EXIT = "exit"  # reduces or closes: |position| shrinks
    REVERSAL = "reversal"  # closes and opens the other way in one fill


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One futures product: ``root`` like ``"MNQ"``.

    ``tick_size`` is in price points, ``tick_value`` and ``point_value`` in
    ``currency`` per contract; ``micro_of`` names the larger contract this one
    is the micro of (``"NQ"`` for MNQ). Source: CME Group contract specs,
    see :mod:`routing.contract_specs`.
    """

    root: str
    name: str
    exchange: str
    tick_size: Decimal
    tick_value: Decimal
    point_value: Decimal
    micro_of: str | None
    currency: str
    source: str


@dataclass(frozen=True, slots=True)
class LeaderFill:
    """One fill on the leader account, normalised from any broker or export.

    ``event_id`` is stable across re-deliveries (the broker's fill id), so it
    keys idempotency. ``symbol`` is the normalised contract code (``"MNQH5"``,
    see :mod:`routing.engine.symbols`); ``qty`` > 0 contracts; ``price`` in
    price points; ``time`` timezone-aware UTC.
    """

    event_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    time: datetime
    order_id: str | None = None  # the leader order this fill belongs to, when known
    seq: int | None = None  # the leader stream's sequence number, when the source has one

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"leader fill {self.event_id}: qty must be > 0, got {self.qty}")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"leader fill {self.event_id}: time must be timezone-aware")


class LeaderOrderAction(StrEnum):
    """What happened to a leader's working order."""

    NEW = "new"  # placed and acknowledged, resting
    MODIFY = "modify"  # price or quantity changed
    CANCEL = "cancel"  # cancelled (the rest of it, after any partial fills)


@dataclass(frozen=True, slots=True)
class LeaderOrder:
    """A working (non-market) order on the leader account, or a change to one.

    ``order_id`` is the leader broker's order id and ties every follower order
    mirrored from it; ``event_id`` is unique per delivery (``"<order_id>:new"``,
    ``"<order_id>:modify:2"``...) and keys idempotency like a fill's.
    ``qty`` > 0 is the order's total quantity after this action; prices are
    points: ``limit_price`` for LIMIT / STOP_LIMIT, ``stop_price`` for STOP /
    STOP_LIMIT; ``stop_loss`` / ``take_profit`` are a bracket's OCO exit prices.
    ``parent_order_id`` names the bracket entry when this order is one of its
    exit legs (see :attr:`is_bracket_exit`). Raises ``ValueError`` for a
    missing price, a non-positive quantity or a naive time.
    """

    event_id: str
    order_id: str
    account: str
    action: LeaderOrderAction
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    time: datetime
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    seq: int | None = None
    parent_order_id: str | None = None

    @property
    def is_bracket_exit(self) -> bool:
        """True for a bracket's stop-loss or take-profit leg.

        Such a leg is never mirrored into the followers: its sibling is the
        same exit at the other price (one-cancels-other), so a mirror counted
        in the follower's expected position would make the leader's fill of
        either leg look already done, and a follower's own leg fills at its
        broker independently of the leader's. Followers exit from the leg's
        fills instead, like from any leader fill.
        """
        return self.parent_order_id is not None

    def __post_init__(self) -> None:
        where = f"leader order {self.order_id} ({self.event_id})"
        if self.qty <= 0:
            raise ValueError(f"{where}: qty must be > 0, got {self.qty}")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"{where}: time must be timezone-aware")
        if self.order_type is OrderType.MARKET:
            raise ValueError(f"{where}: market orders are copied from their fills")
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit and self.limit_price is None:
            raise ValueError(f"{where}: a {self.order_type} order needs a limit price")
        if needs_stop and self.stop_price is None:
            raise ValueError(f"{where}: a {self.order_type} order needs a stop price")


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Sizing settings of one copy group (route).

    ``copy_value`` multiplies the leader's size in multiplier mode and is the
    base contract count in fixed mode; it must be > 0. ``mappings`` maps a
    leader product root to the follower root it is copied into (``{"MNQ":
    "NQ"}``; the contract month carries over) and overrides the default of
    copying into the leader's own contract. ``auto_micro``: an entry that
    rounds to zero on a mini is re-sized on its micro. ``quarantine``: a
    follower that rejects an entry has that symbol paused. ``leader_balance``
    (dollars) is needed by followers sized on percent of balance.
    ``enabled`` False pauses the route: entries are not copied, exits still are.
    ``limits`` holds the route level and the route's risk limits.
    """

    copy_mode: CopyMode
    copy_value: Decimal
    rounding: RoundingMode = RoundingMode.ENTRY_DOWN_EXIT_UP
    sizing_mode: SizingMode = SizingMode.CONTRACTS
    auto_micro: bool = False
    quarantine: bool = True
    partial_exit: PartialExit = PartialExit.PROPORTIONAL
    mappings: tuple[tuple[str, str], ...] = ()
    leader_balance: Decimal | None = None
    enabled: bool = True
    limits: RouteLimits = RouteLimits()

    def __post_init__(self) -> None:
        if self.copy_value <= 0:
            raise ValueError(f"copy value must be > 0, got {self.copy_value}")
        leaders = [leader for leader, _ in self.mappings]
        if len(set(leaders)) != len(leaders):
            raise ValueError(f"a leader root is mapped twice: {self.mappings}")

    def mapped_root(self, leader_root: str) -> str | None:
        """The follower root an explicit mapping names for ``leader_root``, if any."""
        for leader, follower in self.mappings:
            if leader == leader_root:
                return follower
        return None


class FollowerState(NamedTuple):
    """What the engine needs to know about one follower for one leader event.

    ``key`` identifies the follower stably (database id or route-file name);
    ``ratio`` 0.1-1000; ``positions`` maps a contract code to the follower's
    *tracked* signed net contracts there (what copying has committed it to:
    fills plus orders in flight; positions the user untracked are left out);
    ``session_pnl`` its realized + unrealized PnL in dollars for the current
    session (negative = loss). ``balance`` (dollars) is needed when
    ``sizing_basis`` is percent of balance. ``quarantined`` holds contract
    codes where entries are paused after a rejected entry. ``enabled`` False
    pauses the follower: entries are not copied, exits still are.
    ``positions`` holds every tracked position of the account (the risk
    checks count open positions and exposure across contracts); ``session``
    is its risk state for the current session. ``unreachable`` says why the
    follower's broker cannot be reached now (its login's connection is
    down): every order, exits too, is then blocked with that reason, since
    none could be sent; its tracked position stays as it was, and the
    reconnect brings it back to the leader's target. ``entries_blocked``
    says why new entries must wait (e.g. the account's open positions have
    had no price from its platform for minutes, so its loss limits cannot
    be watched): entries are blocked with that reason, exits still go.

    A named tuple, as :class:`CopyDecision` is: one is made per follower per
    leader event (issue 9, item 3).
    """

    key: str
    ratio: Decimal
    positions: Mapping[str, int] = MappingProxyType({})
    session_pnl: Decimal = Decimal(0)
    limits: RiskLimits = RiskLimits()
    enabled: bool = True
    sizing_basis: SizingBasis = SizingBasis.RATIO
    balance: Decimal | None = None
    quarantined: frozenset[str] = frozenset()
    session: AccountSession = AccountSession()
    unreachable: str | None = None
    entries_blocked: str | None = None

    def position(self, symbol: str) -> int:
        """Tracked signed contracts in ``symbol`` (0 when none)."""
        return self.positions.get(symbol, 0)


class CopyDecision(NamedTuple):
    """The engine's answer for one follower and one leader event.

    ``symbol`` is the follower's contract (after mappings and conversions);
    ``qty`` is the contracts to send (0 unless ``status`` is SEND) on
    ``side``; ``position_before`` and ``target`` are the follower's tracked
    signed position before and after this order; ``reason`` is a sentence a
    trader can read, with the numbers. ``intent`` describes the follower's
    order: entry (opens or adds), exit (reduces or closes), reversal (both).

    A named tuple, immutable as a frozen dataclass is, because one is made
    per follower per event: 0.3 µs against the frozen dataclass's 1.6 µs,
    which sets every field through ``object.__setattr__`` (issue 9, item 3).
    Change one with ``_replace``.
    """

    follower: str
    symbol: str
    side: Side
    qty: int
    status: DecisionStatus
    intent: Intent
    reason: str
    client_order_id: str
    position_before: int = 0
    target: int = 0
    scaled_from: int | None = None  # the entry size before a risk cap scaled it down
