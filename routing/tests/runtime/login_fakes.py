"""A login adapter for the worker's tests: the paper exchange standing in
for a real platform with one login that can be taken down and back."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from routing.brokers.base import OrderRequest, OrderResult
from routing.brokers.logins import ConnectionState, LoginAdapter, LoginConfig, LoginState
from routing.brokers.paper import PaperBroker
from routing.selectors import engine_contract_specs

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeLogin(PaperBroker, LoginAdapter):
    """Platform ``projectx`` on the paper exchange; login 1 is up unless
    :meth:`down` was called; counts the orders it is asked to place and
    the logins it is handed. Build it in the database thread (specs)."""

    platform = "projectx"

    def __init__(self, *, up: bool = True, reason: str = "") -> None:
        super().__init__(engine_contract_specs(), slippage_ticks=0)
        self.up = up
        self.since = EPOCH
        self.reason = reason
        self.placed: list[str] = []
        self.logins: list[Sequence[LoginConfig]] = []
        # The platform's market data: contract -> (last price, time).
        self.prices: dict[str, tuple[Decimal, datetime]] = {}
        self.watched: list[list[str]] = []

    def down(self, since: datetime) -> None:
        self.up, self.since = False, since

    def back(self, since: datetime) -> None:
        self.up, self.since = True, since

    async def place_order(self, order: OrderRequest) -> OrderResult:
        self.placed.append(order.client_order_id)
        return await super().place_order(order)

    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        self.logins.append(list(logins))

    def login_states(self) -> list[LoginState]:
        state = ConnectionState.CONNECTED if self.up else ConnectionState.DOWN
        return [LoginState(1, state, self.since, "" if self.up else "socket closed")]

    async def watch_prices(self, symbols: Collection[str]) -> None:
        self.watched.append(list(symbols))

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        return self.prices.get(symbol)

    def account_connected(self, account: str) -> bool:
        return self.up

    def account_unreachable(self, account: str) -> str | None:
        if self.up:
            return None
        return self.reason or super().account_unreachable(account)
