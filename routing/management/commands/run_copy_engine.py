"""``manage.py run_copy_engine``: the engine worker as its own process.

For the real deployment (``REDIS_URL`` set; ``ENGINE_EMBEDDED=False`` on the
web process). Run as many as you like, on one machine or several, against
the same PostgreSQL and Redis: each leader is owned by one worker through a
lease (``routing.services.leases``), and a dead worker's leaders are taken
over by the others within about 10 s. SIGTERM / SIGINT stop cleanly and
release the leases, so the others take over at once.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from routing.runtime.logins import stored_logins
from routing.runtime.worker import POLL_SECONDS, EngineWorker
from routing.services.leases import default_worker_id


class Command(BaseCommand):
    help = "Run the copy engine worker (leader streams in, follower orders out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=POLL_SECONDS,
            help="How often to look for new leaders and replay jobs.",
        )
        parser.add_argument(
            "--worker-id",
            default=default_worker_id(),
            help=(
                "This worker's name in the lease rows (default <hostname>-<pid>). Give a "
                "stable one per slot (e.g. host-engine-1) so a restart takes its leaders "
                "back at once; never the same one to two running workers."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENGINE_EMBEDDED:
            self.stderr.write(
                "Note: ENGINE_EMBEDDED is on, so the web process runs an engine too; "
                "set ENGINE_EMBEDDED=False when deploying this worker."
            )
        asyncio.run(self._run(options["poll_seconds"], options["worker_id"]))

    async def _run(self, poll_seconds: float, worker_id: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write(f"copy engine worker {worker_id} running; SIGTERM to stop")
        worker = EngineWorker(poll_seconds=poll_seconds, worker_id=worker_id, **stored_logins())
        await worker.run(stop)
        self.stdout.write(f"copy engine worker {worker_id} stopped")
