"""The fake Rithmic server's ticker plant (market data).

A login with infra type TICKER_PLANT (1) subscribes to a contract's last
trades with RequestMarketDataUpdate (template 100, ``request`` SUBSCRIBE
or UNSUBSCRIBE, ``update_bits``), answered by ResponseMarketDataUpdate
(101) echoing ``user_msg``. A subscriber then gets a LastTrade (150)
snapshot of the last price (``is_snapshot``), and one LastTrade per
:meth:`FakeTicker.publish` (which :meth:`FakeRithmic.trade` calls).
Symbols in :attr:`FakeTicker.unlisted` are refused (rp_code "5").
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from async_rithmic import protocol_buffers as pb

TICKER_PLANT = 1
LAST_TRADE_BITS = 1  # RequestMarketDataUpdate.UpdateBits.LAST_TRADE
LastTrade = pb.last_trade_pb2.LastTrade
Request = pb.request_market_data_update_pb2.RequestMarketDataUpdate.Request


class FakeTicker:
    """Mixin of :class:`~routing.tests.brokers.rithmic.fake_server.FakeRithmic`.

    ``market_data_requests`` records every 100 as ``(user, symbol,
    exchange, "subscribe" | "unsubscribe")``; ``unlisted`` symbols are
    refused; :meth:`subscribers` says who listens to a symbol now.
    """

    _conns: list[Any]
    prices: dict[str, float]

    def _ticker_init(self) -> None:
        self.market_data_requests: list[tuple[str, str, str, str]] = []
        self.unlisted: set[str] = set()
        self.trade_times: dict[str, dt.datetime] = {}

    if TYPE_CHECKING:

        async def _send(self, conn: Any, message: Any) -> None: ...

    async def _market_data(self, conn: Any, rq: Any) -> None:
        cls = pb.response_market_data_update_pb2.ResponseMarketDataUpdate
        subscribe = rq.request == Request.SUBSCRIBE
        self.market_data_requests.append(
            (conn.user, rq.symbol, rq.exchange, "subscribe" if subscribe else "unsubscribe")
        )
        answer = cls(template_id=101)
        answer.user_msg.extend(rq.user_msg)
        if conn.infra != TICKER_PLANT or rq.symbol in self.unlisted:
            answer.rp_code.extend(["5", f"no such symbol {rq.symbol} on {rq.exchange}"])
            await self._send(conn, answer)
            return
        key = (rq.symbol, rq.exchange)
        answer.rp_code.append("0")
        await self._send(conn, answer)
        if not subscribe:
            conn.market_data.discard(key)
            return
        conn.market_data.add(key)
        if rq.update_bits & LAST_TRADE_BITS and rq.symbol in self.prices:
            at = self.trade_times.get(rq.symbol, dt.datetime.now(dt.UTC))
            last = self._last_trade(rq.symbol, rq.exchange, self.prices[rq.symbol], at, True)
            await self._send(conn, last)

    def subscribers(self, symbol: str) -> list[str]:
        """Users whose ticker connection listens to ``symbol`` now."""
        return [c.user for c in self._conns if any(s == symbol for s, _ in c.market_data)]

    async def publish(self, symbol: str, price: float, *, at: dt.datetime | None = None) -> None:
        """A print of ``symbol`` at ``price`` (aware ``at``, now by default)
        sent as LastTrade to each subscriber of it."""
        at = at or dt.datetime.now(dt.UTC)
        self.prices[symbol] = price
        self.trade_times[symbol] = at
        for conn in list(self._conns):
            for subscribed, exchange in list(conn.market_data):
                if subscribed == symbol:
                    await self._send(conn, self._last_trade(symbol, exchange, price, at, False))

    @staticmethod
    def _last_trade(
        symbol: str, exchange: str, price: float, at: dt.datetime, snapshot: bool
    ) -> Any:
        return LastTrade(
            template_id=150,
            symbol=symbol,
            exchange=exchange,
            presence_bits=LastTrade.PresenceBits.LAST_TRADE,
            is_snapshot=snapshot,
            trade_price=price,
            trade_size=1,
            aggressor=LastTrade.TransactionType.BUY,
            ssboe=int(at.timestamp()),
            usecs=at.microsecond,
        )
