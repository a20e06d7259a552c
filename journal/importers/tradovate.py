"""Tradovate *Reports* exports: Fills, Performance and Position History.

Format facts come from ``shared/data/SOURCES.md``: section 1 (Fills and
Performance of one account, hamtaro777/tradovate-analytics-test), section 4
(three more Performance files, arielSofer/aiTradeReports) and section 5
(Position History, GeneBO98/tradetally).

Time zones. ``_timestamp`` in Fills is ISO UTC. Every other Tradovate
timestamp (``Timestamp`` in Fills, ``boughtTimestamp``/``soldTimestamp`` in
Performance, ``Bought Timestamp``/``Sold Timestamp`` in Position History) is
wall-clock time in the exporting browser's zone, written without the zone:
the hamtaro777 files are Asia/Tokyo (UTC+9; the Fills file has both columns
for the same fills) and the arielSofer Performance files are UTC+2 (their
MNQZ5 fill prices fall inside the NQ 5-minute bars of ``marketData_5m.json``
only at +2 h). Those columns are read in the caller's ``tz``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import PurePath

from journal.importers.base import (
    TRADOVATE_FILLS,
    TRADOVATE_PERFORMANCE,
    TRADOVATE_POSITION_HISTORY,
    ImportedTrade,
    ImportResult,
    ParseContext,
)
from journal.importers.fills import PairedFills, fill_id_key, replay_order, select_leader
from journal.importers.table import Row, Table
from routing.engine.types import LeaderFill, Side

TRADOVATE_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
TRADOVATE_TIME_FORMATS = ("%m/%d/%Y %H:%M:%S",)
TRADOVATE_TIME_EXPECTED = "MM/DD/YYYY HH:MM:SS"

FILLS_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("Fill ID", "_id"),
    ("Account",),
    ("B/S",),
    ("Contract",),
    ("Quantity",),
    ("Price",),
    ("_timestamp",),
)
PERFORMANCE_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("symbol",),
    ("buyFillId",),
    ("sellFillId",),
    ("qty",),
    ("buyPrice",),
    ("sellPrice",),
    ("pnl",),
    ("boughtTimestamp",),
    ("soldTimestamp",),
)
POSITION_HISTORY_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("Account",),
    ("Contract",),
    ("Pair ID",),
    ("Buy Fill ID",),
    ("Sell Fill ID",),
    ("Paired Qty",),
    ("Buy Price",),
    ("Sell Price",),
    ("P/L",),
    ("Bought Timestamp",),
    ("Sold Timestamp",),
)


def parse_fills(table: Table, ctx: ParseContext) -> ImportResult:
    """Tradovate Fills report: one :class:`LeaderFill` per row (SOURCES.md section 1).

    ``event_id`` = ``Fill ID`` (``_id`` when that is empty or absent),
    ``account`` = ``Account``, side = ``B/S`` (``" Buy"``/``" Sell"``,
    stripped), ``qty`` = ``Quantity``, ``price`` = ``Price``, ``symbol`` =
    normalised ``Contract``, ``time`` = ``_timestamp`` (ISO UTC; ``tz`` is
    only used if a value has no offset). Fills of the leader account (see
    :func:`~journal.importers.fills.select_leader`) in replay order; no trades.
    Raises :class:`~journal.importers.base.ExportError` on any bad row or a
    repeated fill id.
    """
    id_field = "Fill ID" if table.has("Fill ID") else "_id"
    parsed: list[tuple[LeaderFill, int]] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        event_id = row.check_length(
            id_field, row.raw("Fill ID") or row.text("_id"), ctx.limits.fill_id
        )
        if event_id in seen:
            raise row.error(id_field, f"fill id {event_id} repeats row {seen[event_id]}")
        seen[event_id] = row.line
        symbol = row.symbol("Contract", ctx.known_roots)
        fill = LeaderFill(
            event_id=event_id,
            account=row.bounded_text("Account", ctx.limits.account),
            symbol=symbol,
            side=row.side("B/S", TRADOVATE_SIDES),
            qty=row.quantity("Quantity"),
            price=row.price("Price", symbol, ctx),
            time=row.iso_time("_timestamp", ctx.zone),
        )
        parsed.append((fill, row.line))
    accounts = {fill.account for fill, _ in parsed}
    leader = select_leader(ctx, accounts, "Account")
    return ImportResult(
        path=ctx.path,
        format=TRADOVATE_FILLS,
        fills=replay_order(item for item in parsed if item[0].account == leader),
        trades=(),
        accounts=tuple(sorted(accounts)),
        leader_account=leader,
        timezone=ctx.tz_name,
        replayable=True,
        not_replayable_reason=None,
    )


@dataclass(frozen=True, slots=True)
class _PairColumns:
    symbol: str
    buy_id: str
    sell_id: str
    qty: str
    buy_price: str
    sell_price: str
    pnl: str
    bought_at: str
    sold_at: str
    pair_id: str | None


_PERFORMANCE = _PairColumns(
    symbol="symbol",
    buy_id="buyFillId",
    sell_id="sellFillId",
    qty="qty",
    buy_price="buyPrice",
    sell_price="sellPrice",
    pnl="pnl",
    bought_at="boughtTimestamp",
    sold_at="soldTimestamp",
    pair_id=None,
)
_POSITION_HISTORY = _PairColumns(
    symbol="Contract",
    buy_id="Buy Fill ID",
    sell_id="Sell Fill ID",
    qty="Paired Qty",
    buy_price="Buy Price",
    sell_price="Sell Price",
    pnl="P/L",
    bought_at="Bought Timestamp",
    sold_at="Sold Timestamp",
    pair_id="Pair ID",
)


def parse_performance(table: Table, ctx: ParseContext) -> ImportResult:
    """Tradovate Performance report (paired trades, SOURCES.md sections 1 and 4).

    The file has no account column. Its account is ``leader_account`` when
    the caller names one, else the file name's stem (``"Performance (1)"``;
    ``"tradovate-performance"`` if the name is empty).
    Each row is one :class:`ImportedTrade` (``external_id`` =
    ``"<buyFillId>-<sellFillId>"``, short when ``soldTimestamp`` is earlier
    than ``boughtTimestamp``, ``pnl`` from ``$23.75`` / ``$(41.25)``, fees 0)
    and adds ``qty`` to fill ``buyFillId`` (BUY at ``buyPrice``,
    ``boughtTimestamp``) and to fill ``sellFillId`` (SELL at ``sellPrice``,
    ``soldTimestamp``); a fill paired in several rows gets the summed qty.
    Timestamps are zone-less ``MM/DD/YYYY HH:MM:SS`` read in ``tz``.
    Raises :class:`~journal.importers.base.ExportError` on a bad row, a fill id
    seen with a different price, time or symbol, or a repeated pair.
    """
    account = ctx.leader_account or PurePath(ctx.name).stem or "tradovate-performance"
    if len(account) > ctx.limits.account:
        raise ctx.error(
            None,
            None,
            f"account {account[:40]!r}... (the file name) is {len(account)} characters; the "
            f"account column holds at most {ctx.limits.account}: name the leader account",
        )
    builder = PairedFills()
    trades = _read_pairs(table.rows, ctx, _PERFORMANCE, builder, lambda _row: account)
    return ImportResult(
        path=ctx.path,
        format=TRADOVATE_PERFORMANCE,
        fills=builder.fills(account),
        trades=_by_close(trades),
        accounts=(account,),
        leader_account=account,
        timezone=ctx.tz_name,
        replayable=True,
        not_replayable_reason=None,
    )


def parse_position_history(table: Table, ctx: ParseContext) -> ImportResult:
    """Tradovate Position History report (SOURCES.md section 5).

    Each row is a position (``Position ID``, ``Bought``, ``Sold`` repeated on
    every row of that position) plus one pair; only the pair columns are
    summed. Trades and fill rebuilding as in :func:`parse_performance`, with
    ``account`` = ``Account``, ``symbol`` = ``Contract``, ``external_id`` =
    ``Pair ID``; the leader is chosen as in the Fills report. When the
    leader's pairs do not add up to a position's ``Bought``/``Sold`` totals,
    fills are missing from the file: the paired fills still form a consistent
    stream (each pair opens and closes), so the result stays replayable and
    ``notes`` says what is missing.
    """
    builder = PairedFills()
    positions = _PositionTotals(table)
    trades = _read_pairs(
        table.rows,
        ctx,
        _POSITION_HISTORY,
        builder,
        lambda row: row.bounded_text("Account", ctx.limits.account),
        on_pair=positions.add,
    )
    accounts = {trade.account for trade, _ in trades}
    leader = select_leader(ctx, accounts, "Account")
    gaps = positions.gaps(leader)
    notes = ()
    if gaps:
        notes = (
            f"{'; '.join(gaps)}: fills are missing from the file; only the paired fills "
            "are replayed (export the Fills report for the complete stream)",
        )
    return ImportResult(
        path=ctx.path,
        format=TRADOVATE_POSITION_HISTORY,
        fills=builder.fills(leader),
        trades=_by_close(trades),
        accounts=tuple(sorted(accounts)),
        leader_account=leader,
        timezone=ctx.tz_name,
        replayable=True,
        not_replayable_reason=None,
        notes=notes,
    )


def _read_pairs(
    rows: Iterable[Row],
    ctx: ParseContext,
    cols: _PairColumns,
    builder: PairedFills,
    account_of: Callable[[Row], str],
    on_pair: Callable[[Row, str, int], None] | None = None,
) -> list[tuple[ImportedTrade, int]]:
    """Trades (with their lines) of pair rows; adds each pair's fills to ``builder``.

    ``on_pair(row, account, qty)`` is called for each row once it is read
    (the rows are read once: what else a format needs is kept on the way).
    """
    trades: list[tuple[ImportedTrade, int]] = []
    pairs: dict[tuple[str, str], int] = {}
    pair_ids: dict[str, int] = {}
    for row in rows:
        account = account_of(row)
        symbol = row.symbol(cols.symbol, ctx.known_roots)
        buy_id = row.bounded_text(cols.buy_id, ctx.limits.fill_id)
        sell_id = row.bounded_text(cols.sell_id, ctx.limits.fill_id)
        if (buy_id, sell_id) in pairs:
            raise row.error(
                cols.sell_id,
                f"pair {buy_id}-{sell_id} repeats row {pairs[buy_id, sell_id]}",
            )
        pairs[buy_id, sell_id] = row.line
        external_id = row.check_length(cols.sell_id, f"{buy_id}-{sell_id}", ctx.limits.trade_id)
        if cols.pair_id is not None:
            external_id = row.bounded_text(cols.pair_id, ctx.limits.trade_id)
            if external_id in pair_ids:
                raise row.error(
                    cols.pair_id, f"pair id {external_id} repeats row {pair_ids[external_id]}"
                )
            pair_ids[external_id] = row.line
        qty = row.quantity(cols.qty)
        buy_price = row.price(cols.buy_price, symbol, ctx)
        sell_price = row.price(cols.sell_price, symbol, ctx)
        bought_at = _local_time(row, cols.bought_at, ctx)
        sold_at = _local_time(row, cols.sold_at, ctx)
        pnl = row.amount(cols.pnl, ctx.limits.money)
        builder.add(
            row,
            cols.buy_id,
            buy_id,
            account=account,
            symbol=symbol,
            side=Side.BUY,
            qty=qty,
            price=buy_price,
            price_field=cols.buy_price,
            time=bought_at,
            time_field=cols.bought_at,
            symbol_field=cols.symbol,
        )
        builder.add(
            row,
            cols.sell_id,
            sell_id,
            account=account,
            symbol=symbol,
            side=Side.SELL,
            qty=qty,
            price=sell_price,
            price_field=cols.sell_price,
            time=sold_at,
            time_field=cols.sold_at,
            symbol_field=cols.symbol,
        )
        short = (sold_at, fill_id_key(sell_id)) < (bought_at, fill_id_key(buy_id))
        trade = ImportedTrade(
            external_id=external_id,
            account=account,
            symbol=symbol,
            side=Side.SELL if short else Side.BUY,
            qty=qty,
            entry_price=sell_price if short else buy_price,
            exit_price=buy_price if short else sell_price,
            pnl=pnl,
            fees=Decimal("0"),
            opened_at=min(bought_at, sold_at),
            closed_at=max(bought_at, sold_at),
        )
        trades.append((trade, row.line))
        if on_pair is not None:
            on_pair(row, account, qty)
    return trades


class _PositionTotals:
    """Each position's ``Bought``/``Sold`` totals and the quantity its pairs add up to.

    Kept while the rows are read (they are read once), per account, since
    the leader is known only at the end. Holds the first row of each
    position and one sum, not the rows.
    """

    def __init__(self, table: Table) -> None:
        self.enabled = all(table.has(column) for column in ("Position ID", "Bought", "Sold"))
        self._first: dict[tuple[str, str], Row] = {}
        self._paired: dict[tuple[str, str], int] = {}

    def add(self, row: Row, account: str, qty: int) -> None:
        """Count ``qty`` paired contracts of ``row``'s position (``account``'s)."""
        if not self.enabled:
            return
        key = (account, row.raw("Position ID"))
        self._first.setdefault(key, row)
        self._paired[key] = self._paired.get(key, 0) + qty

    def gaps(self, leader: str) -> list[str]:
        """Leader positions whose pairs in the file do not cover their Bought/Sold totals."""
        gaps = []
        for (account, position), row in self._first.items():
            if account != leader:
                continue
            row.text("Position ID")  # refuses an empty id, naming the row
            contract, bought, sold = row.raw("Contract"), row.count("Bought"), row.count("Sold")
            paired = self._paired[account, position]
            if paired != bought or paired != sold:
                gaps.append(
                    f"position {position} ({leader}, {contract}) bought {bought} and sold "
                    f"{sold} contracts but its pairs in the file add up to {paired}"
                )
        return gaps


def _local_time(row: Row, field: str, ctx: ParseContext) -> datetime:
    return row.local_time(field, TRADOVATE_TIME_FORMATS, ctx.zone, TRADOVATE_TIME_EXPECTED)


def _by_close(trades: list[tuple[ImportedTrade, int]]) -> tuple[ImportedTrade, ...]:
    return tuple(trade for trade, _ in sorted(trades, key=lambda t: (t[0].closed_at, t[1])))
