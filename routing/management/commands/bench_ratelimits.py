"""``manage.py bench_ratelimits [--quick] [--followers 20] [--events 3] [--burst 300]``

Sends orders through the per-login request budgets to local fake platforms
over HTTP on 127.0.0.1 (ProjectX, Tradovate, IB; 20 followers on one login
and on 20 logins; a 300-order ProjectX burst; a Tradovate penalty ticket;
an unbudgeted control burst) and prints one JSON document: per case the
seconds until the last order was accepted, orders accepted, the longest
wait on a budget and the server's counted rejections and penalties, plus the
machine's load average. ``violations`` (429s and requests that ignored a
penalty, over the budgeted cases) must be 0. What is measured:
:mod:`routing.runtime.bench_ratelimits`. The default run takes about 70 s
(the burst waits for ProjectX's 60 s window); ``--quick`` a few seconds.
Touches no database.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.runtime.bench_ratelimits import (
    DEFAULT_BURST,
    DEFAULT_EVENTS,
    DEFAULT_FOLLOWERS,
    BenchRatelimitsConfig,
    run_bench,
)


class Command(BaseCommand):
    help = "Benchmark the per-login request budgets against local rate-limited HTTP platforms."
    requires_system_checks: list[str] = []  # no database is needed

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Windows over 10 s shortened twenty-fold on client and server (tests).",
        )
        parser.add_argument("--followers", type=int, default=DEFAULT_FOLLOWERS)
        parser.add_argument(
            "--events", type=int, default=DEFAULT_EVENTS, help="Leader events per case."
        )
        parser.add_argument(
            "--burst", type=int, default=DEFAULT_BURST, help="Orders of the ProjectX burst."
        )
        parser.add_argument(
            "--penalty-seconds",
            type=float,
            default=None,
            help="p-time of the injected Tradovate penalty (2 s; 0.5 s with --quick).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        penalty = options["penalty_seconds"]
        if penalty is None:
            penalty = 0.5 if options["quick"] else 2.0
        try:
            config = BenchRatelimitsConfig(
                followers=options["followers"],
                events=options["events"],
                burst=options["burst"],
                quick=options["quick"],
                penalty_seconds=penalty,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result = asyncio.run(run_bench(config))
        self.stdout.write(json.dumps(result, indent=2))
