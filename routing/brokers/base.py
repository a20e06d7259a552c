"""The broker adapter interface and the values that cross it.

One async interface for every platform (paper, projectx, rithmic, tradovate,
ib...). The engine worker talks only to :class:`BrokerAdapter`; each adapter
translates its platform's API into these value types and its errors into
:mod:`routing.brokers.errors`.

Units, as everywhere in Copytrade: prices are ``Decimal`` price points, money
is ``Decimal`` in the account currency, quantities are positive ``int``
contracts with the direction in :class:`~routing.engine.types.Side`, symbols
are normalised contract codes (``"MNQH5"``, :mod:`routing.engine.symbols`),
times are timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import ClassVar, Self

from routing.engine.types import LeaderFill, LeaderOrder, OrderType, Side


class OrderStatus(StrEnum):
    """Where an order stands at the broker."""

    FILLED = "filled"  # completely filled: final
    REJECTED = "rejected"  # refused by the broker, ``reason`` says why: final
    WORKING = "working"  # accepted, nothing filled yet
    PARTIALLY_FILLED = "partially_filled"  # some filled, the rest still working
    CANCELLED = "cancelled"  # cancelled, possibly after partial fills: final


FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
)


def _require_aware(kind: str, name: str, time: datetime | None) -> None:
    # The words are put together only for a naive time: this runs for every
    # order and fill of the copy path.
    if time is not None and (time.tzinfo is None or time.utcoffset() is None):
        raise ValueError(f"{kind} {name}: time must be timezone-aware, got {time!r}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order to send to one account.

    ``client_order_id`` is the idempotency key (deterministic, from the copy
    order); ``qty`` contracts (adapters reject ``qty`` <= 0 with a REJECTED
    result rather than raising, so a bad size is journaled like any refusal).
    ``reference_price`` is the price the order is expected to fill near, in
    price points (the leader's fill price); the paper broker fills market
    orders there. ``time`` is the aware UTC time the order is sent; ``None``
    lets the adapter use its own notion of now. Raises ``ValueError`` for a
    naive ``time``.

    Prices in points for the other order types: ``limit_price`` for LIMIT and
    STOP_LIMIT, ``stop_price`` for STOP and STOP_LIMIT. ``stop_loss`` and
    ``take_profit`` make the order a bracket entry (any type, market
    included): once it fills, the adapter works an opposite-side STOP at
    ``stop_loss`` and LIMIT at ``take_profit`` for the filled quantity,
    one-cancels-other. Adapters check these fields, not this class: a missing
    or misplaced price comes back as a REJECTED result, never an exception.
    ``closing`` says the order only reduces or closes the account's
    position (the copy's intent is an exit): adapters send it ahead of
    entries when their login's request budget is short
    (:class:`routing.brokers.budget.Priority`).
    """

    account: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType = OrderType.MARKET
    reference_price: Decimal | None = None
    time: datetime | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    closing: bool = False

    def __post_init__(self) -> None:
        _require_aware("order", self.client_order_id, self.time)


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution of an order: ``qty`` > 0 contracts at ``price`` points.

    ``fill_id`` is the broker's trade id, unique per adapter instance and
    stable across re-reads, so it keys fill de-duplication. Raises
    ``ValueError`` for a naive ``time``.
    """

    fill_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    time: datetime

    def __post_init__(self) -> None:
        _require_aware("fill", self.fill_id, self.time)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The broker's view of one order.

    ``broker_order_id`` is ``None`` when the broker never assigned one.
    ``filled_qty`` contracts filled so far, ``avg_price`` their
    quantity-weighted average price (``None`` when nothing filled), ``fills``
    every execution in order. ``reason`` is set for REJECTED and CANCELLED.
    """

    client_order_id: str
    broker_order_id: str | None
    status: OrderStatus
    filled_qty: int
    avg_price: Decimal | None
    fills: tuple[BrokerFill, ...]
    reason: str = ""

    @property
    def is_final(self) -> bool:
        """True when the order can no longer change (filled, rejected, cancelled)."""
        return self.status in FINAL_STATUSES

    @classmethod
    def rejected(
        cls, client_order_id: str, reason: str, *, broker_order_id: str | None = None
    ) -> OrderResult:
        """A REJECTED result with nothing filled and ``reason`` saying why."""
        return cls(
            client_order_id=client_order_id,
            broker_order_id=broker_order_id,
            status=OrderStatus.REJECTED,
            filled_qty=0,
            avg_price=None,
            fills=(),
            reason=reason,
        )


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One account's net position in one contract, as the broker reports it.

    ``qty`` signed contracts (+long, -short), ``avg_price`` average entry in
    points (0 when flat), ``realized_pnl`` and ``unrealized_pnl`` in dollars.
    ``mark`` is the price the unrealized figure was valued at; ``None`` means
    the adapter had no price, ``unrealized_pnl`` is then reported as 0 and must
    be treated as unknown (fail closed in loss checks).
    """

    account: str
    symbol: str
    qty: int
    avg_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    mark: Decimal | None


class BrokerAdapter(abc.ABC):
    """One connection to one broker platform, possibly serving many accounts.

    Subclasses set ``platform`` (the broker account's platform code, e.g.
    ``"paper"``) and ``capabilities`` (feature name -> supported, e.g.
    ``{"market": True, "limit": False, "stream_leader": True}``); callers
    check a capability before relying on it. Names in use: ``market``,
    ``limit``, ``stop``, ``stop_limit``, ``bracket``, ``modify``, ``cancel``,
    ``partial_fills``, ``order_updates``, ``flatten``, ``stream_leader``,
    ``stream_leader_orders``.

    Every method may raise :class:`~routing.brokers.errors.BrokerTemporaryError`
    (retry with backoff) or :class:`~routing.brokers.errors.BrokerFatal`
    (stop using this adapter); nothing else escapes an adapter: vendor errors
    are translated with ``raise ... from exc``. Usable as an async context
    manager: ``async with adapter:`` connects and disconnects.
    """

    platform: ClassVar[str]
    capabilities: ClassVar[Mapping[str, bool]]

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while the session is open; the engine worker reconnects an
        adapter that reports False, then recovers and reconciles."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the session (log in, open sockets). Idempotent when already connected.

        Raises ``BrokerFatal`` for bad credentials, ``BrokerTemporaryError``
        when the platform cannot be reached.
        """

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Close the session and end every ``leader_events`` stream. Idempotent.

        Orders already sent stay at the broker; never raises for an already
        closed session.
        """

    @abc.abstractmethod
    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` and return the broker's result.

        Idempotent per ``(order.account, order.client_order_id)``: a repeat
        returns the first result (current state) and sends nothing, whatever
        the repeat's other fields say. A refusal (unknown symbol, bad size,
        unsupported type, risk check at the broker) is returned as status
        ``REJECTED`` with ``reason``, never raised. A market order returns
        ``FILLED`` or ``PARTIALLY_FILLED`` / ``WORKING`` when the platform
        acknowledges before filling; a limit / stop / stop-limit order returns
        ``WORKING`` while it rests, or its fills when it was marketable at once.

        Raises ``BrokerTemporaryError`` when the outcome is unknown (timeout,
        not connected): call :meth:`query_order` before resending.
        """

    @abc.abstractmethod
    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """The broker's current result for an order, or ``None`` if it never saw it.

        The recovery path after a crash or a ``BrokerTemporaryError``: an
        order is resent only when this returns ``None``; never resend blind.
        """

    @abc.abstractmethod
    async def positions(self, account: str) -> list[PositionSnapshot]:
        """Every position the broker holds for ``account``, sorted by symbol.

        May include flat contracts (``qty`` 0) traded in the session, so their
        realized PnL is visible. Used by reconciliation and loss limits.
        """

    @abc.abstractmethod
    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        """Close ``account``'s open positions at market: one in ``symbol``, or all.

        The account's working orders in those symbols are cancelled first, so
        a resting order cannot reopen a flattened position. Returns one
        result per closing order sent (empty when already flat); a refused
        close comes back as ``REJECTED``, so the caller sees which positions
        are still open. ``time`` is the aware UTC time the closes
        are sent (``None``: the adapter's own notion of now).
        """

    @abc.abstractmethod
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
        """Change a working order's total ``qty`` (contracts) or its prices (points).

        ``None`` arguments are left as they are; ``time`` is the aware UTC time
        of the request (``None``: the adapter's own notion of now). Returns the
        order's result after the change, which may already carry fills when
        the new price is marketable. A refused change (``qty`` not above what
        has filled, a price the order type does not have, a stop that has
        already triggered) returns the unchanged order's result with
        ``reason`` saying why; the order keeps working. A final order's result
        is returned unchanged, so calling twice is safe. ``None`` when the
        broker never saw the order. Raises ``BrokerTemporaryError`` when the
        outcome is unknown.
        """

    @abc.abstractmethod
    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        """Cancel the working remainder of an order.

        Returns ``CANCELLED`` with the fills so far (``filled_qty``,
        ``avg_price``), or the final result unchanged when the order had
        already filled, been rejected or been cancelled (calling twice is
        safe). ``None`` when the broker never saw the order. ``time`` as for
        :meth:`modify_order`. Raises ``BrokerTemporaryError`` when the
        outcome is unknown.
        """

    @abc.abstractmethod
    def order_updates(self) -> AsyncIterator[OrderResult]:
        """Stream every change to any order of any account, in the order it happened.

        Each item is the order's full new :class:`OrderResult` (acknowledged,
        filled or partly filled, modified, cancelled, rejected). Errors
        surface when iterated; the stream ends when the adapter disconnects.
        ``OrderResult`` carries no account: tell accounts apart by
        ``client_order_id`` (unique per copy order) or the fills' ``account``.
        One consumer.
        """

    @abc.abstractmethod
    def leader_events(self, account: str) -> AsyncIterator[LeaderFill | LeaderOrder]:
        """Stream ``account``'s fills and working-order events, in broker order.

        A :class:`~routing.engine.types.LeaderFill` for every execution; a
        :class:`~routing.engine.types.LeaderOrder` when the leader places,
        modifies or cancels a working (non-market) order, on adapters that
        report them (capability ``"stream_leader_orders"``). Implemented as an
        async generator; errors surface when iterated. Events may be
        re-delivered after a reconnect: consumers de-duplicate on
        ``event_id``. The stream ends when the adapter disconnects. One
        consumer per account.
        """

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()
