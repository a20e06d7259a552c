"""``manage.py pilot_stats EXPORT [--tz ZONE] [--nominal-balance DOLLARS]
[--market-data [ROOT=]FILE ...] [--leader-account NAME] [--json]``

A pilot's check of a record before publishing (issue 11): reads a broker
export (Tradovate Fills / Performance / Position History, NinjaTrader 8
Executions, TopstepX), prints the statistics, each row's verification result
with its row number, the anomaly flags and whether the record would be
eligible for listing, and why not. Nothing is written to the database.

``--market-data`` takes 1-minute to 1-hour bars (JSON or CSV, see
:mod:`pilots.market_data`) as the prices of one product family: ``NQ=FILE``
(every month of NQ and MNQ), ``NQZ5=FILE`` (one contract month) or just
``FILE`` when the export trades a single family (the report names it).
Without bars no price can be checked and no row is verified.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from journal.importers import DEFAULT_TIMEZONE, ExportError
from pilots.bars import BarSeries, MarketData, price_family
from pilots.exports import ExportRecord, read_record
from pilots.market_data import load_bars
from pilots.report import build_report, report_data, report_text
from pilots.verification import verify_rows
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.symbols import SymbolError, parse_contract, root_of
from routing.engine.types import ContractSpec
from routing.selectors import engine_contract_specs

_PRODUCT = re.compile(r"^[A-Za-z0-9]{1,6}$")  # a root ("NQ") or a contract code ("NQZ5")
DEFAULT_NOMINAL = Decimal(50_000)  # a common prop-firm account size (Topstep, Apex 50K)


class Command(BaseCommand):
    help = "Statistics, verification, anomaly flags and listing eligibility of a broker export."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("export", help="Broker export file (CSV).")
        parser.add_argument(
            "--tz", default=DEFAULT_TIMEZONE,
            help=f"IANA zone of timestamps that carry none (default {DEFAULT_TIMEZONE}).",
        )
        parser.add_argument(
            "--nominal-balance", default=str(DEFAULT_NOMINAL), metavar="DOLLARS",
            help=f"Declared nominal account size in dollars (default {DEFAULT_NOMINAL}).",
        )
        parser.add_argument(
            "--market-data", action="append", default=[], metavar="[ROOT=]FILE",
            help="Bars pricing one product family (repeatable), e.g. NQ=marketData_5m.json.",
        )
        parser.add_argument(
            "--leader-account", default=None,
            help="Account whose record it is, when the export holds several.",
        )
        parser.add_argument("--json", action="store_true", help="One JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        nominal = _nominal(options["nominal_balance"])
        specs = _specs()
        try:
            record = read_record(options["export"], specs=specs, tz=options["tz"],
                                 leader_account=options["leader_account"])
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        series = [_series(text, record, specs) for text in options["market_data"]]
        market = MarketData(series, specs)
        ticks = {root: spec.tick_size for root, spec in specs.items()}
        results = verify_rows(record.rows, market=market, tick_sizes=ticks,
                              checked_at=timezone.now())
        report = build_report(
            source={
                "file": Path(record.path).name, "format": record.format,
                "account": record.account, "timezone": options["tz"],
                "market_data": [s.describe() + f" from {s.source}" for s in series],
            },
            trips=record.round_trips.trips, nominal=nominal, results=results,
            prices=[(price, ticks[root_of(symbol)]) for symbol, price in record.prices],
            times=record.times, notes=record.notes,
        )
        if options["json"]:
            self.stdout.write(json.dumps(report_data(report), indent=2))
        else:
            self.stdout.write(report_text(report), ending="")


def _specs() -> dict[str, ContractSpec]:
    """The contract specs in the database, or the project's table when it has none yet.

    The check needs no database: on a fresh install (not migrated, or the
    table empty) the specs the database is seeded from are used
    (:data:`routing.contract_specs.SPECS_BY_ROOT`).
    """
    try:
        specs = engine_contract_specs()
    except DatabaseError:
        specs = {}
    return specs or dict(SPECS_BY_ROOT)


def _nominal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").removeprefix("$"))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise CommandError(f"--nominal-balance: {text!r} is not a dollar amount > 0")
    return value


def _series(text: str, record: ExportRecord, specs: dict[str, ContractSpec]) -> BarSeries:
    """Load ``[ROOT=]FILE``: ROOT a root or a contract code; else the export's main family."""
    name, sep, path = text.partition("=")
    if not sep or not _PRODUCT.match(name.strip()):
        name, path = "", text  # a bare file, whose own name may hold "="
    month = None
    if name:
        code = name.strip().upper()
        if code in specs:
            root = code
        else:
            try:
                contract = parse_contract(code)
            except SymbolError:
                raise CommandError(
                    f"--market-data {text!r}: {name!r} is neither a product root "
                    f"({', '.join(sorted(specs))}) nor a contract code like NQZ5"
                ) from None
            root, month = contract.root, f"{contract.month}{contract.year}"
            if root not in specs:
                raise CommandError(f"--market-data {text!r}: no contract spec for {root!r}")
    else:
        # Only when the export trades one family: applying NQ bars to the gold fills of
        # an export that trades more gold than NQ failed every gold row for nothing.
        families = sorted({price_family(root_of(r.symbol), specs) for r in record.rows})
        if len(families) != 1:
            traded = ", ".join(families) or "nothing"
            raise CommandError(
                f"--market-data {text!r}: the export trades {traded}; name the product the "
                f"bars price, e.g. --market-data {families[0] if families else 'NQ'}={path}"
            )
        root = families[0]
    try:
        return load_bars(path, family=price_family(root, specs), month=month)
    except ExportError as exc:
        raise CommandError(f"--market-data: {exc}") from exc
