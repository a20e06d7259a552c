"""The watch period: a pilot mirrored on paper, through the real engine.

Issue 11: "A new subscription starts with a 14-day watch period: mirroring
is simulated on paper and the user sees what would have happened, per
trade, before they can switch mirroring on."

Design: no second implementation of sizing, risk or fills (DESIGN.md warns
against ``runtime/simulate.py``-style copies). When a subscription starts,
:func:`watch_route_open` gives the subscriber a *paper* broker account
("Watch: <pilot>", personal, with the pilot's nominal size as its balance
unless the subscriber gives one) that follows the pilot's account through a
pilot-route copy group the subscriber owns, at ratio 1. From then on every
pilot fill goes through ``leader_event_ingest`` like any route: the engine
sizes it and runs the risk checks of the watch account, the engine worker
hands the order to the paper broker (the embedded default, or the
deployment's workers), and the paper fills are recorded as
``journal.models.Fill`` rows with their realized PnL. :func:`watch_trades`
reads those rows back, paired per pilot round trip. Mirroring pauses the
watch route (exits are still copied, so a simulated position closes with
the pilot's) and so does ending the subscription.

Privacy: the watch account, group, orders and journal rows are the
subscriber's; the pilot's pages and journal never see them (the group's
owner is the subscriber, and the pilot's account name never appears in the
subscriber's journal: :func:`routing.services.copy_groups.copy_group_create`
with ``pilot_route``).

The watch account is found by its external id ``watch-<subscription id>``
on the paper platform (unique there), so no schema change was needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import BrokerAccount
from accounts.services import broker_account_create
from journal.models import Fill, Position
from pilots.models import Subscription
from routing.engine.symbols import SymbolError, root_of
from routing.models import CopyGroup, CopyOrder
from routing.selectors import contract_point_values
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.group_rules import copy_group_pause

_ZERO = Decimal(0)
# Copy orders whose outcome the watch page spells out beside the trade.
_NOTED = (
    CopyOrder.Status.BLOCKED,
    CopyOrder.Status.REJECTED,
    CopyOrder.Status.CANCELLED,
    CopyOrder.Status.PENDING,
    CopyOrder.Status.SENT,
    CopyOrder.Status.WORKING,
)


def watch_external_id(subscription: Subscription) -> str:
    """The paper external id of ``subscription``'s watch account."""
    return f"watch-{subscription.pk}"


def _free_name(taken: set[str], name: str, subscription: Subscription) -> str:
    # A user who follows a pilot again keeps the first watch's account and
    # group (their fills are history): the new ones get the subscription id.
    return name if name not in taken else f"{name} #{subscription.pk}"


@transaction.atomic
def watch_route_open(*, subscription: Subscription, balance: Decimal | None = None) -> CopyGroup:
    """Open ``subscription``'s watch route: a paper account of the
    subscriber (balance ``balance`` dollars, default the pilot's nominal
    size) following the pilot's account at ratio 1 through a pilot-route
    copy group the subscriber owns. Returns the group. Called by
    :func:`pilots.subscriptions.subscription_start` in its transaction."""
    subscriber, pilot = subscription.subscriber, subscription.pilot
    accounts = set(BrokerAccount.objects.filter(owner=subscriber).values_list("name", flat=True))
    account = broker_account_create(
        owner=subscriber,
        name=_free_name(accounts, f"Watch: {pilot.display_name}", subscription),
        balance=pilot.nominal_balance if balance is None else balance,
        kind=BrokerAccount.Kind.PERSONAL,
        platform=BrokerAccount.Platform.PAPER,
        external_id=watch_external_id(subscription),
    )
    groups = set(CopyGroup.objects.filter(owner=subscriber).values_list("name", flat=True))
    group = copy_group_create(
        owner=subscriber,
        name=_free_name(groups, f"Watch {pilot.display_name}", subscription),
        leader=pilot.account,
        actor_label=subscriber.username,
        pilot_route=True,
        # Not level 1 Test, the one exception: a paper account the system
        # makes to show what copying the pilot at ratio 1 would have done;
        # one contract a trade would misstate it, and no real account trades.
        level=CopyGroup.Level.ACTIVE,
    )
    follower_add(group=group, account=account, ratio=Decimal(1), actor_label=subscriber.username)
    return group


