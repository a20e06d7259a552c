"""The paper broker: a simulated exchange in memory, the embedded default.

Kept simple for now: market orders only, each filled in full at once. It
holds net positions per (account, contract) with
:class:`routing.engine.positions.Position`, values them in dollars with the
contract's point value, and streams leader fills that a demo or a replay
publishes into it. It never reads the clock: times come from the orders, the
marks and the leader fills it is given.

Reject reasons are a greppable code plus values, e.g.
``"UNKNOWN_SYMBOL: root='ZZ' symbol='ZZH5' has no contract spec"``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

from routing.brokers.base import (
    BrokerAdapter,
    BrokerFill,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderType,
    PositionSnapshot,
)
from routing.brokers.errors import BrokerTemporaryError
from routing.engine.positions import Position
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import ContractSpec, LeaderFill, Side

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class _StreamClosed:
    """Queued by ``disconnect``: ends the ``leader_events`` streams of that session."""

    session: int


@dataclass(frozen=True, slots=True)
class _PaperOrder:
    request: OrderRequest
    broker_order_id: str
    task: asyncio.Task[OrderResult]


class PaperBroker(BrokerAdapter):
    """A simulated exchange implementing :class:`BrokerAdapter` in memory.

    ``specs`` maps a product root (``"MNQ"``) to its :class:`ContractSpec`;
    orders in any other root are rejected. Market orders fill immediately and
    in full at ``reference_price`` (or, without one, the symbol's last mark)
    moved ``slippage_ticks`` ticks against the order: a buy fills higher, a
    sell lower. With ``latency_seconds`` > 0 each order waits that long
    (``asyncio.sleep``) before it fills; orders still fill in the order they
    were sent. The fill time is ``OrderRequest.time`` or, when ``None``, the
    time of the last mark, leader fill or fill the broker saw.

    Refusals are ``REJECTED`` results (unknown root or unreadable symbol,
    ``qty`` <= 0, unsupported order type, no price or no time to fill at).
    Every broker-side call (``place_order``, ``query_order``, ``positions``,
    ``flatten``, ``leader_events``) raises ``BrokerTemporaryError`` while not
    connected, as a real adapter would, and records nothing, so the caller
    may retry the same ``client_order_id`` once connected. The feed-side
    helpers ``mark`` and ``publish_leader_fill`` and the synchronous
    ``position`` work connected or not.

    Ids are deterministic per instance: ``paper-order-<n>`` and
    ``paper-fill-<n>``, counted from 1 in the order orders are sent.
    """

    platform: ClassVar[str] = "paper"
    capabilities: ClassVar[Mapping[str, bool]] = MappingProxyType(
        {
            "market": True,
            "limit": False,
            "stop": False,
            "modify": False,
            "cancel": False,
            "flatten": True,
            "stream_leader": True,
        }
    )

    def __init__(
        self,
        specs: Mapping[str, ContractSpec],
        *,
        slippage_ticks: int = 0,
        latency_seconds: float = 0.0,
    ) -> None:
        """Raise ``ValueError`` for negative slippage or a negative / non-finite latency."""
        if slippage_ticks < 0:
            raise ValueError(f"slippage_ticks must be >= 0, got {slippage_ticks}")
        if not math.isfinite(latency_seconds) or latency_seconds < 0:
            raise ValueError(f"latency_seconds must be finite and >= 0, got {latency_seconds}")
        self._specs: dict[str, ContractSpec] = dict(specs)
        self._slippage_ticks = slippage_ticks
        self._latency_seconds = latency_seconds

        self._connected = False
        self._session = 0  # bumped on every connect; ends that session's streams on disconnect
        self._orders: dict[tuple[str, str], _PaperOrder] = {}
        self._last_task: asyncio.Task[OrderResult] | None = None
        self._order_seq = 0
        self._fill_seq = 0
        self._flatten_seq = 0
        self._positions: dict[tuple[str, str], Position] = {}
        self._marks: dict[str, Decimal] = {}
        self._last_time: datetime | None = None
        self._queues: dict[str, asyncio.Queue[LeaderFill | _StreamClosed]] = {}

    # -- session ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        """Start a session. Idempotent; never raises."""
        if not self._connected:
            self._connected = True
            self._session += 1

    async def disconnect(self) -> None:
        """End the session: running ``leader_events`` streams stop after the
        events already queued. Positions, orders and queued leader fills are
        kept for the next session. Idempotent.
        """
        if self._connected:
            self._connected = False
            for queue in self._queues.values():
                queue.put_nowait(_StreamClosed(self._session))

    def _require_connected(self) -> None:
        if not self._connected:
            raise BrokerTemporaryError("paper broker is not connected: call connect() first")

    # -- orders ----------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Fill ``order`` as described on the class and return its result.

        A repeat of ``(order.account, order.client_order_id)`` sends nothing
        and returns the first order's result, waiting for it if it is still
        in flight. Cancelling the caller does not cancel a sent order: it
        still fills and ``query_order`` reports it. Raises
        ``BrokerTemporaryError`` when not connected (nothing is recorded).
        """
        self._require_connected()
        key = (order.account, order.client_order_id)
        sent = self._orders.get(key)
        if sent is None:
            self._order_seq += 1
            broker_order_id = f"paper-order-{self._order_seq}"
            task = asyncio.create_task(self._execute(order, broker_order_id, self._last_task))
            sent = _PaperOrder(order, broker_order_id, task)
            self._orders[key] = sent
            self._last_task = task
        # shield: the order lives at the "exchange", not in the caller's task
        return await asyncio.shield(sent.task)

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """The order's result; ``WORKING`` while it waits out the latency;
        ``None`` when it was never sent. Raises ``BrokerTemporaryError`` when
        not connected.
        """
        self._require_connected()
        sent = self._orders.get((account, client_order_id))
        if sent is None:
            return None
        if sent.task.done():
            return sent.task.result()
        return OrderResult(
            client_order_id=client_order_id,
            broker_order_id=sent.broker_order_id,
            status=OrderStatus.WORKING,
            filled_qty=0,
            avg_price=None,
            fills=(),
        )

    async def _execute(
        self,
        order: OrderRequest,
        broker_order_id: str,
        previous: asyncio.Task[OrderResult] | None,
    ) -> OrderResult:
        if self._latency_seconds > 0:
            await asyncio.sleep(self._latency_seconds)
        if previous is not None and not previous.done():
            # Same latency for all, so this costs nothing extra; it pins fill
            # order (and fill ids) to send order even if timers tie.
            await asyncio.wait([previous])
        return self._fill_market(order, broker_order_id)

    def _fill_market(self, order: OrderRequest, broker_order_id: str) -> OrderResult:
        """Fill ``order`` in full now, or return why not. Synchronous: no
        other order can interleave between the checks and the fill.
        """

        def rejected(reason: str) -> OrderResult:
            return OrderResult.rejected(
                order.client_order_id, reason, broker_order_id=broker_order_id
            )

        if order.order_type is not OrderType.MARKET:
            return rejected(f"ORDER_TYPE_UNSUPPORTED: order_type={order.order_type}")
        if order.qty <= 0:
            return rejected(f"QTY_NOT_POSITIVE: qty={order.qty}")
        try:
            contract = parse_contract(order.symbol)
        except SymbolError as exc:
            return rejected(f"SYMBOL_UNREADABLE: {exc}")
        spec = self._specs.get(contract.root)
        if spec is None:
            return rejected(
                f"UNKNOWN_SYMBOL: root={contract.root!r} symbol={order.symbol!r} "
                "has no contract spec"
            )
        symbol = contract.code
        base = order.reference_price
        if base is None:
            base = self._marks.get(symbol)
        if base is None:
            return rejected(f"NO_PRICE: symbol={symbol} has no reference price and no mark")
        if not isinstance(base, Decimal) or not base.is_finite():
            return rejected(f"PRICE_INVALID: reference_price={base!r} is not a finite Decimal")
        time = order.time if order.time is not None else self._last_time
        if time is None:
            return rejected("NO_TIME: order has no time and the broker has seen no mark or fill")

        price = base + self._slippage_ticks * spec.tick_size * order.side.sign
        key = (order.account, symbol)
        position, _realized = self._positions.get(key, Position()).apply_fill(
            order.side, order.qty, price, spec.point_value
        )
        self._positions[key] = position
        self._fill_seq += 1
        fill = BrokerFill(
            fill_id=f"paper-fill-{self._fill_seq}",
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=symbol,
            side=order.side,
            qty=order.qty,
            price=price,
            time=time,
        )
        self._last_time = time
        return OrderResult(
            client_order_id=order.client_order_id,
            broker_order_id=broker_order_id,
            status=OrderStatus.FILLED,
            filled_qty=order.qty,
            avg_price=price,
            fills=(fill,),
        )

    # -- positions -------------------------------------------------------------

    async def positions(self, account: str) -> list[PositionSnapshot]:
        """One snapshot per contract ``account`` has traded, flat ones
        included, sorted by symbol; unrealized PnL at the symbol's last mark
        (``mark`` ``None`` and unrealized 0 when it has none). Raises
        ``BrokerTemporaryError`` when not connected.
        """
        self._require_connected()
        return [
            self._snapshot(account, symbol, position)
            for (held_by, symbol), position in sorted(self._positions.items())
            if held_by == account
        ]

    def _snapshot(self, account: str, symbol: str, position: Position) -> PositionSnapshot:
        mark = self._marks.get(symbol)
        point_value = self._specs[parse_contract(symbol).root].point_value
        return PositionSnapshot(
            account=account,
            symbol=symbol,
            qty=position.qty,
            avg_price=position.avg_price,
            realized_pnl=position.realized_pnl,
            unrealized_pnl=_ZERO if mark is None else position.unrealized_pnl(mark, point_value),
            mark=mark,
        )

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        """Close ``account``'s open positions (in ``symbol`` only, if given)
        with market orders at each symbol's last mark, slippage applied.

        Orders still in flight fill first, so the closes match the positions
        as they end up. Client order ids are ``paper-flatten-<n>``. A symbol
        without a mark comes back ``REJECTED`` (``NO_PRICE``) and stays open.
        Returns ``[]`` when already flat. Raises ``BrokerTemporaryError`` when
        not connected and ``SymbolError`` for an unreadable ``symbol``.
        """
        self._require_connected()
        wanted = None if symbol is None else parse_contract(symbol).code
        if self._last_task is not None and not self._last_task.done():
            await asyncio.wait([self._last_task])  # fills are FIFO: the last done means all done
        to_close = [
            (held_symbol, position.qty)
            for (held_by, held_symbol), position in sorted(self._positions.items())
            if held_by == account and position.qty != 0 and wanted in (None, held_symbol)
        ]
        results: list[OrderResult] = []
        for held_symbol, qty in to_close:
            self._flatten_seq += 1
            close = OrderRequest(
                account=account,
                client_order_id=f"paper-flatten-{self._flatten_seq}",
                symbol=held_symbol,
                side=Side.of_signed(-qty),
                qty=abs(qty),
                time=time,
            )
            results.append(await self.place_order(close))
        return results

    def position(self, account: str, symbol: str) -> Position:
        """The net position now (flat ``Position()`` if never traded); for
        tests and replays. Raises ``SymbolError`` for an unreadable symbol.
        """
        return self._positions.get((account, parse_contract(symbol).code), Position())

    # -- price feed ------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal, time: datetime) -> None:
        """Record a market price for ``symbol`` (points) at aware ``time``.

        Values unrealized PnL and fills market orders that carry no reference
        price; ``time`` becomes the broker's notion of now. Raises
        ``TypeError`` for a non-``Decimal`` price, ``ValueError`` for a
        non-finite price or a naive time, ``SymbolError`` for an unreadable
        symbol.
        """
        _check_price(price)
        _check_aware(time)
        self._marks[parse_contract(symbol).code] = price
        self._last_time = time

    def last_mark(self, symbol: str) -> Decimal | None:
        """The last price recorded for ``symbol`` by ``mark`` or a leader fill."""
        return self._marks.get(parse_contract(symbol).code)

    # -- leader stream ---------------------------------------------------------

    def publish_leader_fill(self, fill: LeaderFill) -> None:
        """Queue ``fill`` for ``leader_events(fill.account)``.

        The leader traded on this simulated exchange, so the fill is also a
        print: it sets the symbol's mark to ``fill.price`` and the broker's
        notion of now to ``fill.time``. Fills published before anyone
        listens are kept and delivered in order. Raises ``SymbolError`` for an
        unreadable symbol.
        """
        self._marks[parse_contract(fill.symbol).code] = fill.price
        self._last_time = fill.time
        self._queue(fill.account).put_nowait(fill)

    async def leader_events(self, account: str) -> AsyncGenerator[LeaderFill]:
        """Yield the fills published for ``account``, oldest first, until
        ``disconnect``. Raises ``BrokerTemporaryError`` on the first
        iteration when not connected. One consumer per account: two would
        split the events between them.
        """
        self._require_connected()
        session = self._session
        queue = self._queue(account)
        while True:
            item = await queue.get()
            if isinstance(item, _StreamClosed):
                if item.session >= session:
                    return
                continue  # left by an earlier session's disconnect
            yield item

    def _queue(self, account: str) -> asyncio.Queue[LeaderFill | _StreamClosed]:
        queue = self._queues.get(account)
        if queue is None:
            queue = self._queues[account] = asyncio.Queue()
        return queue


def _check_price(price: object) -> None:
    if not isinstance(price, Decimal):
        raise TypeError(f"price must be a Decimal, got {type(price).__name__} {price!r}")
    if not price.is_finite():
        raise ValueError(f"price must be finite, got {price}")


def _check_aware(time: datetime) -> None:
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {time!r}")
