"""Order requests of the IB adapter: place, query, modify, cancel.

A mixin of :class:`~routing.brokers.ib.adapter.IBAdapter`, kept apart so
each module stays small. Every request spends the login's budget first.
The rule that keeps orders single: an order whose answer was lost (timeout,
connection drop) stays *uncertain* and is looked up at the gateway by
``orderRef`` before anything is sent for that client order id again.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ib_async import Trade

from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.ib.contracts import IBContractError
from routing.brokers.ib.translate import (
    ib_order,
    is_acknowledged,
    is_done,
    order_problem,
    order_result,
)
from routing.engine.types import OrderType

if TYPE_CHECKING:
    from routing.brokers.ib.session import IBLogin


class OrderOps:
    """Order methods; the host class provides ``_login_for``,
    ``_contract_for``, ``_timeout``, ``_fill_wait``, ``_refused`` and
    ``_key_locks``."""

    _timeout: float
    _fill_wait: float
    _refused: dict[tuple[str, str], OrderResult]
    _key_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]]

    if TYPE_CHECKING:

        def _login_for(self, account: str) -> IBLogin: ...
        def _contract_for(self, order: OrderRequest) -> Any: ...

    async def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` with ``orderRef`` = its client order id (see the
        base class). Idempotent per (account, client order id): an order the
        gateway already knows, or one refused here, is answered from there.
        A market order waits up to ``fill_wait`` s for its executions.
        Raises ``BrokerTemporaryError`` while the login is down or when the
        gateway's answer was lost (the order is then looked up by
        ``orderRef`` on the next call, never resent blind)."""
        return await self._place(order, Priority.EXIT if order.closing else Priority.ENTRY)

    async def _place(self, order: OrderRequest, priority: Priority) -> OrderResult:
        login = self._login_for(order.account)
        key = (order.account, order.client_order_id)
        if key in self._refused:
            return self._refused[key]
        # One send per key at a time; the lock is dropped with its last user.
        lock, users = self._key_locks.get(key, (asyncio.Lock(), 0))
        self._key_locks[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._place_locked(login, key, order, priority)
        finally:
            lock, users = self._key_locks[key]
            if users == 1:
                del self._key_locks[key]
            else:
                self._key_locks[key] = (lock, users - 1)

    async def _place_locked(
        self, login: IBLogin, key: tuple[str, str], order: OrderRequest, priority: Priority
    ) -> OrderResult:
        ib = login.require()
        trade = login.find(*key)
        if trade is None and key in login.uncertain:
            await login.refresh()
            trade = login.find(*key)
        if trade is not None:
            login.uncertain.discard(key)
            return self._result(login, trade)
        refusal = self._refusal(login, order)
        if refusal is not None:
            self._refused[key] = refusal
            return refusal
        contract = self._contract_for(order)
        await login.budget.spend(priority)
        generation = login.generation
        login.uncertain.add(key)
        try:
            trade = ib.placeOrder(contract, ib_order(order))
        except ConnectionError as exc:
            raise BrokerTemporaryError(
                f"IB order {order.client_order_id}: connection lost while sending"
            ) from exc
        await self._await(login, trade, is_acknowledged, generation, self._timeout, order)
        if order.order_type is OrderType.MARKET:
            # Acknowledged and still working after fill_wait: the fills
            # follow on order_updates.
            with contextlib.suppress(TimeoutError):
                await login.wait_until(
                    lambda: order_result(trade).is_final, self._fill_wait, generation=generation
                )
        login.uncertain.discard(key)
        return self._result(login, trade)

    def _refusal(self, login: IBLogin, order: OrderRequest) -> OrderResult | None:
        problem = order_problem(order)
        if problem is None and login.managed and order.account not in login.managed:
            problem = f"IB_ACCOUNT_NOT_MANAGED: the gateway does not manage {order.account}"
        if problem is None:
            try:
                self._contract_for(order)
            except IBContractError as exc:
                problem = str(exc)
        return None if problem is None else OrderResult.rejected(order.client_order_id, problem)

    async def _await(
        self,
        login: IBLogin,
        trade: Trade,
        done: Any,
        generation: int,
        seconds: float,
        order: OrderRequest | None = None,
    ) -> None:
        try:
            await login.wait_until(lambda: done(trade), seconds, generation=generation)
        except TimeoutError:
            what = order.client_order_id if order else trade.order.orderRef
            raise BrokerTemporaryError(
                f"IB order {what}: no answer from the gateway in {seconds}s; outcome unknown"
            ) from None

    def _result(self, login: IBLogin, trade: Trade, reason: str = "") -> OrderResult:
        key = (trade.order.account, trade.order.orderRef)
        try:
            return order_result(
                trade, cancel_requested=key in login.cancel_requested, reason=reason
            )
        except IBContractError as exc:
            raise BrokerTemporaryError(f"IB order {key[1]}: {exc}") from exc

    async def _find(self, login: IBLogin, account: str, client_order_id: str) -> Trade | None:
        login.require()
        trade = login.find(account, client_order_id)
        if trade is None:
            await login.refresh()
            trade = login.find(account, client_order_id)
        return trade

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """The gateway's result for the order with ``orderRef`` =
        ``client_order_id`` in ``account`` (its open orders, completed orders
        and executions are re-read when the session does not hold it);
        ``None`` when the gateway has no such order. A refusal made here
        (never sent) is returned as it was."""
        key = (account, client_order_id)
        if key in self._refused:
            return self._refused[key]
        login = self._login_for(account)
        trade = await self._find(login, account, client_order_id)
        if trade is None:
            login.uncertain.discard(key)
            return None
        login.uncertain.discard(key)
        return self._result(login, trade)

    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        """Cancel the order's working remainder and wait for the gateway's
        answer; a final order's result is returned unchanged."""
        key = (account, client_order_id)
        if key in self._refused:
            return self._refused[key]
        login = self._login_for(account)
        trade = await self._find(login, account, client_order_id)
        if trade is None:
            return None
        if not is_done(trade):
            await self._cancel_trade(login, trade, Priority.EXIT)
        return self._result(login, trade)

    async def _cancel_trade(self, login: IBLogin, trade: Trade, priority: Priority) -> None:
        ib = login.require()
        await login.budget.spend(priority)
        generation = login.generation
        login.cancel_requested.add((trade.order.account, trade.order.orderRef))
        try:
            ib.cancelOrder(trade.order)
        except ConnectionError as exc:
            raise BrokerTemporaryError("IB cancel: connection lost while sending") from exc
        await self._await(login, trade, is_done, generation, self._timeout)

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
        """Change a working order's quantity or prices (IB modifies by sending
        the order again under the same order id) and wait for the gateway's
        acknowledgement. A refused change returns the order's result with
        ``reason``; a gateway refusal restores the previous values."""
        key = (account, client_order_id)
        if key in self._refused:
            return self._refused[key]
        login = self._login_for(account)
        trade = await self._find(login, account, client_order_id)
        if trade is None:
            return None
        current = self._result(login, trade)
        if current.is_final:
            return current
        problem = _modify_problem(trade, current, qty, limit_price, stop_price)
        if problem is not None or not trade.order.orderId:
            why = problem or "IB_MODIFY_REFUSED: the order was not placed by this API client"
            return self._result(login, trade, reason=why)
        if not await login.budget.spend(Priority.MODIFY, key=client_order_id):
            return self._result(login, trade, reason="IB_MODIFY_SUPERSEDED: a newer change won")
        ib = login.require()
        order = trade.order
        before = (order.totalQuantity, order.lmtPrice, order.auxPrice)
        if qty is not None:
            order.totalQuantity = qty
        if limit_price is not None:
            order.lmtPrice = float(limit_price)
        if stop_price is not None:
            order.auxPrice = float(stop_price)
        generation = login.generation
        mark = len(trade.log)
        try:
            ib.placeOrder(trade.contract, order)
        except ConnectionError as exc:
            raise BrokerTemporaryError("IB modify: connection lost while sending") from exc
        await self._await(login, trade, lambda t: len(t.log) > mark + 1, generation, self._timeout)
        errors = [e for e in trade.log[mark:] if e.errorCode]
        if errors:
            order.totalQuantity, order.lmtPrice, order.auxPrice = before
            return self._result(login, trade, reason=f"IB_MODIFY_REFUSED: {errors[-1].message}")
        return self._result(login, trade)


def _modify_problem(
    trade: Trade,
    current: OrderResult,
    qty: int | None,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
) -> str | None:
    order_type = trade.order.orderType
    if qty is not None and qty <= current.filled_qty:
        return f"IB_MODIFY_REFUSED: qty {qty} is not above the {current.filled_qty} filled"
    if limit_price is not None and order_type not in ("LMT", "STP LMT"):
        return f"IB_MODIFY_REFUSED: a {order_type} order has no limit price"
    if stop_price is not None and order_type not in ("STP", "STP LMT"):
        return f"IB_MODIFY_REFUSED: a {order_type} order has no stop price"
    return None