def watch_account(subscription: Subscription) -> BrokerAccount | None:
    """``subscription``'s watch account, or ``None`` (a subscription started
    before watch routes existed). Reads only."""
    return BrokerAccount.objects.filter(
        owner_id=subscription.subscriber_id,
        platform=BrokerAccount.Platform.PAPER,
        external_id=watch_external_id(subscription),
    ).first()


def watch_group(subscription: Subscription) -> CopyGroup | None:
    """The copy group feeding ``subscription``'s watch account, or ``None``."""
    account = watch_account(subscription)
    if account is None:
        return None
    return CopyGroup.objects.filter(
        owner_id=subscription.subscriber_id, followers__account=account
    ).first()


def watch_route_pause(*, subscription: Subscription) -> bool:
    """Pause the watch route (exits are still copied, so a simulated
    position closes with the pilot's). False when there is none or it was
    paused already."""
    group = watch_group(subscription)
    if group is None:
        return False
    return copy_group_pause(group=group, actor=subscription.subscriber)


@dataclass
class _Side:
    """Opening and closing fills of one side (pilot or copy) of a trade."""

    max_qty: int = 0
    open_qty: int = 0
    open_value: Decimal = _ZERO
    close_qty: int = 0
    close_value: Decimal = _ZERO
    pnl: Decimal = _ZERO
    symbol: str = ""

    def add(self, opening: int, closing: int, price: Decimal) -> None:
        self.open_qty += opening
        self.open_value += opening * price
        self.close_qty += closing
        self.close_value += closing * price

    @property
    def entry(self) -> Decimal | None:
        return self.open_value / self.open_qty if self.open_qty else None

    @property
    def exit(self) -> Decimal | None:
        return self.close_value / self.close_qty if self.close_qty else None


@dataclass
class WatchTrade:
    """One pilot round trip since the watch started and its paper copy.

    ``side`` is the pilot's direction (``"buy"`` long, ``"sell"`` short);
    ``pilot`` and ``copy`` hold the largest position in contracts (``max_qty``),
    the average entry and exit prices (points) and the PnL in dollars (the
    pilot's as cash flow at their fill prices, the copy's as the paper
    broker's realized PnL). ``closed_at`` is ``None`` while the pilot's
    position is open; ``carried`` when the pilot's position was open before
    the watch started (its entry was never copied). ``notes`` say what the
    engine or the broker did instead of filling (blocked with the risk
    rule, rejected, still working).
    """

    symbol: str
    side: str
    opened_at: datetime
    closed_at: datetime | None = None
    carried: bool = False
    pilot: _Side = field(default_factory=_Side)
    copy: _Side = field(default_factory=_Side)
    notes: list[str] = field(default_factory=list)

    @property
    def pilot_pnl(self) -> Decimal | None:
        """The pilot's PnL of a closed trade; ``None`` while open, or when
        carried (its entry came before the watch, so no full cash flow)."""
        return None if self.closed_at is None or self.carried else self.pilot.pnl


def _split(position: int, sign: int, qty: int) -> tuple[int, int]:
    """(opening, closing) contracts of a fill of ``sign`` x ``qty`` on ``position``."""
    closing = min(qty, abs(position)) if position * sign < 0 else 0
    return qty - closing, closing


def watch_trades(subscription: Subscription) -> list[WatchTrade]:
    """What mirroring ``subscription``'s pilot would have done, per pilot
    round trip since its watch route started: the pilot's trade and the
    watch account's paper copy of it (see the module docstring). Newest
    first. Reads only."""
    group = watch_group(subscription)
    if group is None:
        return []
    orders = list(
        CopyOrder.objects.filter(group=group, kind=CopyOrder.Kind.COPY)
        .select_related("leader_event")
        # Ingest order: the order the engine moved the positions in.
        .order_by("leader_event_id")
    )
    fills: dict[int, list[Fill]] = {}
    for fill in Fill.objects.filter(copy_order__group=group).order_by("filled_at", "pk"):
        fills.setdefault(fill.copy_order_id, []).append(fill)  # type: ignore[arg-type]
    point_values = contract_point_values()
    start = _positions_at_start(subscription, orders)
    return list(reversed(_pair(orders, fills, start, point_values)))


