"""Measured latency and slippage of a route's copy orders (reads only).

For every copy order the engine sent this session:

- **hand-off latency**: from the leader event's arrival at the engine
  (``LeaderEvent.received_at``, stamped by the engine worker as it takes the
  event in, before it waits for the leader's lock; for an event stored by
  another door, a webhook alert, its row's ``created_at``) to the order's
  hand-off to its broker adapter (``CopyOrder.handed_at``);
- **acknowledgement latency**: from the same instant to the broker's first
  answer (``CopyOrder.acknowledged_at``): an acceptance, a fill or a refusal;
- **slippage**: the order's average fill against the leader's fill price,
  signed as a cost to the follower, in ticks and dollars of the follower's
  contract (:func:`routing.engine.quality.slippage_cost`). Only for a fill
  of the leader (not a working-order mirror) copied in the same underlying
  (the contract, its mini or micro) and the same expiry: another contract
  has no comparable price.

The route's figures are the median (p50) and the 99th percentile (p99) over
the current CME session (:mod:`routing.engine.sessions`, 17:00 to 16:00
America/Chicago), computed here in Python over one bounded query, so the
embedded SQLite default and PostgreSQL give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models.functions import Coalesce

from copytrade.core.numbers import cents
from copytrade.core.numbers import price as price_text
from routing.engine.conversion import same_underlying
from routing.engine.quality import SlippageCost, percentile, slippage_cost
from routing.engine.sessions import session_start, trading_date
from routing.engine.symbols import SymbolError, parse_contract, spec_of
from routing.engine.types import ContractSpec, Side
from routing.engine.watch import plain
from routing.models import CopyGroup, CopyOrder
from routing.selectors import engine_contract_specs

# The newest orders of a session read at most; a route sending more in one
# session shows its figures over these (and says so).
SESSION_ORDERS_MAX = 20_000
P50 = Decimal("0.5")
P99 = Decimal("0.99")
_MICROSECOND = timedelta(microseconds=1)
_THOUSAND = Decimal(1000)
_CENT = Decimal("0.01")
_MS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderQuality:
    """One copy order's measurements.

    ``handoff_ms`` / ``ack_ms``: milliseconds from the leader event's
    arrival to the hand-off / the broker's answer (``None`` when not
    stamped, e.g. the outcome is still unknown). ``tick_size`` and
    ``leader_tick_size`` are the two contracts' (``None`` without a spec),
    for showing prices at their precision. ``slippage`` per contract
    and ``slippage_dollars`` over the filled contracts, ``None`` when the
    order has no comparable fill; ``no_slippage`` then says why.
    """

    order_id: int
    follower_id: int
    client_order_id: str
    symbol: str
    side: str
    qty: int
    filled_qty: int
    status: str
    event_at: datetime
    handed_at: datetime
    acknowledged_at: datetime | None
    handoff_ms: Decimal
    ack_ms: Decimal | None
    fill_price: Decimal | None
    leader_price: Decimal
    leader_symbol: str
    tick_size: Decimal | None
    leader_tick_size: Decimal | None
    slippage: SlippageCost | None
    slippage_dollars: Decimal | None
    no_slippage: str


@dataclass(frozen=True, slots=True)
class Spread:
    """``count`` values and their p50 / p99 (``None`` without values)."""

    count: int
    p50: Decimal | None
    p99: Decimal | None

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Spread:
        """The spread of ``values`` (any order; empty gives ``None`` percentiles)."""
        if not values:
            return cls(0, None, None)
        return cls(len(values), percentile(values, P50), percentile(values, P99))


@dataclass(frozen=True, slots=True)
class QualityFigures:
    """Figures over a set of orders: latencies in ms, slippage in ticks per
    contract, ``slippage_dollars`` the summed cost of their filled contracts."""

    orders: int
    handoff_ms: Spread
    ack_ms: Spread
    slippage_ticks: Spread
    slippage_dollars: Decimal

    @classmethod
    def of(cls, orders: Sequence[OrderQuality]) -> QualityFigures:
        """The figures of ``orders``."""
        slipped = [o for o in orders if o.slippage is not None]
        return cls(
            orders=len(orders),
            handoff_ms=Spread.of([o.handoff_ms for o in orders]),
            ack_ms=Spread.of([o.ack_ms for o in orders if o.ack_ms is not None]),
            slippage_ticks=Spread.of([o.slippage.ticks for o in slipped if o.slippage]),
            slippage_dollars=sum(
                (o.slippage_dollars for o in slipped if o.slippage_dollars is not None),
                Decimal(0),
            ),
        )


@dataclass(frozen=True, slots=True)
class FollowerQuality:
    """One follower's last measured order and its session figures."""

    follower_id: int
    account_id: int
    name: str
    last: OrderQuality | None
    session: QualityFigures


