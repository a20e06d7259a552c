"""The paper broker: a simulated exchange in memory, the embedded default.

It works market, limit, stop and stop-limit orders, brackets (an entry with
one-cancels-other stop-loss / take-profit exits), modify and cancel, on a
price feed given by :meth:`PaperBroker.mark` and by published leader fills.
Fills apply to net positions per (account, contract) with
:class:`routing.engine.positions.Position`, valued in dollars with the
contract's point value; the matching rules live in
:mod:`routing.brokers.paper_book`. It never reads the clock: times come from
the orders, the marks and the leader fills it is given.

Reasons are a greppable code plus values, e.g.
``"UNKNOWN_SYMBOL: root='ZZ' symbol='ZZH5' has no contract spec"`` for a
rejection, ``"OCO_CANCEL: c1:tp filled"`` for a cancellation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import uuid
from collections import deque
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
from routing.brokers.paper_book import (
    BookOrder,
    OrderBook,
    bracket_problem,
    entry_price,
    modify_problem,
    order_prices_problem,
)
from routing.engine.positions import Position
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import (
    ContractSpec,
    LeaderFill,
    LeaderOrder,
    LeaderOrderAction,
    Side,
)

_ZERO = Decimal(0)
_BRACKET_EXITS = (("sl", OrderType.STOP), ("tp", OrderType.LIMIT))


@dataclass(frozen=True, slots=True)
class _StreamClosed:
    """Queued by ``disconnect``: ends the streams of that session."""

    session: int


@dataclass(slots=True)
class _Sent:
    """One client order id at the broker: in flight, rejected, or in ``state``."""

    client_order_id: str
    broker_order_id: str
    # Set when the order arrives; None once it has (and for bracket exits,
    # never in flight).
    arrival: asyncio.Future[None] | None = None
    state: BookOrder | None = None
    rejection: OrderResult | None = None

    def current(self) -> OrderResult:
        if self.rejection is not None:
            return self.rejection
        if self.state is not None:
            return self.state.result()
        return OrderResult(  # still in flight (latency)
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            status=OrderStatus.WORKING,
            filled_qty=0,
            avg_price=None,
            fills=(),
        )


@dataclass(frozen=True, slots=True)
class _Accepted:
    """What arrival checks found for an acceptable order."""

    symbol: str
    spec: ContractSpec
    time: datetime
    market_price: Decimal | None  # market orders: the price to fill at, before slippage


class PaperBroker(BrokerAdapter):
    """A simulated exchange implementing :class:`BrokerAdapter` in memory.

    ``specs`` maps a product root (``"MNQ"``) to its :class:`ContractSpec`;
    orders in any other root are rejected.

    **Orders.** With ``latency_seconds`` > 0 each order waits that long
    (``asyncio.sleep``) before it reaches the exchange; orders arrive in the
    order they were sent. A market order fills in full on arrival at
    ``reference_price`` (or, without one, the symbol's last mark) moved
    ``slippage_ticks`` ticks against it: a buy fills higher, a sell lower.
    A limit, stop or stop-limit order is acknowledged ``WORKING`` and then, if
    marketable at the last mark, fills at once (not volume-limited); else it
    rests until :meth:`mark` or :meth:`publish_leader_fill` reaches it
    (:mod:`routing.brokers.paper_book` has the matching rules; stops fill
    with the same slippage). With no mark yet it just rests. Fill times: the
    mark's time for resting fills, else ``OrderRequest.time`` or, when
    ``None``, the time of the last mark, leader fill, order or fill the
    broker saw. Only marks and leader fills move the price: fills do not.

    **Brackets.** An entry with ``stop_loss`` / ``take_profit`` gets, at its
    first fill, a STOP exit ``"<client_order_id>:sl"`` and a LIMIT exit
    ``"<client_order_id>:tp"`` on the opposite side for the filled quantity;
    later entry fills grow them. They are one-cancels-other: a partial exit
    fill shrinks the other exit to the quantity still open, and the first
    exit to complete cancels the other *and the entry's unfilled rest* (the
    trade is over; an entry filling later would be unprotected). Cancelling
    the entry leaves the exits working for what has filled. Exits are
    ordinary orders: query, modify and cancel them by those ids.

    **Refusals** are ``REJECTED`` results (unreadable symbol or unknown root,
    ``qty`` <= 0, a missing, unexpected, non-finite or off-tick price, a
    bracket exit on the wrong side, no price or no time to fill at, and
    :meth:`reject_orders`). Every broker-side call (``place_order``,
    ``query_order``, ``modify_order``, ``cancel_order``, ``positions``,
    ``flatten``, ``leader_events``, ``order_updates``) raises
    ``BrokerTemporaryError`` while not connected, as a real adapter would,
    and records nothing, so the caller may retry the same ``client_order_id``
    once connected. The feed-side helpers (``mark``, ``publish_leader_fill``,
    ``reject_orders``, ``allow_orders``, ``watch_leader``) and the
    synchronous ``position`` work connected or not.

    Order ids are deterministic per instance: ``paper-order-<n>`` (in the
    order orders are sent and bracket exits created). Fill ids are
    ``<fill_id_prefix>-<n>``, the prefix by default ``paper-<12 hex digits>``
    drawn at random (``uuid4``) per instance: the journal keys fills on
    ``(account, broker fill id)`` for good, and a restarted process builds a
    new broker that counts from 1 again, so the ids must differ between
    instances. A random prefix makes them differ without reading anything at
    start (an id seeded from the journal would need the database reachable,
    and two brokers started from the same journal would agree on it); 48
    random bits make a collision between instances negligible. Tests pass a
    fixed ``fill_id_prefix`` for readable ids.
    """

    platform: ClassVar[str] = "paper"
    capabilities: ClassVar[Mapping[str, bool]] = MappingProxyType(
        {
            "market": True,
            "limit": True,
            "stop": True,
            "stop_limit": True,
            "bracket": True,
            "modify": True,
            "cancel": True,
            "partial_fills": True,
            "order_updates": True,
            "flatten": True,
            "stream_leader": True,
            "stream_leader_orders": True,
        }
    )

    def __init__(
        self,
        specs: Mapping[str, ContractSpec],
        *,
        slippage_ticks: int = 0,
        latency_seconds: float = 0.0,
        fill_id_prefix: str | None = None,
    ) -> None:
        """Raise ``ValueError`` for negative slippage, a negative / non-finite
        latency or an empty ``fill_id_prefix`` (``None``: a random one)."""
        if slippage_ticks < 0:
            raise ValueError(f"slippage_ticks must be >= 0, got {slippage_ticks}")
        if not math.isfinite(latency_seconds) or latency_seconds < 0:
            raise ValueError(f"latency_seconds must be finite and >= 0, got {latency_seconds}")
        if fill_id_prefix == "":
            raise ValueError("fill_id_prefix must not be empty")
        self._specs: dict[str, ContractSpec] = dict(specs)
        self.fill_id_prefix = fill_id_prefix or f"paper-{uuid.uuid4().hex[:12]}"
        self._slippage_ticks = slippage_ticks
        self._latency_seconds = latency_seconds

        self._connected = False
        self._session = 0  # bumped on every connect; ends that session's streams on disconnect
        self._orders: dict[tuple[str, str], _Sent] = {}
        self._book = OrderBook()
        # Orders in flight, in the order sent: (due on the loop's clock,
        # request, sent, its arrival), arrived one by one by a single task
        # (_arrivals).
        self._in_flight: deque[tuple[float, OrderRequest, _Sent, asyncio.Future[None]]] = deque()
        self._arriving: asyncio.Task[None] | None = None
        self._order_seq = 0
        self._fill_seq = 0
        self._flatten_seq = 0
        self._positions: dict[tuple[str, str], Position] = {}
        # (venue, contract) -> last price; account -> venue (see assign_venue)
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._venues: dict[str, str] = {}
        self._last_time: datetime | None = None
        self._queues: dict[str, asyncio.Queue[LeaderFill | LeaderOrder | _StreamClosed]] = {}
        self._updates: asyncio.Queue[OrderResult | _StreamClosed] | None = None
        self._reject_rules: dict[tuple[str, str | None], str] = {}
        self._leader_seq: dict[str, int] = {}  # watched account -> last seq published

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
        """End the session: running ``leader_events`` and ``order_updates``
        streams stop after the items already queued. Positions, orders
        (working ones keep working on marks) and queued items are kept for
        the next session. Idempotent.
        """
        if self._connected:
            self._connected = False
            closed = _StreamClosed(self._session)
            for queue in self._queues.values():
                queue.put_nowait(closed)
            if self._updates is not None:
                self._updates.put_nowait(closed)

    def _require_connected(self) -> None:
        if not self._connected:
            raise BrokerTemporaryError("paper broker is not connected: call connect() first")

    # -- orders ----------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` and return its current result once it has arrived.

        ``FILLED`` for a market order (or a marketable limit / stop),
        ``WORKING`` for a resting one, ``REJECTED`` with a reason otherwise.
        A repeat of ``(order.account, order.client_order_id)`` sends nothing
        and returns the order's current result, waiting for it if it is still
        in flight. Cancelling the caller does not cancel a sent order: it
        still arrives and ``query_order`` reports it. Raises
        ``BrokerTemporaryError`` when not connected (nothing is recorded).
        """
        self._require_connected()
        key = (order.account, order.client_order_id)
        sent = self._orders.get(key)
        if sent is None:
            sent = _Sent(order.client_order_id, self._next_broker_order_id())
            self._orders[key] = sent
            self._send(order, sent)
        await self._arrived(sent)
        return sent.current()

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """The order's current result; ``WORKING`` while it waits out the
        latency; ``None`` when it was never sent (bracket exits: never
        created). Raises ``BrokerTemporaryError`` when not connected.
        """
        self._require_connected()
        sent = self._orders.get((account, client_order_id))
        return None if sent is None else sent.current()

    async def modify_order(
        self,
        account: str,
        client_order_id: str,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time: datetime | None = None,
    ) -> OrderResult | None:
        """Change a working order's total ``qty`` (contracts) and/or prices (points).

        Waits for an order still in flight to arrive first. Refused, with the
        order unchanged and the refusal in the returned result's ``reason``
        only (not recorded): ``qty`` not above the filled quantity
        (``MODIFY_QTY_NOT_ABOVE_FILLED``; cancel instead), a price the order
        type does not have (``MODIFY_PRICE_NOT_APPLICABLE``), a new stop on a
        triggered stop (``MODIFY_ALREADY_TRIGGERED``), a bad price
        (``PRICE_INVALID`` / ``PRICE_OFF_TICK``) or one that puts a bracket
        exit on the wrong side. A change of price or a larger ``qty`` sends
        the order to the back of the queue; a new price is checked against
        the last mark at once and may fill (unlimited volume). Arguments
        equal to the current values change nothing. A final order's result
        comes back unchanged; ``None`` when the order was never sent.
        ``time`` (aware UTC) dates the change, default the broker's last
        time. Raises ``BrokerTemporaryError`` when not connected and
        ``ValueError`` for a naive ``time``.
        """
        self._require_connected()
        if time is not None:
            _check_aware(time)
        sent = self._orders.get((account, client_order_id))
        if sent is None:
            return None
        await self._arrived(sent)
        order = sent.state
        if order is None or not order.is_live:
            return sent.current()
        refusal = modify_problem(order, qty, limit_price, stop_price)
        if refusal is not None:
            return dataclasses.replace(order.result(), reason=refusal)
        new_qty = order.qty if qty is None else qty
        new_limit = order.limit_price if limit_price is None else limit_price
        new_stop = order.stop_price if stop_price is None else stop_price
        repriced = (new_limit, new_stop) != (order.limit_price, order.stop_price)
        if not repriced and new_qty == order.qty:
            return order.result()
        since = self._book.horizon
        if repriced or new_qty > order.qty:
            self._book.requeue(order)  # loses time priority, as on an exchange
        order.limit_price, order.stop_price = new_limit, new_stop
        when = self._now(time, order)
        self._resize(order, new_qty, when)
        if repriced:
            self._work(
                order.symbol,
                when,
                venue=self.venue_of(order.account),
                since=since,
                include_resting=False,
                volume=None,
            )
        return order.result()

    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        """Cancel the order's working remainder: ``CANCELLED`` with reason
        ``USER_CANCEL`` and the fills so far. A final order's result comes
        back unchanged (safe to call twice); ``None`` when never sent. Waits
        for an order in flight to arrive first. Cancelling a bracket entry
        leaves its exits working for the filled part. ``time`` as for
        :meth:`modify_order`. Raises ``BrokerTemporaryError`` when not
        connected and ``ValueError`` for a naive ``time``.
        """
        self._require_connected()
        if time is not None:
            _check_aware(time)
        sent = self._orders.get((account, client_order_id))
        if sent is None:
            return None
        await self._arrived(sent)
        order = sent.state
        if order is not None and order.is_live:
            self._cancel(order, "USER_CANCEL: cancelled by request", self._now(time, order))
        return sent.current()

    def reject_orders(
        self, account: str, symbol: str | None = None, reason: str = "refused on demand"
    ) -> None:
        """Refuse ``account``'s new orders from now on: all of them, or those in
        ``symbol``'s product root (``"MNQ"``, or any contract spelling such as
        ``"MNQH5"``). They come back ``REJECTED`` with
        ``"RISK_REJECT: <reason>"``: entries, bracket exits created later and
        flatten's closes alike. Working orders, modifies and cancels are not
        affected. Raises ``SymbolError`` for an unreadable symbol.
        """
        self._reject_rules[(account, self._root_of(symbol))] = reason

    def allow_orders(self, account: str, symbol: str | None = None) -> None:
        """Undo :meth:`reject_orders`: every rule of ``account`` when ``symbol``
        is ``None``, else only the rule for that root (an account-wide rule
        still refuses it). Raises ``SymbolError`` for an unreadable symbol.
        """
        if symbol is None:
            for key in [key for key in self._reject_rules if key[0] == account]:
                del self._reject_rules[key]
        else:
            self._reject_rules.pop((account, self._root_of(symbol)), None)

    def _root_of(self, symbol: str | None) -> str | None:
        if symbol is None:
            return None
        text = symbol.strip().upper()
        return text if text in self._specs else parse_contract(text).root

    def _send(self, order: OrderRequest, sent: _Sent) -> None:
        """Put ``order`` in flight: it arrives ``latency_seconds`` from now,
        after every order sent before it (one queue, one task for all: a
        task, a shield and a wait per order cost the worker more than the
        exchange's own work on a 200-order burst)."""
        loop = asyncio.get_running_loop()
        sent.arrival = arrival = loop.create_future()
        self._in_flight.append((loop.time() + self._latency_seconds, order, sent, arrival))
        if self._arriving is None:
            self._arriving = loop.create_task(self._arrivals())

    async def _arrivals(self) -> None:
        """Arrive the orders in flight in the order sent, each once its
        latency is over, until none is left. An error in one order's
        arrival is its senders' (raised where they wait), not the others'."""
        loop = asyncio.get_running_loop()
        in_flight = self._in_flight
        try:
            while in_flight:
                due, order, sent, arrival = in_flight[0]
                wait = due - loop.time()
                if wait > 0:
                    # Same latency for all: the head is always the next due.
                    await asyncio.sleep(wait)
                    continue
                in_flight.popleft()
                # Arrived: the order's history (state or rejection) stays for
                # queries, its future need not (waiters hold it, shielded).
                sent.arrival = None
                try:
                    self._arrive(order, sent)
                except Exception as exc:  # handed to the order's waiters
                    arrival.set_exception(exc)
                    continue
                arrival.set_result(None)
        finally:
            self._arriving = None

    async def _arrived(self, sent: _Sent) -> None:
        if sent.arrival is not None:
            # shield: the order lives at the "exchange", not in the caller's task
            await asyncio.shield(sent.arrival)

    def _arrive(self, request: OrderRequest, sent: _Sent) -> None:
        """The order reaches the exchange: reject it, fill it or rest it.
        Synchronous: nothing interleaves between the checks and the fills.
        """
        checked = self._check_new(request)
        if isinstance(checked, str):
            sent.rejection = OrderResult.rejected(
                request.client_order_id, checked, broker_order_id=sent.broker_order_id
            )
            self._emit(sent.rejection)
            return
        order = BookOrder(
            account=request.account,
            client_order_id=request.client_order_id,
            broker_order_id=sent.broker_order_id,
            symbol=checked.symbol,
            side=request.side,
            order_type=request.order_type,
            qty=request.qty,
            time=checked.time,
            tick_size=checked.spec.tick_size,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            stop_loss=request.stop_loss,
            take_profit=request.take_profit,
        )
        sent.state = order
        self._last_time = checked.time
        since = self._book.horizon
        if checked.market_price is not None:
            price = checked.market_price + self._slippage(order) * order.side.sign
            self._fill(order, order.qty, price, checked.time)
        else:
            self._rest(order)
        # marketable at once? (and any bracket exits just created)
        self._work(
            order.symbol,
            checked.time,
            venue=self.venue_of(order.account),
            since=since,
            include_resting=False,
            volume=None,
        )

    def _check_new(self, order: OrderRequest) -> _Accepted | str:
        """Why a new order is refused, or what it needs to proceed."""
        if order.qty <= 0:
            return f"QTY_NOT_POSITIVE: qty={order.qty}"
        try:
            contract = parse_contract(order.symbol)
        except SymbolError as exc:
            return f"SYMBOL_UNREADABLE: {exc}"
        spec = self._specs.get(contract.root)
        if spec is None:
            return (
                f"UNKNOWN_SYMBOL: root={contract.root!r} symbol={order.symbol!r} "
                "has no contract spec"
            )
        if refused := self._risk_reject(order.account, contract.root):
            return refused
        symbol = contract.code
        problem = order_prices_problem(
            order.order_type, order.limit_price, order.stop_price, spec.tick_size
        )
        if problem:
            return problem
        market_price = None
        if order.order_type is OrderType.MARKET:
            market_price = order.reference_price
            if market_price is None:
                market_price = self._marks.get((self.venue_of(order.account), symbol))
            if market_price is None:
                return f"NO_PRICE: symbol={symbol} has no reference price and no mark"
            if not isinstance(market_price, Decimal) or not market_price.is_finite():
                return f"PRICE_INVALID: reference_price={market_price!r} is not a finite Decimal"
        time = order.time if order.time is not None else self._last_time
        if time is None:
            return "NO_TIME: order has no time and the broker has seen no mark or fill"
        if order.stop_loss is not None or order.take_profit is not None:
            entry = entry_price(order.order_type, order.limit_price, order.stop_price, market_price)
            assert entry is not None  # order_prices_problem / NO_PRICE checked it
            problem = bracket_problem(
                order.side, entry, order.stop_loss, order.take_profit, spec.tick_size
            )
            if problem:
                return problem
            for role, _ in _BRACKET_EXITS:
                exit_id = f"{order.client_order_id}:{role}"
                if (order.account, exit_id) in self._orders:
                    return f"BRACKET_ID_TAKEN: an order {exit_id!r} already exists"
        return _Accepted(symbol, spec, time, market_price)

    def _risk_reject(self, account: str, root: str) -> str | None:
        reason = self._reject_rules.get((account, root), self._reject_rules.get((account, None)))
        return None if reason is None else f"RISK_REJECT: {reason}"

    # -- matching and fills ------------------------------------------------------

    def _work(
        self,
        symbol: str,
        time: datetime,
        *,
        venue: str,
        since: int,
        include_resting: bool,
        volume: int | None,
    ) -> None:
        """Match ``symbol``'s working orders of accounts in ``venue`` against
        the venue's last mark, in time priority.

        Orders the book received after priority ``since`` are aggressors
        (just placed, repriced, or bracket exits created during this call,
        which are reached too); older ones are worked only when
        ``include_resting``. ``volume`` caps the contracts filled in total
        (``None``: no cap); stops still trigger when it is used up.
        """
        mark = self._marks.get((venue, symbol))
        if mark is None:
            return
        budget = volume
        cursor = 0 if include_resting else since
        while (order := self._book.next_after(symbol, cursor)) is not None:
            cursor = order.priority
            if self.venue_of(order.account) != venue:
                continue
            price = order.match(
                mark, aggressor=order.priority > since, slippage=self._slippage(order)
            )
            if price is None:
                continue
            qty = order.remaining if budget is None else min(order.remaining, budget)
            if qty > 0:
                if budget is not None:
                    budget -= qty
                self._fill(order, qty, price, time)

    def _fill(self, order: BookOrder, qty: int, price: Decimal, time: datetime) -> None:
        """Execute ``qty`` of ``order`` at ``price``: position, fill, events, brackets."""
        key = (order.account, order.symbol)
        point_value = self._specs[parse_contract(order.symbol).root].point_value
        position, _realized = self._positions.get(key, Position()).apply_fill(
            order.side, qty, price, point_value
        )
        self._positions[key] = position
        self._fill_seq += 1
        fill = BrokerFill(
            fill_id=f"{self.fill_id_prefix}-{self._fill_seq}",
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            time=time,
        )
        order.record_fill(fill)
        if not order.is_live:
            self._book.discard(order)
        self._last_time = time
        self._emit(order.result())
        if order.account in self._leader_seq:
            self._publish(order.leader_fill(fill, self._next_leader_seq(order.account)))
        if order.has_bracket:
            self._entry_filled(order, qty, time)
        elif order.parent is not None:
            self._exit_filled(order, time)

    def _slippage(self, order: BookOrder) -> Decimal:
        """Points a market or stop fill moves against ``order``."""
        return self._slippage_ticks * order.tick_size

    # -- brackets ----------------------------------------------------------------

    def _entry_filled(self, entry: BookOrder, qty: int, time: datetime) -> None:
        """Arm the exits at the first fill, grow them by ``qty`` at later ones."""
        if entry.bracket_armed:
            for child in entry.children.values():
                if child.is_live:
                    self._resize(child, child.qty + qty, time)
            return
        entry.bracket_armed = True
        for role, order_type in _BRACKET_EXITS:
            price = entry.stop_loss if role == "sl" else entry.take_profit
            client_order_id = f"{entry.client_order_id}:{role}"
            key = (entry.account, client_order_id)
            if price is None or key in self._orders:
                continue  # the id was checked free on arrival; a later client order took it
            child = BookOrder(
                account=entry.account,
                client_order_id=client_order_id,
                broker_order_id=self._next_broker_order_id(),
                symbol=entry.symbol,
                side=entry.side.opposite,
                order_type=order_type,
                qty=entry.filled_qty,
                time=time,
                tick_size=entry.tick_size,
                limit_price=price if order_type is OrderType.LIMIT else None,
                stop_price=price if order_type is OrderType.STOP else None,
                parent=entry,
            )
            entry.children[role] = child
            self._orders[key] = _Sent(client_order_id, child.broker_order_id, state=child)
            refused = self._risk_reject(entry.account, parse_contract(entry.symbol).root)
            if refused:
                child.end(OrderStatus.REJECTED, refused)
                self._emit(child.result())
            else:
                self._rest(child)  # the caller's _work checks it against the mark

    def _exit_filled(self, child: BookOrder, time: datetime) -> None:
        """One-cancels-other: shrink or cancel the sibling exit, end the trade."""
        entry = child.parent
        assert entry is not None
        siblings = [c for c in entry.children.values() if c is not child and c.is_live]
        if child.status is OrderStatus.FILLED:
            for sibling in siblings:
                self._cancel(sibling, f"OCO_CANCEL: {child.client_order_id} filled", time)
            if entry.is_live:
                self._cancel(
                    entry,
                    f"BRACKET_EXIT: {child.client_order_id} filled; the unfilled entry is "
                    "cancelled",
                    time,
                )
            return
        open_qty = entry.filled_qty - sum(c.filled_qty for c in entry.children.values())
        for sibling in siblings:
            target = sibling.filled_qty + open_qty
            if target <= sibling.filled_qty:
                self._cancel(sibling, f"OCO_CANCEL: {child.client_order_id} filled", time)
            elif target < sibling.qty:
                self._resize(sibling, target, time)

    # -- order state changes -----------------------------------------------------

    def _rest(self, order: BookOrder) -> None:
        """Put a new order in the book and acknowledge it."""
        self._book.add(order)
        self._emit(order.result())
        self._publish_order(order, LeaderOrderAction.NEW, order.time)

    def _resize(self, order: BookOrder, qty: int, time: datetime) -> None:
        """Record a change (new ``qty`` and/or prices already set) and announce it."""
        order.qty = qty
        order.modifications += 1
        self._emit(order.result())
        self._publish_order(order, LeaderOrderAction.MODIFY, time)

    def _cancel(self, order: BookOrder, reason: str, time: datetime) -> None:
        order.end(OrderStatus.CANCELLED, reason)
        self._book.discard(order)
        self._emit(order.result())
        self._publish_order(order, LeaderOrderAction.CANCEL, time)

    def _now(self, time: datetime | None, order: BookOrder) -> datetime:
        if time is not None:
            self._last_time = time
            return time
        return self._last_time if self._last_time is not None else order.time

    def _next_broker_order_id(self) -> str:
        self._order_seq += 1
        return f"paper-order-{self._order_seq}"

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
        mark = self._marks.get((self.venue_of(account), symbol))
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
        """Cancel ``account``'s working orders, then close its open positions
        (in ``symbol`` only, if given) with market orders at each symbol's
        last mark, slippage applied.

        Orders still in flight arrive first, so the cancels and closes match
        the book as it ends up. Cancels (bracket exits included) carry reason
        ``FLATTEN_CANCEL`` and show in ``order_updates`` and ``query_order``,
        not in the returned list, which holds one result per close sent
        (``[]`` when already flat). Close client order ids are
        ``paper-flatten-<n>``. A symbol without a mark comes back
        ``REJECTED`` (``NO_PRICE``) and stays open; so does one refused by
        :meth:`reject_orders`. Raises ``BrokerTemporaryError`` when not
        connected and ``SymbolError`` for an unreadable ``symbol``.
        """
        self._require_connected()
        wanted = None if symbol is None else parse_contract(symbol).code
        if self._in_flight:
            # Arrivals are FIFO: the last one sent arrived means all have.
            await self._arrived(self._in_flight[-1][2])
        for order in self._book.working(account=account, symbol=wanted):
            if order.is_live:
                reason = f"FLATTEN_CANCEL: flatten of {wanted or 'every symbol'}"
                self._cancel(order, reason, self._now(time, order))
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

    def restore_position(self, account: str, symbol: str, position: Position) -> None:
        """Seed ``account``'s net position in ``symbol`` when this simulated
        exchange starts: the paper exchange lives in the web or worker process,
        and its book is the journal's positions, so a restart resumes it there
        instead of reporting every follower flat. Raises ``SymbolError`` for
        an unreadable symbol and ``ValueError`` for an account that already
        traded here (restoring is for a fresh broker only).
        """
        key = (account, parse_contract(symbol).code)
        if key in self._positions:
            raise ValueError(f"{account} already holds {key[1]} here: restore only a fresh broker")
        self._positions[key] = position

    # -- price feed ------------------------------------------------------------

    def assign_venue(self, account: str, venue: str) -> None:
        """Price ``account``'s positions and orders on ``venue``'s marks only.

        A venue is one price stream per contract inside this exchange: a
        mark or a leader fill moves the prices of one venue, and only the
        accounts assigned to it are valued, filled at market without a
        reference price, or matched against that price. The engine worker
        gives each leader's routes a venue of their own, so a replay or a
        user's own fills never move the price at which anyone else's
        positions are marked, halted or flattened (issue 10, defect 2).
        Accounts never assigned share the venue ``""``. Reassigning is
        allowed at any time: positions and orders stay with the account,
        only the prices it sees change.
        """
        if venue:
            self._venues[account] = venue
        else:
            self._venues.pop(account, None)

    def venue_of(self, account: str) -> str:
        """The venue whose prices ``account`` sees (``""``: the shared one)."""
        return self._venues.get(account, "")

    def mark(
        self,
        symbol: str,
        price: Decimal,
        time: datetime,
        volume: int | None = None,
        *,
        venue: str = "",
    ) -> None:
        """Record a trade print for ``symbol`` at ``price`` points and aware
        ``time`` on ``venue`` (see :meth:`assign_venue`), and work the
        symbol's resting orders of that venue's accounts against it.

        Values unrealized PnL, fills market orders that carry no reference
        price, and becomes the broker's notion of now. Working orders are
        matched in time priority (see :mod:`routing.brokers.paper_book`),
        filling at ``time``; ``volume`` caps the contracts filled at this
        print across all orders, first come first served (the rest keeps
        working, ``PARTIALLY_FILLED``); ``None`` means no cap. Raises
        ``TypeError`` for a non-``Decimal`` price or a non-``int`` volume,
        ``ValueError`` for a non-finite price, a negative volume or a naive
        time, ``SymbolError`` for an unreadable symbol.
        """
        _check_price(price)
        _check_aware(time)
        if volume is not None:
            if not isinstance(volume, int) or isinstance(volume, bool):
                raise TypeError(f"volume must be an int, got {type(volume).__name__} {volume!r}")
            if volume < 0:
                raise ValueError(f"volume must be >= 0, got {volume}")
        code = parse_contract(symbol).code
        self._marks[(venue, code)] = price
        self._last_time = time
        self._work(
            code, time, venue=venue, since=self._book.horizon, include_resting=True, volume=volume
        )

    def last_mark(self, symbol: str, *, venue: str = "") -> Decimal | None:
        """The last price recorded for ``symbol`` on ``venue`` by ``mark`` or
        a leader fill."""
        return self._marks.get((venue, parse_contract(symbol).code))

    # -- streams -----------------------------------------------------------------

    def publish_leader_fill(self, fill: LeaderFill) -> None:
        """Queue ``fill`` for ``leader_events(fill.account)`` as given (replays).

        The leader traded on this simulated exchange, so the fill is also a
        print on the leader's venue (:meth:`venue_of`): it sets the symbol's
        mark there to ``fill.price`` and the broker's notion of now to
        ``fill.time``, then works the symbol's resting orders of that venue
        like :meth:`mark` with no volume cap. Fills published before anyone
        listens are kept and delivered in order. Raises ``SymbolError`` for
        an unreadable symbol.
        """
        code = parse_contract(fill.symbol).code
        venue = self.venue_of(fill.account)
        self._marks[(venue, code)] = fill.price
        self._last_time = fill.time
        self._queue(fill.account).put_nowait(fill)
        self._work(
            code,
            fill.time,
            venue=venue,
            since=self._book.horizon,
            include_resting=True,
            volume=None,
        )

    def watch_leader(self, account: str) -> None:
        """Publish ``account``'s own trading on ``leader_events(account)``. Idempotent.

        From now on every fill of an order placed on ``account`` is published
        as a ``LeaderFill`` (``event_id`` the fill id, ``order_id`` the client
        order id), and every acknowledgement, change and cancel of its
        limit / stop / stop-limit orders (bracket exits included, with
        ``parent_order_id`` the entry's) as a
        ``LeaderOrder`` (``event_id`` ``"<order_id>:new"``,
        ``"<order_id>:modify:<n>"``, ``"<order_id>:cancel"``; ``qty`` the
        order's total after the change, ``time`` the change's). A limit
        marketable at once is published NEW, then its fill. ``seq`` counts
        these events per account from 1; fills given to
        :meth:`publish_leader_fill` keep their own ``seq``.
        """
        self._leader_seq.setdefault(account, 0)

    async def leader_events(self, account: str) -> AsyncGenerator[LeaderFill | LeaderOrder]:
        """Yield ``account``'s published fills and (see :meth:`watch_leader`)
        order events, oldest first, until ``disconnect``. Raises
        ``BrokerTemporaryError`` on the first iteration when not connected.
        One consumer per account: two would split the events between them.
        """
        self._require_connected()
        async for event in _until_closed(self._queue(account), self._session):
            yield event

    def order_updates(self) -> AsyncGenerator[OrderResult]:
        """Yield the new result of every order change on any account, in order.

        One item per change: arrival (``WORKING``, ``REJECTED``, or
        ``FILLED`` for a market order, so the result ``place_order`` returns
        is yielded too), each fill, each modify or bracket resize, each
        cancel, and each bracket exit created; stop triggers are not changes.
        Changes are buffered from this call on (nothing is kept before the
        first call, so a broker nobody listens to does not grow) and across
        reconnects; the stream ends at ``disconnect``. Raises
        ``BrokerTemporaryError`` on the first iteration when not connected.
        One consumer.
        """
        if self._updates is None:
            self._updates = asyncio.Queue()
        return self._order_update_stream(self._updates)

    async def _order_update_stream(
        self, queue: asyncio.Queue[OrderResult | _StreamClosed]
    ) -> AsyncGenerator[OrderResult]:
        self._require_connected()
        async for result in _until_closed(queue, self._session):
            yield result

    def _emit(self, result: OrderResult) -> None:
        if self._updates is not None:
            self._updates.put_nowait(result)

    def _publish_order(self, order: BookOrder, action: LeaderOrderAction, time: datetime) -> None:
        if order.account not in self._leader_seq:
            return
        self._publish(order.leader_order(action, time, self._next_leader_seq(order.account)))

    def _publish(self, event: LeaderFill | LeaderOrder) -> None:
        self._queue(event.account).put_nowait(event)

    def _next_leader_seq(self, account: str) -> int:
        self._leader_seq[account] += 1
        return self._leader_seq[account]

    def _queue(self, account: str) -> asyncio.Queue[LeaderFill | LeaderOrder | _StreamClosed]:
        queue = self._queues.get(account)
        if queue is None:
            queue = self._queues[account] = asyncio.Queue()
        return queue


async def _until_closed[T](
    queue: asyncio.Queue[T | _StreamClosed], session: int
) -> AsyncGenerator[T]:
    """Yield ``queue``'s items until the close marker of ``session`` (or later)."""
    while True:
        item = await queue.get()
        if isinstance(item, _StreamClosed):
            if item.session >= session:
                return
            continue  # left by an earlier session's disconnect
        yield item


def _check_price(price: object) -> None:
    if not isinstance(price, Decimal):
        raise TypeError(f"price must be a Decimal, got {type(price).__name__} {price!r}")
    if not price.is_finite():
        raise ValueError(f"price must be finite, got {price}")


def _check_aware(time: datetime) -> None:
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {time!r}")
