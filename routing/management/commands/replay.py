"""``manage.py replay EXPORT --route ROUTE.toml [--json] [--leader-account NAME]``

A what-if: the route file's group fed every leader fill of a broker export,
through the copy engine and the paper broker, in memory (nothing is written
to the database), applying the route's level and limits and each follower's
risk limits (:mod:`routing.runtime.simulate`). Prints a per-follower summary
(with halts and the route's lock), or with ``--json`` one JSON object per
line, in order: ``{"event": "decision", …}`` per copy decision (its
``reason`` names any limit that blocked or scaled it, with the numbers;
``scaled_from`` the size before a cap), ``{"event": "halt" | "flatten" |
"lock", "time", "reason", …}`` per risk event, and a last
``{"summary": …}`` object.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from journal.importers.base import DEFAULT_TIMEZONE, ExportError
from journal.importers.detect import read_export
from routing.route_file import RouteFileError, load_route_file
from routing.runtime.simulate import simulate
from routing.selectors import engine_contract_specs


class Command(BaseCommand):
    help = "Replay a broker export through a route file's copy group (what-if, in memory)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "export",
            help="Broker export: Tradovate Fills / Performance / Position "
            "History, NinjaTrader 8 Executions grid.",
        )
        parser.add_argument("--route", required=True, help="Route TOML file (see README).")
        parser.add_argument("--json", action="store_true", help="One JSON object per decision.")
        parser.add_argument(
            "--leader-account",
            default=None,
            help="Account in the export whose fills lead (files with several).",
        )
        parser.add_argument(
            "--tz",
            default=DEFAULT_TIMEZONE,
            help=f"Zone of timestamps that carry none (default {DEFAULT_TIMEZONE}).",
        )
        parser.add_argument(
            "--slippage-ticks",
            type=int,
            default=0,
            help="Paper-broker slippage against each follower order (default 0).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            route = load_route_file(options["route"])
        except RouteFileError as exc:
            raise CommandError(str(exc)) from exc
        specs = engine_contract_specs()
        try:
            export = read_export(
                options["export"],
                tz=options["tz"],
                leader_account=options["leader_account"],
                known_roots=specs.keys(),
                tick_sizes={root: spec.tick_size for root, spec in specs.items()},
            )
            export.require_replayable()
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        if options["slippage_ticks"] < 0:
            raise CommandError("--slippage-ticks must be ≥ 0")

        try:
            result = simulate(route, export.fills, specs, slippage_ticks=options["slippage_ticks"])
        except RouteFileError as exc:
            raise CommandError(str(exc)) from exc
        summary = {
            "export": export.path,
            "format": export.format,
            "leader_account": export.leader_account,
            "timezone": export.timezone,
            "timezone_note": (
                f"timestamps without a zone were read as {export.timezone}"
                + (" (the default; change with --tz)" if options["tz"] == DEFAULT_TIMEZONE else "")
            ),
            "notes": list(export.notes),
            **result.summary,
        }
        if options["json"]:
            for record in result.records:
                self.stdout.write(json.dumps(record.as_json()))
            self.stdout.write(json.dumps({"summary": summary}))
            return
        self._print_summary(summary)

    def _print_summary(self, summary: dict[str, Any]) -> None:
        out = self.stdout.write
        leader = summary["leader"]
        out(
            f"Route {summary['route']!r}: {leader['fills']} leader fills of "
            f"{summary['leader_account']} from {summary['export']} ({summary['format']})"
        )
        out(f"Note: {summary['timezone_note']}.")
        for note in summary["notes"]:
            out(f"Note: {note}")
        out(
            f"Leader {leader['name']}: final position {_positions(leader['final_position'])}, "
            f"realized {leader['realized_pnl']}, unrealized {leader['unrealized_pnl']}"
        )
        level = summary["level"]
        if summary["final_level"] != level:
            level = f"{level} \u2192 {summary['final_level']}"
        out(f"Route level {level}")
        header = (
            f"{'follower':<20} {'ratio':>6} {'sent':>5} {'filled':>6} {'rejected':>8} "
            f"{'blocked':>7} {'scaled':>6} {'skipped':>7} {'halts':>5} {'flattened':>9}  "
            f"{'final position':<18} {'realized':>11} {'unrealized':>11}"
        )
        out(header)
        out("-" * len(header))
        for f in summary["followers"]:
            out(
                f"{f['follower']:<20} {f['ratio']:>6} {f['sent']:>5} {f['filled']:>6} "
                f"{f['rejected']:>8} {f['blocked']:>7} {f['scaled']:>6} {f['skipped']:>7} "
                f"{len(f['halts']):>5} {f['flatten_orders']:>9}  "
                f"{_positions(f['final_position']):<18} "
                f"{f['realized_pnl']:>11} {f['unrealized_pnl']:>11}"
            )
        for f in summary["followers"]:
            for halt in f["halts"]:
                out(
                    f"Halt: {f['follower']} at {halt['time']} (session {halt['trading_date']}), "
                    f"entries blocked until the next session: {halt['reason']}"
                )
        if summary["lock"] is not None:
            out(
                f"Route locked (level 4) at {summary['lock']['time']} for the rest of the "
                f"replay: {summary['lock']['reason']}"
            )


def _positions(positions: dict[str, int]) -> str:
    return ", ".join(f"{q:+d} {s}" for s, q in positions.items()) or "flat"
