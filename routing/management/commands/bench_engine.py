"""``manage.py bench_engine [--followers 1,20,200,1000] [--events 500] [--database-url URL]
[--sustained 60 --sustained-rate 25 --sustained-followers 200]``

Replays a long seeded leader stream through the engine worker and the paper
broker, per follower count, on a scratch database (never the configured
one), and prints one JSON document: per case p50 / p99 / max milliseconds
from a leader event to its last follower order handed to the adapter, events
and orders per second, the split by stage, the database floor of the same
rows (:mod:`routing.runtime.bench_floor`) and the ratio to it; then the
sustained case (:mod:`routing.runtime.bench_sustained`). What is measured
and how: :mod:`routing.runtime.bench`; the scratch database:
:mod:`routing.runtime.bench_scratch`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.runtime.bench_config import (
    DEFAULT_EVENTS,
    DEFAULT_FOLLOWERS,
    DEFAULT_SEED,
    DEFAULT_SUSTAINED_FOLLOWERS,
    DEFAULT_SUSTAINED_RATE,
    DEFAULT_SUSTAINED_SECONDS,
    DEFAULT_WARMUP,
    BenchConfig,
    BenchError,
    parse_followers,
)
from routing.runtime.bench_scratch import run_child, run_isolated


class Command(BaseCommand):
    help = "Benchmark the copy engine path (leader event -> follower orders) on a scratch DB."
    # No system checks: they open the configured database (the JSON field
    # probe), which this command never touches, parent or child.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        followers = ",".join(str(n) for n in DEFAULT_FOLLOWERS)
        parser.add_argument(
            "--followers", default=followers, help=f"Follower counts, one case each ({followers})."
        )
        parser.add_argument(
            "--events", type=int, default=DEFAULT_EVENTS, help="Measured leader events per case."
        )
        parser.add_argument(
            "--warmup",
            type=int,
            default=DEFAULT_WARMUP,
            help=f"Leader events run first and not counted (default {DEFAULT_WARMUP}).",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Leader stream seed.")
        parser.add_argument(
            "--database-url",
            default=None,
            help="Run on PostgreSQL instead of a scratch SQLite file: a database the "
            "benchmark creates and drops, e.g. postgres://postgres@127.0.0.1:5432/copytrade_bench "
            "(refused if it already exists).",
        )
        parser.add_argument(
            "--skip-unreachable",
            action="store_true",
            help="With --database-url: when the server cannot be reached, say so and exit 0.",
        )
        parser.add_argument(
            "--profile",
            type=int,
            default=0,
            metavar="N",
            help="Also cProfile extra events of the largest case; top N functions to stderr.",
        )
        parser.add_argument(
            "--profile-events",
            type=int,
            default=1,
            metavar="K",
            help="With --profile: how many extra events are profiled (default 1).",
        )
        parser.add_argument(
            "--sustained",
            type=float,
            default=DEFAULT_SUSTAINED_SECONDS,
            metavar="SECONDS",
            help="Sustained case: seconds of leader events at --sustained-rate "
            f"(default {DEFAULT_SUSTAINED_SECONDS:g}; 0 skips it).",
        )
        parser.add_argument(
            "--sustained-rate",
            type=float,
            default=DEFAULT_SUSTAINED_RATE,
            metavar="PER_S",
            help=f"Leader events per second of the sustained case ({DEFAULT_SUSTAINED_RATE:g}).",
        )
        parser.add_argument(
            "--sustained-followers",
            type=int,
            default=DEFAULT_SUSTAINED_FOLLOWERS,
            metavar="N",
            help=f"Followers of the sustained case ({DEFAULT_SUSTAINED_FOLLOWERS}).",
        )
        parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        def log(message: str) -> None:
            self.stderr.write(message)

        try:
            config = BenchConfig(
                followers=parse_followers(options["followers"]),
                events=options["events"],
                warmup=options["warmup"],
                seed=options["seed"],
                profile_top=options["profile"],
                profile_events=options["profile_events"],
                sustained_seconds=options["sustained"],
                sustained_rate=options["sustained_rate"],
                sustained_followers=options["sustained_followers"],
            )
            if options["child"]:
                result = run_child(config, log=log)
            else:
                result = run_isolated(
                    config,
                    database_url=options["database_url"],
                    skip_unreachable=options["skip_unreachable"],
                    log=log,
                )
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
        if result is not None:
            self.stdout.write(json.dumps(result, indent=2))
