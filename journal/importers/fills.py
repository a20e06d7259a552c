"""Leader fills: replay order, choosing the leader account, rebuilding fills from pairs."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from journal.importers.base import ParseContext
from journal.importers.table import Row
from routing.engine.types import LeaderFill, Side


def fill_id_key(event_id: str) -> tuple[int, int]:
    """Sort key of a fill id: numeric ids by value first, other ids (GUIDs) after them, tied."""
    return (0, int(event_id)) if event_id.isdigit() else (1, 0)


def replay_order(fills: Iterable[tuple[LeaderFill, int]]) -> tuple[LeaderFill, ...]:
    """Fills sorted for replay: by time, then numeric fill id, then file line.

    Takes ``(fill, line)`` pairs; the line keeps the file's order among fills
    in the same second whose ids are not numbers (NinjaTrader GUIDs).
    """
    ordered = sorted(fills, key=lambda item: (item[0].time, fill_id_key(item[0].event_id), item[1]))
    return tuple(fill for fill, _ in ordered)


def select_leader(ctx: ParseContext, accounts: Collection[str], field: str | None) -> str:
    """The leader account: ``ctx.leader_account`` if the file has it, else the only account.

    Raises :class:`~journal.importers.base.ExportError` (naming ``field``) when
    the requested leader is not in the file, or when none was requested and
    the file holds several accounts; both messages list the accounts.
    """
    names = sorted(accounts)
    listed = ", ".join(names)
    if ctx.leader_account is not None:
        if ctx.leader_account not in accounts:
            raise ctx.error(
                None,
                field,
                f"leader account {ctx.leader_account!r} is not in the file; accounts in file: "
                f"{listed}",
            )
        return ctx.leader_account
    if len(names) == 1:
        return names[0]
    raise ctx.error(
        None,
        field,
        f"several accounts in file: {listed}; choose the leader with --leader-account",
    )


@dataclass(frozen=True, slots=True)
class _PairedFill:
    account: str
    symbol: str
    side: Side
    price: Decimal
    time: datetime
    first_line: int


class PairedFills:
    """Rebuild fills from paired-trade rows (Tradovate Performance / Position History).

    Each pair row contributes its paired quantity to its buy fill and to its
    sell fill; a fill paired in several rows gets the sum. The same fill id
    seen with another account, symbol, side, price or time is an error naming
    the row and field. The quantities are the *paired* quantities: a part of
    a fill that was never paired (a position still open at export time) is not
    in the file and cannot be rebuilt.
    """

    def __init__(self) -> None:
        self._fills: dict[str, _PairedFill] = {}
        self._qty: dict[str, int] = {}

    def add(
        self,
        row: Row,
        id_field: str,
        fill_id: str,
        *,
        account: str,
        symbol: str,
        side: Side,
        qty: int,
        price: Decimal,
        price_field: str,
        time: datetime,
        time_field: str,
        symbol_field: str,
    ) -> None:
        """Add ``qty`` contracts of fill ``fill_id`` read from ``row``."""
        seen = self._fills.get(fill_id)
        if seen is None:
            self._fills[fill_id] = _PairedFill(account, symbol, side, price, time, row.line)
            self._qty[fill_id] = qty
            return
        where = f"fill {fill_id} (first seen in row {seen.first_line})"
        if seen.side is not side:
            raise row.error(id_field, f"{where} was a {seen.side.value}, here a {side.value}")
        if seen.account != account:
            raise row.error(id_field, f"{where} was on account {seen.account!r}, here {account!r}")
        if seen.symbol != symbol:
            raise row.error(symbol_field, f"{where} was {seen.symbol}, here {symbol}")
        if seen.price != price:
            raise row.error(price_field, f"{where} was at price {seen.price}, here {price}")
        if seen.time != time:
            raise row.error(
                time_field,
                f"{where} was at {seen.time.isoformat()}, here {time.isoformat()}",
            )
        self._qty[fill_id] += qty

    def fills(self, account: str) -> tuple[LeaderFill, ...]:
        """The rebuilt fills of ``account`` in replay order."""
        return replay_order(
            (
                LeaderFill(
                    event_id=fill_id,
                    account=f.account,
                    symbol=f.symbol,
                    side=f.side,
                    qty=self._qty[fill_id],
                    price=f.price,
                    time=f.time,
                ),
                f.first_line,
            )
            for fill_id, f in self._fills.items()
            if f.account == account
        )
