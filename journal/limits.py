"""Column limits of the tables imported numbers and ids end up in, read from the models.

A broker export's fills become ``LeaderEvent`` rows when replayed (and
journal ``Fill`` rows), its round trips ``Trade`` rows; each value must fit
the narrowest column it is written to. The limits are read from the model
fields (``max_digits``/``decimal_places``, ``max_length``), never copied, so
they follow a migration. The checks themselves are pure
(:mod:`routing.engine.bounds`).
"""

from __future__ import annotations

from django.db import models

from accounts.models import BrokerAccount
from journal.importers.base import ImportLimits
from journal.models import ExportImport, Fill, Trade
from routing.engine.bounds import DecimalColumn
from routing.models import CopyGroup, LeaderEvent, RiskLimit


def decimal_column(*fields: models.Field) -> DecimalColumn:
    """The narrowest of ``fields`` (``DecimalField``s) as a :class:`DecimalColumn`."""
    columns = [_decimal(field) for field in fields]
    return DecimalColumn(
        max_digits=min(c.whole_digits for c in columns) + min(c.decimal_places for c in columns),
        decimal_places=min(c.decimal_places for c in columns),
    )


def _decimal(field: models.Field) -> DecimalColumn:
    if not isinstance(field, models.DecimalField):
        raise TypeError(f"{field} is not a DecimalField")
    return DecimalColumn(max_digits=field.max_digits, decimal_places=field.decimal_places)


def _length(*fields: models.Field) -> int:
    lengths = [field.max_length for field in fields if field.max_length is not None]
    if not lengths:
        raise TypeError(f"{fields} have no max_length")
    return min(lengths)


def import_limits() -> ImportLimits:
    """The :class:`ImportLimits` of an export import, from the models it is written to."""
    event, fill, trade = LeaderEvent._meta, Fill._meta, Trade._meta
    return ImportLimits(
        price=decimal_column(
            event.get_field("price"),
            fill.get_field("price"),
            trade.get_field("entry_price"),
            trade.get_field("exit_price"),
        ),
        money=decimal_column(trade.get_field("pnl"), trade.get_field("fees")),
        fill_id=_length(event.get_field("external_id"), fill.get_field("broker_fill_id")),
        account=_length(
            trade.get_field("account_name"),
            ExportImport._meta.get_field("leader_account_name"),
        ),
        trade_id=_length(trade.get_field("external_id")),
    )


def money_column() -> DecimalColumn:
    """The narrowest dollar column a route file's balances and limits are stored in."""
    limit, group = RiskLimit._meta, CopyGroup._meta
    return decimal_column(
        BrokerAccount._meta.get_field("balance"),
        BrokerAccount._meta.get_field("starting_balance"),
        group.get_field("max_session_loss"),
        *(
            limit.get_field(key)
            for key in (
                "daily_loss",
                "daily_profit_target",
                "exposure_cap",
                "max_drawdown",
                "profit_target",
            )
        ),
    )