@dataclass(frozen=True, slots=True)
class CopyQuality:
    """A route's measurements over the session opened at ``session_start``
    (dated ``trading_date``); ``truncated`` when only the newest
    ``SESSION_ORDERS_MAX`` orders were read."""

    group_id: int
    trading_date: date
    session_start: datetime
    route: QualityFigures
    followers: list[FollowerQuality]
    truncated: bool


def copy_quality(*, group: CopyGroup, at: datetime) -> CopyQuality:
    """Latency and slippage of ``group``'s copy orders handed to a broker in
    the session holding aware ``at``: per follower its last order and
    figures, for the route p50/p99 over every order. Three queries."""
    start = session_start(at)
    rows = list(
        CopyOrder.objects.filter(
            group=group,
            kind=CopyOrder.Kind.COPY,
            created_at__gte=start,
            handed_at__isnull=False,
            leader_event__isnull=False,
        )
        .order_by("-pk")
        .values_list(
            "pk",
            "follower_id",
            "client_order_id",
            "symbol",
            "side",
            "qty",
            "filled_qty",
            "status",
            "avg_fill_price",
            "handed_at",
            "acknowledged_at",
            Coalesce("leader_event__received_at", "leader_event__created_at"),
            "leader_event__price",
            "leader_event__symbol",
            "leader_event__action",
        )[: SESSION_ORDERS_MAX + 1]
    )
    truncated = len(rows) > SESSION_ORDERS_MAX
    rows = rows[:SESSION_ORDERS_MAX]
    specs = engine_contract_specs(_roots(r[3] for r in rows) | _roots(r[13] for r in rows))
    measured = [_measure(row, specs) for row in reversed(rows)]  # oldest first
    by_follower: dict[int, list[OrderQuality]] = {}
    for order in measured:
        by_follower.setdefault(order.follower_id, []).append(order)
    followers = [
        FollowerQuality(
            follower_id=f.pk,
            account_id=f.account_id,
            name=f.account.name,
            last=by_follower[f.pk][-1] if by_follower.get(f.pk) else None,
            session=QualityFigures.of(by_follower.get(f.pk, [])),
        )
        for f in group.followers.select_related("account").order_by("pk")
    ]
    return CopyQuality(
        group_id=group.pk,
        trading_date=trading_date(at),
        session_start=start,
        route=QualityFigures.of(measured),
        followers=followers,
        truncated=truncated,
    )


def _roots(symbols: Any) -> set[str]:
    roots = set()
    for symbol in symbols:
        try:
            roots.add(parse_contract(symbol).root)
        except SymbolError:
            continue  # no spec to read for it: its slippage is shown as not comparable
    return roots


