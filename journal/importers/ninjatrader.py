"""NinjaTrader 8 *Executions* grid export (SOURCES.md section 6, qsor27/FuturesTradingLog).

Columns ``Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,
Commission,Rate,Account,Connection,`` with a trailing empty column. One file
holds the executions of every account shown in the grid; the leader's rows
become the fills.
"""

from __future__ import annotations

from journal.importers.base import NINJATRADER_EXECUTIONS, ImportResult, ParseContext
from journal.importers.fills import replay_order, select_leader
from journal.importers.table import Table
from routing.engine.types import LeaderFill, Side

NINJATRADER_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("Instrument",),
    ("Action",),
    ("Quantity",),
    ("Price",),
    ("Time",),
    ("ID",),
    ("Account",),
)
NINJATRADER_SIDES = {
    "buy": Side.BUY,
    "buy to cover": Side.BUY,
    "sell": Side.SELL,
    "sell short": Side.SELL,
}
# US locale, 12-hour clock as in "1/28/2025 10:59:52 AM"; a 24-hour variant is also accepted.
NINJATRADER_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")
NINJATRADER_TIME_EXPECTED = "M/D/YYYY h:mm:ss AM/PM"


def parse_executions(table: Table, ctx: ParseContext) -> ImportResult:
    """NinjaTrader 8 Executions grid: one :class:`LeaderFill` per row of the leader account.

    ``event_id`` = ``ID`` (a GUID on sim accounts, a number on live ones),
    ``symbol`` = normalised ``Instrument`` (``"MNQ MAR25"`` -> ``"MNQH5"``),
    side = ``Action`` (Buy / Sell; "Buy to Cover" -> BUY, "Sell Short" ->
    SELL), ``qty`` = ``Quantity``, ``price`` = ``Price``, ``time`` = ``Time``
    (zone-less ``M/D/YYYY h:mm:ss AM/PM`` read in ``tz``). ``Commission`` is
    not read. Every row of every account is validated; the leader is
    ``leader_account`` or the only account (see
    :func:`~journal.importers.fills.select_leader`). No trades. Raises
    :class:`~journal.importers.base.ExportError` on a bad row, a repeated ID
    or an ambiguous or unknown leader.
    """
    parsed: list[tuple[LeaderFill, int]] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        event_id = row.bounded_text("ID", ctx.limits.fill_id)
        if event_id in seen:
            raise row.error("ID", f"execution id {event_id} repeats row {seen[event_id]}")
        seen[event_id] = row.line
        symbol = row.symbol("Instrument", ctx.known_roots)
        fill = LeaderFill(
            event_id=event_id,
            account=row.bounded_text("Account", ctx.limits.account),
            symbol=symbol,
            side=row.side("Action", NINJATRADER_SIDES),
            qty=row.quantity("Quantity"),
            price=row.price("Price", symbol, ctx),
            time=row.local_time(
                "Time", NINJATRADER_TIME_FORMATS, ctx.zone, NINJATRADER_TIME_EXPECTED
            ),
        )
        parsed.append((fill, row.line))
    accounts = {fill.account for fill, _ in parsed}
    leader = select_leader(ctx, accounts, "Account")
    return ImportResult(
        path=ctx.path,
        format=NINJATRADER_EXECUTIONS,
        fills=replay_order(item for item in parsed if item[0].account == leader),
        trades=(),
        accounts=tuple(sorted(accounts)),
        leader_account=leader,
        timezone=ctx.tz_name,
        replayable=True,
        not_replayable_reason=None,
    )
