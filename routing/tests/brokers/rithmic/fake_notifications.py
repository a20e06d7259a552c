"""What the fake Rithmic server pushes about orders and positions.

ExchangeOrderNotification (352) and RithmicOrderNotification (351) for
each order change and in order list / history replays, and
InstrumentPnLPositionUpdate (450) for positions, built with the SDK's own
protobuf classes. A mixin of
:class:`~routing.tests.brokers.rithmic.fake_server.FakeRithmic`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from async_rithmic import protocol_buffers as pb

if TYPE_CHECKING:
    from routing.tests.brokers.rithmic.fake_server import FakeOrder

Notify = pb.exchange_order_notification_pb2.ExchangeOrderNotification.NotifyType


class FakeNotifications:
    """Order notifications and position updates of the fake server."""

    orders: dict[str, FakeOrder]
    positions: dict[tuple[str, str], list[float]]
    snapshot_template: int
    _conns: list[Any]

    if TYPE_CHECKING:

        async def _send(self, conn: Any, message: Any) -> None: ...

    def _notification(self, order: FakeOrder, notify: int, *, snapshot: bool = False) -> Any:
        cls = pb.exchange_order_notification_pb2.ExchangeOrderNotification
        msg = cls(
            template_id=352,
            notify_type=notify,
            is_snapshot=snapshot,
            user_tag=order.user_tag,
            basket_id=order.basket_id,
            account_id=order.account,
            symbol=order.symbol,
            exchange=order.exchange,
            quantity=order.qty,
            price=order.price,
            trigger_price=order.trigger_price,
            transaction_type=order.side,
            price_type=order.price_type,
            status=order.status,
            total_fill_size=order.filled,
            total_unfilled_size=0 if order.status == "complete" else order.qty - order.filled,
            avg_fill_price=order.avg,
            ssboe=int(dt.datetime.now(dt.UTC).timestamp()),
            usecs=0,
        )
        if order.completion == "cancelled":
            msg.cancelled_size = order.qty - order.filled
        if notify == Notify.FILL and order.fills:
            fill_id, qty, price = order.fills[-1]
            msg.fill_id, msg.fill_size, msg.fill_price = fill_id, qty, price
        return msg

    def _rithmic(self, order: FakeOrder, *, snapshot: bool) -> Any:
        cls = pb.rithmic_order_notification_pb2.RithmicOrderNotification
        return cls(
            template_id=351,
            notify_type=cls.COMPLETE if order.status == "complete" else cls.OPEN,
            is_snapshot=snapshot,
            user_tag=order.user_tag,
            basket_id=order.basket_id,
            account_id=order.account,
            symbol=order.symbol,
            exchange=order.exchange,
            quantity=order.qty,
            price=order.price,
            trigger_price=order.trigger_price,
            transaction_type=order.side,
            price_type=order.price_type,
            status=order.status,
            completion_reason={"filled": "Fill", "cancelled": "Cancel"}.get(order.completion, ""),
            total_fill_size=order.filled,
            total_unfilled_size=0 if order.status == "complete" else order.qty - order.filled,
            avg_fill_price=order.avg,
            ssboe=int(dt.datetime.now(dt.UTC).timestamp()),
        )

    def _snapshot(self, order: FakeOrder) -> Any:
        if self.snapshot_template == 351:
            return self._rithmic(order, snapshot=True)
        return self._notification(order, Notify.STATUS, snapshot=True)

    async def _push(self, order: FakeOrder, notify: int) -> None:
        """Rithmic's exchange notification, then its own view of the order."""
        messages = [self._notification(order, notify), self._rithmic(order, snapshot=False)]
        for conn in list(self._conns):
            if order.account in conn.order_accounts and order.user_tag not in conn.lost_tags:
                for message in messages:
                    await self._send(conn, message)

    def _position(self, account: str, symbol: str, *, snapshot: bool) -> Any:
        qty, avg, rpnl = self.positions[(account, symbol)]
        order = next(o for o in self.orders.values() if o.symbol == symbol)
        return pb.instrument_pnl_position_update_pb2.InstrumentPnLPositionUpdate(
            template_id=450,
            is_snapshot=snapshot,
            account_id=account,
            symbol=symbol,
            exchange=order.exchange,
            net_quantity=int(qty),
            buy_qty=int(qty) if qty > 0 else 0,
            sell_qty=-int(qty) if qty < 0 else 0,
            avg_open_fill_price=avg,
            closed_position_pnl=str(Decimal(str(rpnl))),
            day_closed_pnl=rpnl,
        )

    async def _push_position(self, account: str, symbol: str) -> None:
        message = self._position(account, symbol, snapshot=False)
        for conn in list(self._conns):
            if account in conn.pnl_accounts:
                await self._send(conn, message)
