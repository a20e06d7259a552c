"""TopstepX trade dump (SOURCES.md section 4, arielSofer/aiTradeReports ``topstepx_trades.csv``).

Fetched from TopstepX's internal ``userapi.topstepx.com/Statistics/trades``
endpoint, not the documented Gateway API. Columns ``id,symbolId,positionSize,
profitAndLoss,fees,entryPrice,exitPrice,tradeDay,createdAt,enteredAt``; in the
real dump ``id`` is 0, ``entryPrice`` 0, ``exitPrice`` empty and ``enteredAt``
``0001-01-01T00:00:00+00:00`` on every row, so it holds P&L per closed trade
but no prices or fill times.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath

from journal.importers.base import TOPSTEPX_TRADES, ImportedTrade, ImportResult, ParseContext
from journal.importers.table import Row, Table
from routing.engine.types import Side

TOPSTEPX_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("symbolId",),
    ("positionSize",),
    ("profitAndLoss",),
    ("createdAt",),
)

# ProjectX product ids -> CME product roots (SOURCES.md section 4).
PROJECTX_PRODUCT_ROOTS: dict[str, str] = {
    "F.US.MNQ": "MNQ",
    "F.US.MES": "MES",
    "F.US.MYM": "MYM",
    "F.US.MGC": "MGC",
    "F.US.ENQ": "NQ",
    "F.US.YM": "YM",
    "F.US.NGE": "NG",
    "F.US.SIE": "SI",
    "F.US.EP": "ES",
    "F.US.GCE": "GC",
}

DEFAULT_ACCOUNT = "topstepx"
NOT_REPLAYABLE_REASON = (
    "TopstepX trade dump: it carries P&L per trade without entry/exit prices or fill times, "
    "so leader fills cannot be rebuilt for replay; import it into the journal as trades instead"
)
_NO_TIME = "0001-01-01"  # .NET DateTime.MinValue: "not set"
_ACCOUNT_IN_NAME = re.compile(r"^topstepx_trades_(?P<account>\d+)$")


def parse_trades(table: Table, ctx: ParseContext) -> ImportResult:
    """TopstepX trade dump: one :class:`ImportedTrade` per row, no fills, not replayable.

    ``symbol`` = product root of ``symbolId`` (``F.US.ENQ`` -> ``"NQ"``; the
    dump names no contract month), side = sign of ``positionSize`` (> 0 long),
    ``qty`` = its absolute value, ``pnl`` = ``profitAndLoss``, ``fees`` =
    ``fees`` (0 when absent), ``closed_at`` = ``createdAt`` (ISO with offset),
    ``opened_at`` = ``enteredAt`` unless it is empty or the ``0001-01-01``
    placeholder, entry/exit prices ``None`` when empty or 0. ``external_id`` is
    ``"topstepx-<id>"`` when ``id`` is non-zero, else
    ``"topstepx-<createdAt UTC>-<symbolId>-<positionSize>"`` with ``-2``,
    ``-3``... appended to repeats. The account is ``"topstepx-<n>"`` when the
    file is named ``topstepx_trades_<n>.csv`` (the repository's naming for
    account ``n``), else ``"topstepx"``; ``leader_account`` is ignored.
    Raises :class:`~journal.importers.base.ExportError` on a bad row or an
    unknown ``symbolId``.
    """
    match = _ACCOUNT_IN_NAME.match(PurePath(ctx.name).stem)
    account = f"{DEFAULT_ACCOUNT}-{match['account']}" if match else DEFAULT_ACCOUNT
    trades: list[ImportedTrade] = []
    repeats: Counter[str] = Counter()
    for row in table.rows:
        symbol = _root(row, ctx)
        size = row.signed_quantity("positionSize")
        closed_at = row.iso_time("createdAt", ctx.zone)
        row_id = row.raw("id")
        if row_id and row_id != "0":
            external_id = f"topstepx-{row_id}"
        else:
            external_id = f"topstepx-{closed_at.isoformat()}-{row.text('symbolId')}-{size}"
        repeats[external_id] += 1
        if repeats[external_id] > 1:
            external_id = f"{external_id}-{repeats[external_id]}"
        row.check_length("id", external_id, ctx.limits.trade_id)
        trades.append(
            ImportedTrade(
                external_id=external_id,
                account=account,
                symbol=symbol,
                side=Side.of_signed(size),
                qty=abs(size),
                entry_price=_price(row, "entryPrice", symbol, ctx),
                exit_price=_price(row, "exitPrice", symbol, ctx),
                pnl=row.amount("profitAndLoss", ctx.limits.money),
                fees=row.amount("fees", ctx.limits.money) if row.raw("fees") else Decimal("0"),
                opened_at=_opened_at(row, ctx),
                closed_at=closed_at,
            )
        )
    return ImportResult(
        path=ctx.path,
        format=TOPSTEPX_TRADES,
        fills=(),
        trades=tuple(sorted(trades, key=lambda t: t.closed_at)),
        accounts=(account,),
        leader_account=None,
        timezone=ctx.tz_name,
        replayable=False,
        not_replayable_reason=NOT_REPLAYABLE_REASON,
    )


def _root(row: Row, ctx: ParseContext) -> str:
    product = row.text("symbolId")
    root = PROJECTX_PRODUCT_ROOTS.get(product)
    if root is None:
        known = ", ".join(PROJECTX_PRODUCT_ROOTS)
        raise row.error("symbolId", f"unknown ProjectX product id {product!r} (known: {known})")
    if root not in ctx.known_roots:
        raise row.error(
            "symbolId", f"unknown symbol {product!r} (no contract spec for root {root!r})"
        )
    return root


def _price(row: Row, field: str, root: str, ctx: ParseContext) -> Decimal | None:
    """A price, or ``None`` for an empty cell or the dump's ``0`` placeholder ("not set")."""
    value = row.optional_decimal(field)
    if not value:
        return None
    return row.price(field, root, ctx)


def _opened_at(row: Row, ctx: ParseContext) -> datetime | None:
    text = row.raw("enteredAt")
    if not text or text.startswith(_NO_TIME):
        return None
    return row.iso_time("enteredAt", ctx.zone)
