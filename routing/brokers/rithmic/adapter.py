"""The Rithmic adapter: many logins, each with many accounts, over async-rithmic.

Orders carry Copytrade's client order id in R|Protocol's ``user_tag``
(RequestNewOrder field 154119, echoed on every ExchangeOrderNotification
and in the order plant's order list), so an order is found again by it
after a lost answer, a reconnect or a restart. Orders are sent with
``manual_or_auto = AUTO`` (Rithmic's flag for software-generated orders)
and ``duration = DAY``. Every request first spends its login's
:class:`~routing.brokers.budget.RequestBudget`. Market data (last trades
for layer-2 marks) comes from one login's ticker plant:
:mod:`routing.brokers.rithmic.market_data`.

Not supported yet (capability False): bracket entries (``stop_loss`` /
``take_profit``), leader working-order events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import ClassVar

from async_rithmic.enums import OrderDuration, OrderPlacement

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus, PositionSnapshot
from routing.brokers.budget import Priority, RequestBudget
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.logins import LOGIN_ADAPTER_CAPABILITIES, LoginConfig
from routing.brokers.rithmic.book import BUY, PRICE_TYPES, SELL, TrackedOrder
from routing.brokers.rithmic.connections import RithmicConnections
from routing.brokers.rithmic.positions import position_snapshot
from routing.brokers.rithmic.sdk import RESPONSE_PNL_SNAPSHOT
from routing.brokers.rithmic.session import RECONNECT_DELAYS
from routing.brokers.rithmic.symbols import to_rithmic
from routing.engine.symbols import SymbolError
from routing.engine.types import OrderType, Side


class RithmicAdapter(RithmicConnections):
    """Rithmic (R|Protocol) through async-rithmic 1.6.6.

    ``logins`` the logins to serve (more via :meth:`set_logins`);
    credentials ``{"username", "password", "system", "gateway"}`` with
    ``LoginConfig.endpoint`` overriding the gateway URL. ``budgets`` maps a
    login id to its request budget (default: :class:`Unlimited` each).
    ``ca_file`` a PEM file to trust instead of the SDK's bundled Rithmic
    certificate (tests). ``request_timeout`` seconds to wait for an answer;
    ``fill_wait`` seconds :meth:`place_order` waits for a market order's fill
    before returning it WORKING (fills then arrive on :meth:`order_updates`).
    """

    platform: ClassVar[str] = "rithmic"
    capabilities: ClassVar[Mapping[str, bool]] = LOGIN_ADAPTER_CAPABILITIES

    def __init__(
        self,
        logins: Sequence[LoginConfig] = (),
        *,
        budgets: Callable[[int], RequestBudget] | None = None,
        app_name: str = "Copytrade",
        app_version: str = "0.1",
        ca_file: str | None = None,
        request_timeout: float = 10.0,
        fill_wait: float = 2.0,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
    ) -> None:
        super().__init__(
            logins,
            budgets=budgets,
            app_name=app_name,
            app_version=app_version,
            ca_file=ca_file,
            request_timeout=request_timeout,
            fill_wait=fill_wait,
            reconnect_delays=reconnect_delays,
        )
        # Submits whose answer was lost: looked up before anything is resent.
        self._uncertain: set[tuple[str, str]] = set()
        self._inflight: dict[tuple[str, str], asyncio.Lock] = {}

    # -- orders ------------------------------------------------------------------------

    def _refusal(self, order: OrderRequest) -> str | None:
        if order.qty <= 0:
            return f"quantity must be > 0, got {order.qty}"
        if order.stop_loss is not None or order.take_profit is not None:
            return "bracket orders are not supported by the Rithmic adapter yet"
        kind = order.order_type
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.limit_price is None:
            return f"{kind.value} order needs limit_price"
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and order.stop_price is None:
            return f"{kind.value} order needs stop_price"
        return None

    async def place_order(self, order: OrderRequest) -> OrderResult:
        key = (order.account, order.client_order_id)
        lock = self._inflight.setdefault(key, asyncio.Lock())
        async with lock:
            result = await self._place(order, Priority.EXIT if order.closing else Priority.ENTRY)
        if result.is_final:
            # Every later call returns the book's final result: the lock is done.
            self._inflight.pop(key, None)
        return result

    async def _place(self, order: OrderRequest, priority: Priority) -> OrderResult:
        key = (order.account, order.client_order_id)
        known = self.book.get(*key)
        if known is not None:
            return known.result()
        session = self._session(order.account)
        if key in self._uncertain:
            # A submit whose answer was lost: look it up, never resend blind.
            found = await self.query_order(*key)
            if found is not None:
                self._uncertain.discard(key)
                return found
            self._uncertain.discard(key)
        reason = self._refusal(order)
        try:
            symbol, exchange = to_rithmic(order.symbol)
        except SymbolError as exc:
            reason = reason or str(exc)
        if reason is not None:
            return self._reject(order, reason)
        plant = session.require_up(order.account).plants["order"]
        if not any(r.exchange == exchange for r in plant.trade_routes or ()):
            return self._reject(order, f"no Rithmic trade route to {exchange} for this login")
        await self._spend(session, priority, None)
        prices: dict[str, float] = {}
        if order.limit_price is not None and order.order_type in (
            OrderType.LIMIT,
            OrderType.STOP_LIMIT,
        ):
            prices["price"] = float(order.limit_price)
        if order.stop_price is not None and order.order_type in (
            OrderType.STOP,
            OrderType.STOP_LIMIT,
        ):
            prices["trigger_price"] = float(order.stop_price)
        self._uncertain.add(key)  # until Rithmic's answer is in hand
        try:
            answers = await session.call(
                f"order {order.client_order_id}",
                plant.submit_order(
                    order_id=order.client_order_id,
                    symbol=symbol,
                    exchange=exchange,
                    qty=order.qty,
                    transaction_type=BUY if order.side is Side.BUY else SELL,
                    order_type=PRICE_TYPES[order.order_type],
                    account_id=order.account,
                    duration=OrderDuration.DAY,
                    manual_or_auto=OrderPlacement.AUTO,
                    **prices,
                ),
            )
        except BrokerTemporaryError:
            raise
        except Exception as exc:
            # What the SDK checks before sending was checked above: anything
            # else may have left the order at Rithmic. Outcome unknown.
            raise BrokerTemporaryError(
                f"order {order.client_order_id}: {type(exc).__name__}: {exc}; outcome unknown"
            ) from exc
        self._uncertain.discard(key)
        if not answers:
            refusal = plant.refusals.pop(order.client_order_id, "refused by Rithmic")
            return self._reject(order, refusal)
        tracked = self.book.get(*key)
        if tracked is None:
            tracked = TrackedOrder(
                account=order.account,
                client_order_id=order.client_order_id,
                basket_id=answers[0].basket_id or None,
                symbol=order.symbol,
                side=order.side,
                qty=order.qty,
                order_type=order.order_type,
                exchange=exchange,
                limit_price=order.limit_price,
                stop_price=order.stop_price,
            )
            self.book.track(tracked)
        if order.order_type is OrderType.MARKET:
            await self._wait(lambda: tracked.result().is_final, self._fill_wait)
        return tracked.result()

    def _reject(self, order: OrderRequest, reason: str) -> OrderResult:
        tracked = TrackedOrder(
            account=order.account,
            client_order_id=order.client_order_id,
            basket_id=None,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            order_type=order.order_type,
            status=OrderStatus.REJECTED,
            reason=reason,
        )
        self.book.track(tracked)
        return tracked.result()

    async def query_order(self, account: str, client_order_id: str) -> OrderResult | None:
        """Rithmic's current result for the order tagged ``client_order_id``:
        its open orders first, then (when not found open, or no longer open)
        its order history of the trading days around now."""
        session = self._session(account)
        known = self.book.get(account, client_order_id)
        if known is not None and known.result().is_final:
            return known.result()
        open_now = await self._refresh(session, account, history=False)
        found = self.book.get(account, client_order_id)
        if found is None or (client_order_id not in open_now and not found.result().is_final):
            await self._refresh(session, account, history=True)
            found = self.book.get(account, client_order_id)
        return None if found is None else found.result()

    async def _tracked(self, account: str, client_order_id: str) -> TrackedOrder | None:
        if self.book.get(account, client_order_id) is None:
            await self.query_order(account, client_order_id)
        return self.book.get(account, client_order_id)

    async def cancel_order(
        self, account: str, client_order_id: str, *, time: datetime | None = None
    ) -> OrderResult | None:
        return await self._cancel(account, client_order_id, Priority.EXIT)

    async def _cancel(
        self, account: str, client_order_id: str, priority: Priority
    ) -> OrderResult | None:
        session = self._session(account)
        order = await self._tracked(account, client_order_id)
        if order is None:
            return None
        if order.result().is_final or order.basket_id is None:
            return order.result()
        await self._spend(session, priority, None)
        plant = session.require_up(account).plants["order"]
        answers = await session.call(
            f"cancel {client_order_id}",
            plant.cancel_order(
                basket_id=order.basket_id,
                account_id=account,
                manual_or_auto=OrderPlacement.AUTO,
            ),
        )
        if not answers:
            # Refused (already filled or cancelled): the order list says how it ended.
            refusal = plant.refusals.pop(order.basket_id, "cancel refused by Rithmic")
            result = await self.query_order(account, client_order_id)
            if result is not None and not result.is_final:
                order.reason = refusal
            return order.result()
        if not await self._wait(lambda: order.result().is_final, self._timeout):
            raise BrokerTemporaryError(f"cancel of {client_order_id} sent, not yet confirmed")
        return order.result()

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
        order = await self._tracked(account, client_order_id)
        if order is None:
            return None
        if order.result().is_final or order.basket_id is None:
            return order.result()
        reason = None
        if qty is not None and qty <= order.filled:
            reason = f"new quantity {qty} is not above the {order.filled} filled"
        if limit_price is not None and order.order_type not in (
            OrderType.LIMIT,
            OrderType.STOP_LIMIT,
        ):
            reason = f"a {order.order_type.value} order has no limit price"
        if stop_price is not None and order.order_type not in (
            OrderType.STOP,
            OrderType.STOP_LIMIT,
        ):
            reason = f"a {order.order_type.value} order has no stop price"
        if reason is not None:
            return _with_reason(order.result(), reason)
        if not await self._spend(session, Priority.MODIFY, client_order_id):
            return order.result()  # superseded by a newer modification
        new_qty = qty if qty is not None else order.qty
        new_limit = limit_price if limit_price is not None else order.limit_price
        new_stop = stop_price if stop_price is not None else order.stop_price
        current = SimpleNamespace(
            account_id=account,
            basket_id=order.basket_id,
            symbol=to_rithmic(order.symbol)[0],
            exchange=order.exchange or to_rithmic(order.symbol)[1],
            quantity=order.qty,
            price_type=PRICE_TYPES[order.order_type],
            price=float(new_limit) if new_limit is not None else 0.0,
        )
        extra = {"trigger_price": float(new_stop)} if new_stop is not None else {}
        plant = session.require_up(account).plants["order"]
        answers = await session.call(
            f"modify {client_order_id}",
            plant.modify_order(
                order=current,
                qty=new_qty,
                manual_or_auto=OrderPlacement.AUTO,
                **({"price": float(new_limit)} if new_limit is not None else {}),
                **extra,
            ),
        )
        if not answers:
            refusal = plant.refusals.pop(order.basket_id, "modification refused by Rithmic")
            return _with_reason(order.result(), refusal)

        def applied() -> bool:
            return order.result().is_final or (
                order.qty == new_qty
                and (new_limit is None or order.limit_price == new_limit)
                and (new_stop is None or order.stop_price == new_stop)
            )

        if not await self._wait(applied, self._timeout):
            raise BrokerTemporaryError(f"modification of {client_order_id} not yet confirmed")
        return order.result()

    async def positions(self, account: str) -> list[PositionSnapshot]:
        session = self._session(account)
        await self._spend(session, Priority.QUERY, None)
        plant = session.require_up(account).plants["pnl"]
        messages = await session.call(
            f"positions of {account}",
            plant.list_positions(account_id=account),
            answer=RESPONSE_PNL_SNAPSHOT,
        )
        snapshots = [s for s in map(position_snapshot, messages) if s is not None]
        return sorted(snapshots, key=lambda s: s.symbol)

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        # Working orders placed elsewhere are cancelled too: read them first.
        await self._refresh(self._session(account), account, history=False)
        for order in list(self.book.orders.values()):
            mine = order.account == account and (symbol is None or order.symbol == symbol)
            if mine and not order.result().is_final and order.basket_id is not None:
                await self._cancel(account, order.client_order_id, Priority.FLATTEN)
        results = []
        for position in await self.positions(account):
            if position.qty == 0 or (symbol is not None and position.symbol != symbol):
                continue
            close = OrderRequest(
                account=account,
                client_order_id=f"ct-flat-{uuid.uuid4().hex[:20]}",
                symbol=position.symbol,
                side=Side.SELL if position.qty > 0 else Side.BUY,
                qty=abs(position.qty),
                time=time,
            )
            results.append(await self._place(close, Priority.FLATTEN))
        return results


def _with_reason(result: OrderResult, reason: str) -> OrderResult:
    return OrderResult(
        client_order_id=result.client_order_id,
        broker_order_id=result.broker_order_id,
        status=result.status,
        filled_qty=result.filled_qty,
        avg_price=result.avg_price,
        fills=result.fills,
        reason=reason,
    )
