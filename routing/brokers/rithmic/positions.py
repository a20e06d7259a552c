"""PnL plant position updates as :class:`PositionSnapshot` values.

R|Protocol InstrumentPnLPositionUpdate (template 450; async-rithmic's
``instrument_pnl_position_update.proto``): ``net_quantity`` signed
contracts, ``avg_open_fill_price`` points, ``closed_position_pnl`` (a
string) realized dollars. Rithmic values the open position at its own
mark; Copytrade reports no mark (``mark`` None, unrealized 0: unknown, so
loss checks fail closed) rather than mix another price source in.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from routing.brokers.base import PositionSnapshot
from routing.brokers.rithmic.book import price
from routing.brokers.rithmic.symbols import from_rithmic
from routing.engine.symbols import SymbolError


def position_snapshot(message: Any) -> PositionSnapshot | None:
    """One update as a snapshot; ``None`` for a contract Copytrade does not
    trade (option, spread, unknown root). Raises ``ValueError`` when the
    realized PnL is not a number (a protocol change: fail closed)."""
    try:
        symbol = from_rithmic(message.symbol, message.exchange)
    except SymbolError:
        return None
    qty = message.net_quantity or (message.buy_qty - message.sell_qty)
    text = message.closed_position_pnl or "0"
    try:
        realized = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(
            f"Rithmic position {message.account_id} {symbol}: closed_position_pnl {text!r}"
        ) from exc
    return PositionSnapshot(
        account=message.account_id,
        symbol=symbol,
        qty=qty,
        avg_price=price(message.avg_open_fill_price) if qty else Decimal(0),
        realized_pnl=realized,
        unrealized_pnl=Decimal(0),
        mark=None,
    )