def _ms(later: datetime, earlier: datetime) -> Decimal:
    return Decimal((later - earlier) // _MICROSECOND) / _THOUSAND


def _measure(row: tuple[Any, ...], specs: dict[str, ContractSpec]) -> OrderQuality:
    (pk, follower_id, coid, symbol, side, qty, filled, status, avg, handed, acked) = row[:11]
    event_at, leader_price, leader_symbol, action = row[11:]
    cost, why = _slippage(symbol, side, filled, avg, leader_symbol, leader_price, action, specs)
    own_spec, leader_spec = spec_of(symbol, specs), spec_of(leader_symbol, specs)
    return OrderQuality(
        order_id=pk,
        follower_id=follower_id,
        client_order_id=coid,
        symbol=symbol,
        side=side,
        qty=qty,
        filled_qty=filled,
        status=status,
        event_at=event_at,
        handed_at=handed,
        acknowledged_at=acked,
        handoff_ms=_ms(handed, event_at),
        ack_ms=_ms(acked, event_at) if acked is not None else None,
        fill_price=avg,
        leader_price=leader_price,
        leader_symbol=leader_symbol,
        tick_size=own_spec.tick_size if own_spec else None,
        leader_tick_size=leader_spec.tick_size if leader_spec else None,
        slippage=cost,
        slippage_dollars=cost.dollars(filled) if cost is not None else None,
        no_slippage=why,
    )


def _slippage(
    symbol: str,
    side: str,
    filled: int,
    avg: Decimal | None,
    leader_symbol: str,
    leader_price: Decimal,
    action: str,
    specs: dict[str, ContractSpec],
) -> tuple[SlippageCost | None, str]:
    """The order's slippage per contract, or ``None`` and why not."""
    if action:
        return None, "mirrors a leader working order, not a fill"
    if not filled or avg is None:
        return None, "not filled"
    try:
        own, leader = parse_contract(symbol), parse_contract(leader_symbol)
    except SymbolError:
        return None, "contract unreadable"
    spec, leader_spec = specs.get(own.root), specs.get(leader.root)
    if spec is None or leader_spec is None:
        return None, f"no contract spec for {own.root if spec is None else leader.root}"
    if not same_underlying(spec, leader_spec) or (own.month, own.year) != (
        leader.month,
        leader.year,
    ):
        return None, f"{symbol} has no price comparable with the leader's {leader_symbol}"
    cost = slippage_cost(
        side=Side(side),
        fill_price=avg,
        leader_price=leader_price,
        tick_size=spec.tick_size,
        tick_value=spec.tick_value,
    )
    return cost, ""


# -- JSON -------------------------------------------------------------------------


def _text(value: Decimal | None, step: Decimal) -> str | None:
    """A figure as plain text rounded half up to ``step`` (``None`` stays ``None``)."""
    return None if value is None else str(plain(value.quantize(step, rounding=ROUND_HALF_UP)))


def _price(value: Decimal | None, tick: Decimal | None) -> str | None:
    """A price at its contract's tick precision (MNQ 0.25: ``21549.00``); as
    people write it when the contract has no spec (:func:`copytrade.core.numbers.price`)."""
    return None if value is None else price_text(value, tick)


def _spread(spread: Spread, step: Decimal) -> dict[str, Any]:
    return {"count": spread.count, "p50": _text(spread.p50, step), "p99": _text(spread.p99, step)}


def _figures(figures: QualityFigures) -> dict[str, Any]:
    return {
        "orders": figures.orders,
        "handoff_ms": _spread(figures.handoff_ms, _MS),
        "ack_ms": _spread(figures.ack_ms, _MS),
        "slippage_ticks": _spread(figures.slippage_ticks, _CENT),
        "slippage_dollars": cents(figures.slippage_dollars),
    }


def _order(order: OrderQuality) -> dict[str, Any]:
    cost = order.slippage
    return {
        "id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.qty,
        "filled_qty": order.filled_qty,
        "status": order.status,
        "event_at": order.event_at.isoformat(),
        "handed_at": order.handed_at.isoformat(),
        "acknowledged_at": order.acknowledged_at.isoformat() if order.acknowledged_at else None,
        "handoff_ms": _text(order.handoff_ms, _MS),
        "ack_ms": _text(order.ack_ms, _MS),
        "fill_price": _price(order.fill_price, order.tick_size),
        "leader_price": _price(order.leader_price, order.leader_tick_size),
        "leader_symbol": order.leader_symbol,
        "slippage_ticks": _text(cost.ticks, _CENT) if cost else None,
        "slippage_per_contract": cents(cost.per_contract) if cost else None,
        "slippage_dollars": cents(order.slippage_dollars),
        "no_slippage": order.no_slippage,
    }


def copy_quality_payload(quality: CopyQuality) -> dict[str, Any]:
    """The JSON the performance page reads: milliseconds and ticks to 0.01
    and dollars to cents (rounded half up), as text; slippage positive = a
    cost to the follower."""
    return {
        "group": quality.group_id,
        "trading_date": quality.trading_date.isoformat(),
        "session_start": quality.session_start.isoformat(),
        "truncated": quality.truncated,
        "route": _figures(quality.route),
        "followers": [
            {
                "follower_id": f.follower_id,
                "account_id": f.account_id,
                "name": f.name,
                "last": _order(f.last) if f.last is not None else None,
                "session": _figures(f.session),
            }
            for f in quality.followers
        ],
    }
