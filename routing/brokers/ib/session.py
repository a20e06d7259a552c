"""One IB login: one TWS / IB Gateway API connection, kept open with backoff.

A login is a socket to a gateway (``host``, ``port``) under a fixed API
``client_id``: the gateway shows a client its own open orders again after a
reconnect (TWS API "Open Orders": orders are bound to the client id that
placed them), so a restarted adapter finds its orders by ``orderRef``.
Every connection attempt uses a fresh ``ib_async.IB``: ib_async clears its
order book on a disconnect, and a fresh instance is rebuilt from the
gateway's own answers at connect time (open orders, completed orders,
executions), which are the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ib_async import IB, Fill, Position, Trade
from ib_async.ib import StartupFetch

from routing.brokers.budget import Priority, RequestBudget
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.ib.address import LoginCredentialsError, login_address
from routing.brokers.ib.translate import is_acknowledged
from routing.brokers.logins import ConnectionState, LoginConfig, LoginState

logger = logging.getLogger(__name__)

# Seconds between reconnection attempts, the last repeated.
RECONNECT_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# TWS API message code 326: "Unable to connect as the client id is already
# in use" (interactivebrokers.github.io/tws-api/message_codes.html).
CLIENT_ID_IN_USE = 326
_STARTUP = (
    StartupFetch.POSITIONS
    | StartupFetch.ORDERS_OPEN
    | StartupFetch.ORDERS_COMPLETE
    | StartupFetch.EXECUTIONS
)


class IBLogin:
    """One login's connection, state and ib_async session.

    The state's ``detail`` never names the host, port or client id (they are
    the login's credentials). ``on_connected(login)`` runs after every
    successful (re)connect,
    ``on_trade(trade)`` on every order change and ``on_fill(fill)`` on every
    live execution, all on the event loop. ``delays`` are the reconnect
    backoff in seconds; ``timeout`` bounds one connection attempt and its
    start-up requests.
    """

    def __init__(
        self,
        config: LoginConfig,
        *,
        budget: RequestBudget,
        on_connected: Callable[[IBLogin], None],
        on_trade: Callable[[Trade], None],
        on_fill: Callable[[Fill], None],
        delays: Sequence[float] = RECONNECT_DELAYS,
        timeout: float = 4.0,
    ) -> None:
        self.config = config
        self.budget = budget
        self._on_connected = on_connected
        self._on_trade = on_trade
        self._on_fill = on_fill
        self._delays = tuple(delays)
        self._timeout = timeout
        self.ib: IB | None = None
        self.generation = 0  # +1 per connection made: a trade of an older one is stale
        self.managed: tuple[str, ...] = ()
        # (account, client order id) sent without a final answer: looked up
        # at the gateway by orderRef before anything is sent again.
        self.uncertain: set[tuple[str, str]] = set()
        self.cancel_requested: set[tuple[str, str]] = set()
        self._changed = asyncio.Event()
        # ib_async queues requests beyond 45 a second (its Client.MaxRequests,
        # under IB's 50 messages per second); time spent queued does not
        # count against an answer's timeout.
        self._throttled = False
        self._throttle_ended = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_began = float("-inf")
        self._positions_lock = asyncio.Lock()
        self._set_state(ConnectionState.CONNECTING, "")

    # -- state --

    def _set_state(self, state: ConnectionState, detail: str) -> None:
        self.state = LoginState(
            login_id=self.config.login_id,
            state=state,
            since=datetime.now(UTC),
            detail=detail,
        )
        self._notify()

    def login_state(self) -> LoginState:
        """The current state with the budget's figures."""
        used, limit = self.budget.used()
        s = self.state
        return LoginState(s.login_id, s.state, s.since, s.detail, used, limit)

    @property
    def is_connected(self) -> bool:
        return (
            self.state.state is ConnectionState.CONNECTED
            and self.ib is not None
            and self.ib.isConnected()
        )

    def require(self) -> IB:
        """The connected session; raises ``BrokerTemporaryError`` while down."""
        if not self.is_connected or self.ib is None:
            raise BrokerTemporaryError(
                f"IB login {self.config.login_id} is {self.state.state.value}: "
                f"{self.state.detail or 'not connected'}"
            )
        return self.ib

    # -- lifecycle --

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background. Idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"ib-login-{self.config.login_id}"
            )

    async def stop(self) -> None:
        """Close the connection and stop reconnecting. Idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._close()
        self._set_state(ConnectionState.DOWN, "stopped")

    def _close(self) -> None:
        ib, self.ib = self.ib, None
        if ib is not None:
            # ib_async's disconnect is a no-op on a closed socket; it raises
            # ConnectionError for a socket still mid-handshake (no stats yet).
            with contextlib.suppress(ConnectionError):
                ib.disconnect()

    async def wait_connected(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for CONNECTED (or FAILED); True if connected."""
        with contextlib.suppress(TimeoutError):
            await self.wait_until(
                lambda: self.state.state in (ConnectionState.CONNECTED, ConnectionState.FAILED),
                seconds,
                generation=None,
            )
        return self.is_connected

    async def _run(self) -> None:
        try:
            host, port, client_id = login_address(self.config)
        except LoginCredentialsError as exc:
            self._set_state(ConnectionState.FAILED, str(exc))
            return
        attempt = 0
        while True:
            lost = asyncio.Event()
            try:
                detail = await self._connect_once(host, port, client_id, lost)
            except Exception as exc:  # supervisor: an SDK surprise must not end reconnecting
                logger.exception("IB login %s: connection attempt failed", self.config.login_id)
                self._close()
                detail = f"connection attempt failed ({exc.__class__.__name__}); retrying"
            if detail is None:
                attempt = 0
                await lost.wait()
                self._close()
                detail = "connection to the IB gateway lost; reconnecting"
            elif self.state.state is ConnectionState.FAILED:
                return
            self._set_state(ConnectionState.DOWN, detail)
            await asyncio.sleep(self._delays[min(attempt, len(self._delays) - 1)])
            attempt += 1

    async def _connect_once(
        self, host: str, port: int, client_id: int, lost: asyncio.Event
    ) -> str | None:
        """One attempt; ``None`` when connected, else the reason (state set
        FAILED for a client id in use, which only the trader can fix)."""
        # A login that was down stays DOWN (with its reason) while it retries.
        ib = IB()
        errors: list[tuple[int, str]] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append((code, text))
        # The gateway answers a client id in use with error 326 and closes
        # the socket before the API starts; ib_async would only notice at its
        # timeout, so the attempt also ends when the socket closes early.
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def socket_closed(msg: str) -> None:
            if not closed.done():
                closed.set_result(msg)

        ib.client.apiError += socket_closed
        try:
            await self.budget.spend(Priority.QUERY, cost=5)  # handshake + start-up requests
            attempt = asyncio.ensure_future(
                ib.connectAsync(
                    host, port, clientId=client_id, timeout=self._timeout, fetchFields=_STARTUP
                )
            )
            await asyncio.wait({attempt, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await attempt
                raise ConnectionError(closed.result())
            attempt.result()
        except (OSError, TimeoutError, ConnectionError) as exc:
            with contextlib.suppress(ConnectionError):
                ib.disconnect()
            if any(code == CLIENT_ID_IN_USE for code, _ in errors):
                self._set_state(
                    ConnectionState.FAILED,
                    "the IB gateway refused this login's client id: already in use by "
                    "another API connection; give this login its own client id",
                )
                return "client id in use"
            if isinstance(exc, ConnectionRefusedError):
                return "the IB gateway refused the connection (is its API port open?)"
            if isinstance(exc, TimeoutError):
                return "the IB gateway did not complete the API start in time"
            return f"cannot reach the IB gateway ({exc.__class__.__name__})"
        self.ib = ib
        self.generation += 1
        self.managed = tuple(ib.managedAccounts())

        def connection_lost() -> None:
            lost.set()
            self._notify()

        ib.disconnectedEvent += connection_lost
        ib.orderStatusEvent += self._trade_changed
        ib.openOrderEvent += self._trade_changed
        ib.execDetailsEvent += self._fill_arrived
        ib.commissionReportEvent += lambda trade, fill, report: self._trade_changed(trade)
        ib.errorEvent += lambda req_id, code, text, contract: self._notify()
        ib.client.throttleStart += self._throttle_started
        ib.client.throttleEnd += self._throttle_stopped
        missing = sorted(set(self.config.accounts) - set(self.managed))
        self._set_state(
            ConnectionState.CONNECTED,
            f"accounts not managed by this gateway: {', '.join(missing)}" if missing else "",
        )
        self._on_connected(self)
        return None

    # -- events --

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _throttle_started(self) -> None:
        self._throttled = True

    def _throttle_stopped(self) -> None:
        self._throttled = False
        self._throttle_ended = asyncio.get_running_loop().time()
        self._notify()

    def _trade_changed(self, trade: Trade) -> None:
        self._notify()
        self._on_trade(trade)

    def _fill_arrived(self, trade: Trade, fill: Fill) -> None:
        self._notify()
        self._on_fill(fill)
        self._on_trade(trade)

    async def wait_until(
        self, done: Callable[[], bool], seconds: float, *, generation: int | None
    ) -> None:
        """Wait until ``done()`` holds, re-checked on every gateway message.

        Raises ``TimeoutError`` after ``seconds`` and ``BrokerTemporaryError``
        when the connection ``generation`` was lost meanwhile (ib_async then
        drops the trades it held: the outcome must be looked up again).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            if generation is not None and (generation != self.generation or not self.is_connected):
                raise BrokerTemporaryError(
                    f"IB login {self.config.login_id}: connection lost while waiting "
                    "for the gateway's answer; outcome unknown"
                )
            if self._throttled:
                deadline = max(deadline, loop.time() + seconds)
            deadline = max(deadline, self._throttle_ended + seconds)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # -- look-ups by orderRef --

    def find(self, account: str, client_order_id: str) -> Trade | None:
        """The session's trade with ``orderRef`` == ``client_order_id`` in
        ``account`` that the gateway has answered for (a trade ib_async made
        when sending, never acknowledged, proves nothing and is ignored).
        When the gateway lists an order twice (open and completed), the one
        under this client's order id wins: it can be modified or cancelled."""
        if self.ib is None:
            return None
        found = None
        for trade in self.ib.wrapper.trades.values():
            order = trade.order
            if (
                order.orderRef == client_order_id
                and order.account == account
                and is_acknowledged(trade)
                and (found is None or order.orderId)
            ):
                found = trade
        return found

    async def refresh(self) -> None:
        """Re-read open orders, completed orders and executions from the
        gateway (3 requests), so :meth:`find` sees every order it knows.

        Concurrent callers share one read (ib_async answers
        ``reqOpenOrders`` / ``reqCompletedOrders`` through one pending
        request each, so two at once would strand the first); a caller joins
        a read already under way only if it began after the caller asked,
        else it waits for it and starts the next. Raises
        ``BrokerTemporaryError`` when the gateway does not answer.
        """
        loop = asyncio.get_running_loop()
        asked = loop.time()
        while True:
            task = self._refresh_task
            if task is None or task.done():
                self._refresh_began = loop.time()
                task = self._refresh_task = loop.create_task(self._refresh_once())
                await asyncio.shield(task)
                return
            began = self._refresh_began
            await asyncio.shield(task)
            if began >= asked:
                return

    async def _refresh_once(self) -> None:
        ib = self.require()
        await self.budget.spend(Priority.QUERY, cost=3)
        try:
            await asyncio.wait_for(ib.reqOpenOrdersAsync(), self._timeout)
            await asyncio.wait_for(ib.reqCompletedOrdersAsync(apiOnly=False), self._timeout)
            await asyncio.wait_for(ib.reqExecutionsAsync(), self._timeout)
        except (TimeoutError, ConnectionError) as exc:
            raise BrokerTemporaryError(
                f"IB login {self.config.login_id}: order look-up at the gateway failed"
            ) from exc

    async def positions(self) -> list[Position]:
        """Every position the gateway reports on this login (one request at a
        time: ib_async answers ``reqPositions`` through one pending request).
        Raises ``BrokerTemporaryError`` when down or unanswered."""
        async with self._positions_lock:
            ib = self.require()
            await self.budget.spend(Priority.QUERY)
            try:
                return await asyncio.wait_for(ib.reqPositionsAsync(), self._timeout)
            except (TimeoutError, ConnectionError) as exc:
                raise BrokerTemporaryError(
                    f"IB login {self.config.login_id}: positions not answered"
                ) from exc
