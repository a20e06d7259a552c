"""ProjectX positions and flatten, for :class:`~routing.brokers.projectx.adapter.ProjectXAdapter`.

Positions come from ``/Position/searchOpen`` (``type`` 1 long, 2 short,
``size``, ``averagePrice``); realized PnL from ``/Trade/search`` since the
CME session start (17:00 America/Chicago): the sum of the trades'
``profitAndLoss`` (dollars, before fees: ProjectX reports ``fees`` apart).
ProjectX gives no mark price here, so ``mark`` is ``None`` and unrealized
PnL 0 (unknown: loss checks fail closed on it).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from routing.brokers.base import OrderRequest, OrderResult, PositionSnapshot
from routing.brokers.budget import Priority
from routing.brokers.errors import BrokerRejected
from routing.brokers.projectx import wire
from routing.brokers.projectx.session import LoginSession
from routing.engine.types import OrderType, Side

if TYPE_CHECKING:
    from routing.brokers.projectx.adapter import ProjectXAdapter

CHICAGO = ZoneInfo("America/Chicago")


def session_start(now: datetime) -> datetime:
    """The start (17:00 Chicago, as aware UTC) of the CME session holding ``now``."""
    local = now.astimezone(CHICAGO)
    start = datetime.combine(local.date(), time(17), tzinfo=CHICAGO)
    if local < start:
        start = datetime.combine(local.date() - timedelta(days=1), time(17), tzinfo=CHICAGO)
    return start.astimezone(UTC)


async def account_positions(
    session: LoginSession, account: str, held: dict[tuple[str, str], int]
) -> list[PositionSnapshot]:
    """Every open position of ``account`` plus the contracts traded flat this
    session, sorted by symbol. Updates ``held`` (the adapter's signed sizes)."""
    answer = await session.call("/Position/searchOpen", {"accountId": int(account)}, Priority.QUERY)
    start = session_start(datetime.now(UTC))
    trades = await session.call(
        "/Trade/search",
        {"accountId": int(account), "startTimestamp": start.isoformat()},
        Priority.QUERY,
    )
    realized: dict[str, Decimal] = {}
    for trade in (trades or {}).get("trades") or []:
        if trade.get("voided") or wire.timestamp(trade["creationTimestamp"]) < start:
            continue
        pnl = trade.get("profitAndLoss")
        symbol = wire.symbol_or_id(trade["contractId"])
        realized[symbol] = realized.get(symbol, Decimal(0)) + (
            Decimal(0) if pnl is None else wire.decimal(pnl, f"trade {trade['id']} pnl")
        )
    rows: dict[str, PositionSnapshot] = {}
    for key in [k for k in held if k[0] == account]:
        held[key] = 0
    for position in (answer or {}).get("positions") or []:
        contract = str(position["contractId"])
        qty = int(position["size"]) * (1 if position.get("type") == 1 else -1)
        held[(account, contract)] = qty
        symbol = wire.symbol_or_id(contract)
        rows[symbol] = PositionSnapshot(
            account=account,
            symbol=symbol,
            qty=qty,
            avg_price=wire.decimal(position["averagePrice"], "averagePrice"),
            realized_pnl=realized.get(symbol, Decimal(0)),
            unrealized_pnl=Decimal(0),
            mark=None,
        )
    for symbol, pnl in realized.items():
        if symbol not in rows:
            rows[symbol] = PositionSnapshot(account, symbol, 0, Decimal(0), pnl, Decimal(0), None)
    return [rows[s] for s in sorted(rows)]


async def account_flatten(
    adapter: ProjectXAdapter,
    session: LoginSession,
    account: str,
    symbol: str | None,
    when: datetime | None,
) -> list[OrderResult]:
    """Cancel ``account``'s working orders in ``symbol`` (or all), then close
    its positions there at market, every request at ``FLATTEN`` priority.
    Each close carries ``customTag`` ``flatten-<symbol>-<epoch ms>``."""
    when = when or datetime.now(UTC)
    working = await session.call("/Order/searchOpen", {"accountId": int(account)}, Priority.FLATTEN)
    for order in (working or {}).get("orders") or []:
        if symbol is not None and wire.symbol_or_id(order["contractId"]) != symbol:
            continue
        # Refused when filled or cancelled meanwhile: the positions below say what is left.
        with contextlib.suppress(BrokerRejected):
            await session.call(
                "/Order/cancel",
                {"accountId": int(account), "orderId": order["id"]},
                Priority.FLATTEN,
            )
    answer = await session.call(
        "/Position/searchOpen", {"accountId": int(account)}, Priority.FLATTEN
    )
    results = []
    stamp = int(when.timestamp() * 1000)
    for position in sorted((answer or {}).get("positions") or [], key=lambda p: p["contractId"]):
        code = wire.symbol_or_id(str(position["contractId"]))
        if (symbol is not None and code != symbol) or not int(position["size"]):
            continue
        side = Side.SELL if position.get("type") == 1 else Side.BUY
        close = OrderRequest(
            account=account,
            client_order_id=f"flatten-{code}-{stamp}",
            symbol=code,
            side=side,
            qty=int(position["size"]),
            order_type=OrderType.MARKET,
            time=when,
        )
        results.append(await adapter.place(close, Priority.FLATTEN))
    return results
