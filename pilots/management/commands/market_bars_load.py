"""``manage.py market_bars_load FILE --family ROOT [--month MY]``: store bars.

Loads 1-minute to 1-hour OHLC bars (JSON or CSV, see
:mod:`pilots.market_data`) as the prices of one product family (a mini
root: ``NQ`` bars price NQ and MNQ fills), for every contract month or for
one (``--month Z5``). Pilots' fills are verified against the stored bars
(:mod:`pilots.records`). A bar already stored (same family, month, interval
and start) is kept as it was: loading a file twice stores it once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from journal.importers import ExportError
from pilots.market_data import load_bars
from pilots.models import MarketBar


class Command(BaseCommand):
    help = "Store 1-minute to 1-hour market data bars that pilots' fills are verified against."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Bars file (JSON or CSV).")
        parser.add_argument("--family", required=True, help="Mini root the bars price, e.g. NQ.")
        parser.add_argument("--month", default=None, help='One contract month, e.g. "Z5".')

    def handle(self, *args: Any, **options: Any) -> None:
        family = options["family"].strip().upper()
        month = (options["month"] or "").strip().upper()
        try:
            series = load_bars(options["file"], family=family, month=month or None)
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        seconds = int(series.interval.total_seconds())
        now = timezone.now()
        stored = MarketBar.objects.filter(family=family, month=month, interval_seconds=seconds)
        with transaction.atomic():
            before = stored.count()
            MarketBar.objects.bulk_create(
                [
                    MarketBar(
                        family=family,
                        month=month,
                        interval_seconds=seconds,
                        start=bar.start,
                        open=bar.open,
                        high=bar.high,
                        low=bar.low,
                        close=bar.close,
                        source=series.source or str(options["file"]),
                        created_at=now,
                        updated_at=now,
                    )
                    for bar in series.bars
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )
            added = stored.count() - before
        self.stdout.write(
            f"{series.describe()}: {len(series.bars)} bar(s) read, {added} new "
            f"({len(series.bars) - added} stored already)"
        )