def _positions_at_start(subscription: Subscription, orders: list[CopyOrder]) -> dict[str, int]:
    """The pilot's signed position per contract when the watch route's first
    event arrived: the position now less the events since."""
    moved: dict[str, int] = {}
    for order in orders:
        event = order.leader_event
        assert event is not None  # copy orders always have one (constraint)
        sign = 1 if event.side == "buy" else -1
        moved[event.symbol] = moved.get(event.symbol, 0) + sign * event.qty
    now = dict(
        Position.objects.filter(
            account_id=subscription.pilot.account_id, symbol__in=list(moved)
        ).values_list("symbol", "qty")
    )
    return {symbol: now.get(symbol, 0) - net for symbol, net in moved.items()}


def _point_value(symbol: str, point_values: Mapping[str, Decimal]) -> Decimal:
    try:
        return point_values.get(root_of(symbol), _ZERO)
    except SymbolError:
        return _ZERO


def _pair(
    orders: list[CopyOrder],
    fills: Mapping[int, list[Fill]],
    start: Mapping[str, int],
    point_values: Mapping[str, Decimal],
) -> list[WatchTrade]:
    """Walk the pilot's events in order, moving the pilot's and the copy's
    positions fill by fill, and cut trades where the pilot goes flat or
    reverses (a reversal closes one trade and opens the next, for the pilot
    and for the copy's fills of that event alike)."""
    trades: list[WatchTrade] = []
    current: dict[str, WatchTrade] = {}
    pilot_pos = dict(start)
    copy_pos: dict[str, int] = {}
    for order in orders:
        event = order.leader_event
        assert event is not None
        symbol, sign = event.symbol, (1 if event.side == "buy" else -1)
        before = pilot_pos.get(symbol, 0)
        trade = current.get(symbol)
        if trade is None:
            # A position open before the first event: a carried trade.
            trade = WatchTrade(
                symbol=symbol,
                side=("buy" if (before or sign) > 0 else "sell"),
                opened_at=event.occurred_at,
                carried=before != 0,
            )
            trade.pilot.max_qty = abs(before)
            trades.append(trade)
            current[symbol] = trade
        opening, closing = _split(before, sign, event.qty)
        after = before + sign * event.qty
        pilot_pos[symbol] = after
        value = _point_value(symbol, point_values)
        trade.pilot.add(0, closing, event.price)
        trade.pilot.pnl += sign * -closing * event.price * value
        opened = trade
        if closing and after * before <= 0:
            trade.closed_at = event.occurred_at
            del current[symbol]
            if opening:
                opened = WatchTrade(symbol=symbol, side=event.side, opened_at=event.occurred_at)
                trades.append(opened)
                current[symbol] = opened
        opened.pilot.add(opening, 0, event.price)
        opened.pilot.pnl += sign * -opening * event.price * value
        opened.pilot.max_qty = max(opened.pilot.max_qty, abs(after))
        _copy(order, fills.get(order.pk, []), copy_pos, trade, opened)
    return trades


def _copy(
    order: CopyOrder,
    fills: list[Fill],
    copy_pos: dict[str, int],
    closing_trade: WatchTrade,
    opening_trade: WatchTrade,
) -> None:
    """Apply the copy order's paper fills: closing contracts (and the
    realized PnL) to the trade being closed, opening ones to the trade the
    event opened or added to."""
    for fill in fills:
        sign = 1 if fill.side.lower() == "buy" else -1
        before = copy_pos.get(fill.symbol, 0)
        opening, closing = _split(before, sign, fill.qty)
        after = before + sign * fill.qty
        copy_pos[fill.symbol] = after
        closing_trade.copy.add(0, closing, fill.price)
        closing_trade.copy.pnl += fill.realized_pnl
        opening_trade.copy.add(opening, 0, fill.price)
        if opening:
            opening_trade.copy.max_qty = max(opening_trade.copy.max_qty, abs(after))
        for trade in (closing_trade, opening_trade):
            trade.copy.symbol = trade.copy.symbol or fill.symbol
    # A reversal can close and still have its opening part blocked: the
    # engine says so in the reason of a filled order.
    if (
        order.status in _NOTED
        or (order.status == CopyOrder.Status.SKIPPED and order.intent != "exit")
        or "blocked" in order.reason
    ):
        event = order.leader_event
        assert event is not None
        what = f"{event.side} {event.qty} {event.symbol}"
        reason = f": {order.reason}" if order.reason else ""
        opening_trade.notes.append(f"{what}: {order.get_status_display().lower()}{reason}")
