"""``manage.py run_copy_engine``: the engine worker as its own process.

For the real deployment (``REDIS_URL`` set; run one per host next to
daphne). SIGTERM / SIGINT finish the event in hand, then stop. In the
embedded default the same worker runs inside the web process instead.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from routing.runtime.worker import POLL_SECONDS, EngineWorker


class Command(BaseCommand):
    help = "Run the copy engine worker (leader streams in, follower orders out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=POLL_SECONDS,
            help="How often to look for new leaders and replay jobs.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENGINE_EMBEDDED:
            self.stderr.write(
                "Note: ENGINE_EMBEDDED is on, so the web process runs an engine too; "
                "set ENGINE_EMBEDDED=False when deploying this worker."
            )
        asyncio.run(self._run(options["poll_seconds"]))

    async def _run(self, poll_seconds: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write("copy engine running; SIGTERM to stop")
        await EngineWorker(poll_seconds=poll_seconds).run(stop)
        self.stdout.write("copy engine stopped")
