"""The ProjectX Gateway adapter (TopstepX and the other ProjectX prop firms).

A :class:`~routing.brokers.logins.LoginAdapter`: each login (username + API
key) is one :class:`~routing.brokers.projectx.session.LoginSession` (one
auth, one user hub connection) serving many accounts; requests go to the
login holding the request's account (``BrokerAccount.external_id`` = the
ProjectX account id). Orders go through the project-x-py SDK's REST layer
(``_make_request``, the call its ``OrderManager.place_order`` makes too):
the order manager would add instrument look-ups for tick alignment
(``get_instrument``: requests outside the login's budget), its event bus and
statistics; the prices Copytrade sends are the leader's own, already on the
tick. See
:mod:`~routing.brokers.projectx.session` for the layers used and why.

Idempotency (ProjectX docs: ``customTag`` is unique per account): every
order carries ``customTag`` = the client order id. An order call whose
outcome is unknown (the SDK's ``OrderSubmissionUncertainError``) raises
``BrokerTemporaryError`` and marks the id uncertain; the next
``place_order`` for it looks the order up by ``customTag`` first and sends
only when ProjectX has no such order. A refused placement is looked up the
same way, so a repeat after a restart returns the first order.

Building it in the engine worker: ``ProjectXAdapter(logins, budgets=...)``
with one :class:`~routing.brokers.logins.LoginConfig` per stored ProjectX
login (``platform="projectx"``, ``credentials={"username", "api_key"}``
decrypted, ``accounts`` = the ProjectX account ids of that login's broker
accounts, ``endpoint`` ``None`` for TopstepX or the firm's Gateway base
URL: REST at ``<endpoint>/api``, the user hub at ``<endpoint>/hubs/user``),
registered as ``AdapterRegistry({..., "projectx": adapter})``. ProjectX serves
demo (practice, evaluation) and funded accounts on one Gateway, so
``environment`` changes nothing here: the firm's ``endpoint`` does. Later
login changes go through :meth:`set_logins`. A ProjectX leader's fills come from
``leader_events(external_id)`` like the paper leader's.

Market data (``watch_prices`` / ``last_price``, for layer-2 risk): the
Gateway's market hub at ``<endpoint>/hubs/market``, one connection over any
connected login (:mod:`~routing.brokers.projectx.market`).

Not mirrored: a leader's working orders (``stream_leader_orders`` is off).
ProjectX order events carry no link from a bracket's stop and target to
their entry, so a leg could not be told from a standalone order and its
mirror would exit followers twice; followers copy the legs' fills instead.

Every request spends from its login's budget first: flatten and its
cancels at ``FLATTEN``, cancels and orders that reduce the known position
at ``EXIT``, other orders at ``ENTRY``, modifications at ``MODIFY`` keyed
by the client order id (a superseded modify sends nothing), reads at
``QUERY``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from routing.brokers.base import OrderRequest, OrderResult, PositionSnapshot
from routing.brokers.budget import Priority, RequestBudget, Unlimited
from routing.brokers.errors import BrokerFatal, BrokerRejected, BrokerTemporaryError
from routing.brokers.logins import (
    LOGIN_ADAPTER_CAPABILITIES,
    ConnectionState,
    LoginAdapter,
    LoginConfig,
    LoginState,
)
from routing.brokers.projectx import wire
from routing.brokers.projectx.book import OrderBook
from routing.brokers.projectx.market import MarketFeed
from routing.brokers.projectx.positions import account_flatten, account_positions
from routing.brokers.projectx.session import LoginSession, UncertainOutcomeError
from routing.brokers.projectx.symbols import ProjectXSymbolError, contract_id
from routing.engine.types import LeaderFill, LeaderOrder, OrderType, Side

logger = logging.getLogger(__name__)

_END = object()


class ProjectXAdapter(LoginAdapter):
    """ProjectX adapter. ``budgets(login_id)`` gives each login's request
    budget (default: :class:`~routing.brokers.budget.Unlimited` per login);
    ``settle_seconds`` is how long a call waits for the user hub to report
    an order's outcome before reading it over REST; ``lookback`` how far
    back ``query_order`` searches orders by ``customTag``."""

    platform: ClassVar[str] = "projectx"
    capabilities: ClassVar[Mapping[str, bool]] = {
        **LOGIN_ADAPTER_CAPABILITIES,
        "stop_limit": False,
    }

    def __init__(
        self,
        logins: Sequence[LoginConfig] = (),
        *,
        budgets: Callable[[int], RequestBudget] | None = None,
        settle_seconds: float = 1.0,
        lookback: timedelta = timedelta(days=3),
    ) -> None:
        self._configs = {c.login_id: c for c in logins}
        self._budgets = budgets or (lambda _login_id: Unlimited())
        self._book = OrderBook(settle_seconds=settle_seconds, lookback=lookback)
        self._sessions: dict[int, LoginSession] = {}
        self._updates: asyncio.Queue[Any] = asyncio.Queue()
        self._update_streams = 0
        self._leaders: dict[str, asyncio.Queue[Any]] = {}
        self._seen_trades: set[int] = set()
        # When each leader stream began: a catch-up never reaches further back
        # (executions before it are reconciliation's, never copied late).
        self._leader_since: dict[str, datetime] = {}
        self._open = False
        self._market = MarketFeed(lambda: list(self._sessions.values()))

    # -- logins ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Open, and some login connected (or none given): one login down is
        that login's accounts' matter (``account_connected``), not every
        route's on the platform."""
        sessions = self._sessions.values()
        return self._open and (not sessions or any(s.connected for s in sessions))

    async def connect(self) -> None:
        self._open = True
        await self.set_logins(list(self._configs.values()))

    async def disconnect(self) -> None:
        self._open = False
        await self._market.close()
        for session in list(self._sessions.values()):
            await session.close()
        self._sessions.clear()
        for _ in range(self._update_streams):  # each open stream ends
            self._updates.put_nowait(_END)
        for queue in self._leaders.values():
            queue.put_nowait(_END)
        self._leaders.clear()

    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        wanted = {c.login_id: c for c in logins}
        self._configs = wanted
        for login_id in [i for i in self._sessions if i not in wanted]:
            await self._sessions.pop(login_id).close()
        opening = []
        for login_id, config in wanted.items():
            session = self._sessions.get(login_id)
            if session is not None and _same(session.config, config):
                continue
            if session is not None:
                await session.close()
            session = LoginSession(
                config, self._budgets(login_id), self._on_hub, self._hub_opened(login_id)
            )
            self._sessions[login_id] = session
            opening.append(session.open())
        await asyncio.gather(*opening)  # open() never raises: its state says why

    def login_states(self) -> list[LoginState]:
        return [self._sessions[i].state for i in sorted(self._sessions)]

    def account_connected(self, account: str) -> bool:
        session = self._holder(account)
        return session is not None and session.connected

    def _holder(self, account: str) -> LoginSession | None:
        for session in self._sessions.values():
            if account in session.config.accounts:
                return session
        return None

    def _session(self, account: str) -> LoginSession:
        if not account.isdigit():
            raise BrokerFatal(f"ProjectX account ids are numbers, got {account!r}")
        session = self._holder(account)
        if session is None:
            raise BrokerFatal(f"no ProjectX login holds account {account!r}")
        if session.state.state is ConnectionState.FAILED:
            raise BrokerFatal(
                f"ProjectX login {session.config.login_id} of account {account!r} failed: "
                f"{session.state.detail}"
            )
        if session.connected and account not in session.accounts:
            raise BrokerFatal(f"ProjectX does not list account {account!r} under its login")
        return session

    # -- orders ---------------------------------------------------------------

    async def place_order(self, order: OrderRequest) -> OrderResult:
        return await self.place(order)

    async def place(self, order: OrderRequest, priority: Priority | None = None) -> OrderResult:
        """:meth:`place_order` at ``priority`` (``None``: ``EXIT`` when the
        order reduces the account's known position, else ``ENTRY``)."""
        coid = order.client_order_id
        problem = wire.request_problem(order)
        if problem:
            return OrderResult.rejected(coid, problem)
        try:
            contract = contract_id(order.symbol, today=_today(order.time))
        except ProjectXSymbolError as exc:
            return OrderResult.rejected(coid, str(exc))
        session = self._session(order.account)
        key = (order.account, coid)
        async with self._book.lock(key):
            known = self._book.known.get(key)
            if known is None and key in self._book.uncertain:
                # The last send may have reached ProjectX: never resend blind.
                known = await self._book.find(session, order.account, coid)
            if known is not None and not known.settled and known.order_id is not None:
                # A repeat answers with the order's current state, not a stale one.
                known = await self._book.find(session, order.account, coid) or known
            if known is not None:
                return known.result()
            if priority is None:
                held = self._book.held.get((order.account, contract), 0)
                reduces = held != 0 and (held > 0) != (order.side is Side.BUY)
                priority = Priority.EXIT if reduces or order.closing else Priority.ENTRY
            payload = wire.place_payload(order, int(order.account), contract)
            try:
                answer = await session.call("/Order/place", payload, priority)
            except UncertainOutcomeError as exc:
                self._book.uncertain.add(key)
                raise BrokerTemporaryError(
                    f"order {coid}: {exc}; it will be looked up by customTag before any resend"
                ) from exc
            except BrokerRejected as exc:
                # A repeat of an order ProjectX already holds (customTag is unique
                # per account) is refused: answer with the first order.
                found = await self._book.find(session, order.account, coid)
                if found is not None:
                    return found.result()
                return OrderResult.rejected(coid, f"{order.symbol}: {exc.reason}")
            assert answer is not None
            known = self._book.remember(order.account, coid, {"id": int(answer["orderId"])})
            self._book.uncertain.discard(key)
            await self._book.settle(session, known, order.order_type is OrderType.MARKET)
            return known.result()

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        session = self._session(account)
        known = self._book.known.get((account, client_order_id))
        if known is None or not known.settled:
            known = await self._book.find(session, account, client_order_id)
        return None if known is None else known.result()

    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        return await self._cancel(account, client_order_id, Priority.EXIT)

    async def _cancel(self, account: str, coid: str, priority: Priority) -> OrderResult | None:
        session = self._session(account)
        known = await self._book.current(session, account, coid)
        if known is None or known.settled:
            return None if known is None else known.result()
        payload = {"accountId": int(account), "orderId": known.order_id}
        try:
            await session.call("/Order/cancel", payload, priority)
        except BrokerRejected as exc:
            # Refused because it filled or ended meanwhile: the final result, unchanged.
            await self._book.refresh(session, known)
            return known.result() if known.settled else known.result(reason=exc.reason)
        await self._book.settle(session, known, True)
        return known.result()

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
        session = self._session(account)
        known = await self._book.current(session, account, client_order_id)
        if known is None or known.settled:
            return None if known is None else known.result()
        assert known.order is not None
        problem = _modify_problem(known, qty, limit_price, stop_price)
        if problem:
            return known.result(reason=problem)
        payload = {
            "accountId": int(account),
            "orderId": known.order_id,
            "size": qty,
            "limitPrice": None if limit_price is None else float(limit_price),
            "stopPrice": None if stop_price is None else float(stop_price),
            "trailPrice": None,
        }
        try:
            answer = await session.call(
                "/Order/modify", payload, Priority.MODIFY, key=client_order_id
            )
        except BrokerRejected as exc:
            # Refused because it filled or ended meanwhile: the final result, unchanged.
            await self._book.refresh(session, known)
            return known.result() if known.settled else known.result(reason=exc.reason)
        if answer is None:
            return known.result(reason="superseded by a newer modification of this order")
        await self._book.refresh(session, known)
        return known.result()

    # -- order state ------------------------------------------------------------

    # -- the user hub -------------------------------------------------------------

    async def _on_hub(self, target: str, argument: Any) -> None:
        data = wire.unwrap(argument)
        if data is None:
            return
        try:
            if target == "GatewayUserOrder":
                self._hub_order(data)
            elif target == "GatewayUserTrade":
                self._hub_trade(data)
            elif target == "GatewayUserPosition":
                account, contract = str(data["accountId"]), str(data["contractId"])
                sign = 1 if data.get("type") == 1 else -1
                self._book.held[(account, contract)] = sign * int(data.get("size") or 0)
        except (KeyError, ValueError, TypeError) as exc:
            logger.error("ProjectX %s event not understood (%s): %r", target, exc, data)
            return
        async with self._book.changed:
            self._book.changed.notify_all()

    def _hub_order(self, data: dict[str, Any]) -> None:
        known = self._book.by_id.get(int(data["id"]))
        tag = data.get("customTag")
        if known is None and tag:
            known = self._book.remember(str(data["accountId"]), str(tag), data)
        elif known is not None:
            known.order = {**(known.order or {}), **data}
        if known is not None and known.order is not None and "status" in known.order:
            self._updates.put_nowait(known.result())

    def _hub_trade(self, data: dict[str, Any]) -> None:
        trade_id = int(data["id"])
        known = self._book.by_id.get(int(data["orderId"])) if data.get("orderId") else None
        if known is not None:
            known.trades[trade_id] = data
            if known.order is not None and "status" in known.order:
                self._updates.put_nowait(known.result())
        queue = self._leaders.get(str(data["accountId"]))
        if queue is not None and trade_id not in self._seen_trades and not data.get("voided"):
            self._seen_trades.add(trade_id)
            try:
                queue.put_nowait(wire.leader_fill(data))
            except ProjectXSymbolError as exc:
                queue.put_nowait(BrokerFatal(f"leader trade {trade_id}: {exc}"))

    def _hub_opened(self, login_id: int) -> Callable[[bool], Any]:
        async def opened(reconnected: bool) -> None:
            if reconnected:
                # Executions while the hub was down are read back (consumers
                # de-duplicate re-deliveries on event_id).
                asyncio.get_running_loop().create_task(self._catch_up(login_id))

        return opened

    async def _catch_up(self, login_id: int) -> None:
        """After a reconnect: read back the orders still open here and the
        leaders' executions, whose hub events may have been lost."""
        session = self._sessions.get(login_id)
        if session is None:
            return
        stale = [
            k for k in self._book.known.values() if not k.settled and k.account in session.accounts
        ]
        for known in stale:
            try:
                found = await self._book.find(session, known.account, known.client_order_id)
            except (BrokerTemporaryError, BrokerRejected) as exc:
                logger.warning("ProjectX catch-up of %s failed: %s", known.client_order_id, exc)
                continue
            if found is not None and found.order is not None and "status" in found.order:
                self._updates.put_nowait(found.result())
        for account in sorted(a for a in session.accounts if a in self._leaders):
            start = self._leader_since[account]
            try:
                answer = await session.call(
                    "/Trade/search",
                    {"accountId": int(account), "startTimestamp": start.isoformat()},
                    Priority.QUERY,
                )
            except (BrokerTemporaryError, BrokerRejected) as exc:
                logger.warning("ProjectX catch-up of account %s failed: %s", account, exc)
                continue
            for trade in sorted((answer or {}).get("trades") or [], key=lambda t: t["id"]):
                if wire.timestamp(trade["creationTimestamp"]) >= start:
                    self._hub_trade(trade)

    # -- streams ------------------------------------------------------------------

    async def order_updates(self) -> AsyncIterator[OrderResult]:
        self._update_streams += 1
        try:
            while True:
                item = await self._updates.get()
                if item is _END:
                    return
                yield item
        finally:
            self._update_streams -= 1

    async def leader_events(self, account: str) -> AsyncIterator[LeaderFill | LeaderOrder]:
        self._session(account)
        queue = self._leaders.get(account)
        if queue is None:
            queue = self._leaders[account] = asyncio.Queue()
            self._leader_since[account] = datetime.now(UTC)
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    # -- market data (routing.brokers.projectx.market) ----------------------------

    async def watch_prices(self, symbols: Collection[str]) -> None:
        """Last trades of ``symbols`` from the market hub, over any connected
        login; symbols no longer given are unsubscribed and forgotten."""
        if self._open:
            await self._market.watch(symbols)

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        return self._market.last(symbol)

    # -- positions --------------------------------------------------------------

    async def positions(self, account: str) -> list[PositionSnapshot]:
        return await account_positions(self._session(account), account, self._book.held)

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        return await account_flatten(self, self._session(account), account, symbol, time)


def _modify_problem(
    known: wire.KnownOrder, qty: int | None, limit: Decimal | None, stop: Decimal | None
) -> str:
    assert known.order is not None
    kind = known.order.get("type")
    filled = int(known.order.get("fillVolume") or 0)
    if qty is not None and qty <= filled:
        return f"quantity {qty} is not above the {filled} already filled"
    if limit is not None and kind != wire.ORDER_TYPES[OrderType.LIMIT]:
        return "limit_price given for an order without a limit price"
    if stop is not None and kind != wire.ORDER_TYPES[OrderType.STOP]:
        return "stop_price given for an order without a stop price"
    return ""


def _same(a: LoginConfig, b: LoginConfig) -> bool:
    return (a.credentials, a.accounts, a.endpoint, a.environment) == (
        b.credentials,
        b.accounts,
        b.endpoint,
        b.environment,
    )


def _today(time: datetime | None) -> date:
    return (time or datetime.now(UTC)).astimezone(UTC).date()
