"""Positions and flatten at Tradovate, for :class:`TradovateAdapter`.

Source: Tradovate API documentation, "Position List" (``netPos``,
``netPrice``, ``bought``, ``boughtValue``, ``sold``, ``soldValue`` per account
and contract), "Order List" and "Cancel Order".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from routing.brokers.base import OrderRequest, OrderResult, PositionSnapshot
from routing.brokers.budget import Priority
from routing.brokers.tradovate.orders import Login
from routing.brokers.tradovate.protocol import price
from routing.engine.symbols import parse_contract
from routing.engine.types import ContractSpec, Side

_CENT = Decimal("0.01")
_LIVE = frozenset({"Working", "PendingNew", "PendingReplace", "PendingCancel", "Suspended"})


class PositionsMixin:
    """``positions`` and ``flatten`` of the Tradovate adapter."""

    if TYPE_CHECKING:
        _specs: dict[str, ContractSpec]

        def _login_for(self, account: str) -> tuple[Login, int]: ...
        async def _contract_name(self, login: Login, contract_id: int) -> str: ...
        async def _send(
            self,
            login: Login,
            order: OrderRequest,
            account_id: int,
            symbol: str,
            priority: Priority,
        ) -> OrderResult: ...

    async def positions(self, account: str) -> list[PositionSnapshot]:
        """``account``'s positions from ``/position/list``, sorted by symbol.

        Realized PnL in dollars = (soldValue - boughtValue + netPos x
        netPrice) x point value, to the cent (``netPrice`` is Tradovate's
        binary average: the cent rounding drops its float noise, realized PnL
        being whole ticks); no market data here, so ``mark`` is
        ``None`` and unrealized PnL 0 (unknown: callers fail closed)."""
        login, account_id = self._login_for(account)
        login.session.require_usable()
        rows = await login.session.call("GET", "/position/list", Priority.QUERY) or []
        snapshots = []
        for row in rows:
            if int(row["accountId"]) != account_id:
                continue
            symbol = await self._contract_name(login, int(row["contractId"]))
            net = int(row.get("netPos", 0))
            net_price = price(row["netPrice"]) if net and row.get("netPrice") is not None else None
            points = price(row.get("soldValue", 0)) - price(row.get("boughtValue", 0))
            points += net * (net_price or 0)
            spec = self._specs.get(parse_contract(symbol).root)
            if spec is None:
                raise ValueError(f"UNKNOWN_SYMBOL: Tradovate position in {symbol} has no spec")
            snapshots.append(
                PositionSnapshot(
                    account=account,
                    symbol=symbol,
                    qty=net,
                    avg_price=net_price or Decimal(0),
                    realized_pnl=(points * spec.point_value).quantize(_CENT),
                    unrealized_pnl=Decimal(0),
                    mark=None,
                )
            )
        return sorted(snapshots, key=lambda s: s.symbol)

    async def flatten(
        self, account: str, symbol: str | None = None, *, time: datetime | None = None
    ) -> list[OrderResult]:
        """Cancel ``account``'s working orders (in ``symbol``, or all), then
        close each open position with a market order (priority FLATTEN,
        ``clOrdId`` ``tvflat-<account id>-<symbol>-<8 hex>``). A repeat reads
        the positions afresh, so a close that already filled is not sent twice."""
        login, account_id = self._login_for(account)
        login.session.require_usable()
        wanted = None if symbol is None else parse_contract(symbol).code
        orders = await login.session.call("GET", "/order/list", Priority.FLATTEN) or []
        for row in orders:
            if int(row["accountId"]) != account_id or row.get("ordStatus") not in _LIVE:
                continue
            name = await self._contract_name(login, int(row["contractId"]))
            if wanted in (None, name):
                login.book.apply("order", row)
                body = {"orderId": int(row["id"]), "isAutomated": True}
                await login.session.call("POST", "/order/cancelorder", Priority.FLATTEN, body=body)
        results = []
        for position in await self.positions(account):
            if position.qty == 0 or wanted not in (None, position.symbol):
                continue
            close = OrderRequest(
                account=account,
                client_order_id=f"tvflat-{account_id}-{position.symbol}-{uuid.uuid4().hex[:8]}",
                symbol=position.symbol,
                side=Side.SELL if position.qty > 0 else Side.BUY,
                qty=abs(position.qty),
            )
            results.append(await self._send(login, close, account_id, position.symbol,
                                            Priority.FLATTEN))  # fmt: skip
        return results
