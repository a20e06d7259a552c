"""Run the engine worker inside the web server's event loop (embedded default).

Daphne does not speak the ASGI lifespan protocol, so the worker starts on the
first connection the server hands the application (the first page load or
health check). It shares the loop with the websocket consumers, which is
what lets the in-memory channel layer deliver its pushes. With
``ENGINE_EMBEDDED=False`` this wrapper only passes calls through.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_worker_task: asyncio.Task[None] | None = None
_stop: asyncio.Event | None = None


def ensure_embedded_worker() -> None:
    """Start the worker on the running loop once; restart it if it died."""
    global _worker_task, _stop
    if not settings.ENGINE_EMBEDDED:
        return
    if _worker_task is not None and not _worker_task.done():
        return
    from routing.runtime.logins import stored_logins
    from routing.runtime.worker import EngineWorker

    _stop = asyncio.Event()
    # A fixed id per host: a restarted web process takes its leaders' leases
    # back at once instead of waiting for the previous process's to expire.
    worker = EngineWorker(worker_id=f"{socket.gethostname()}-web", **stored_logins())
    _worker_task = asyncio.get_running_loop().create_task(worker.run(_stop), name="copy-engine")
    _worker_task.add_done_callback(_log_exit)
    logger.info("copy engine started inside the web process")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Uploads left by the previous process: its import thread was their
        # only reader (routing.runtime.import_thread).
        from routing.runtime.import_thread import import_thread

        import_thread.resume()


def _log_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("embedded copy engine stopped", exc_info=task.exception())


class EmbeddedEngineStarter:
    """ASGI middleware: ensure the embedded worker runs, then pass through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ensure_embedded_worker()
        await self.app(scope, receive, send)
