"""What the browser tests share: a live server and headless Debian Chromium.

Playwright's own browser download does not work on this project's machines:
the tests drive Debian's ``chromium`` (``make test`` installs it,
deploy/ensure_services.sh). Each test class gets one live server (the ASGI
application in a forked process, :class:`channels.testing.ChannelsLiveServerTestCase`)
and one browser.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


class FreshDaphneProcess(DaphneProcess):
    """The live server, forked from the test process, first dropping the
    async state the fork copied: asgiref's one-thread executor for
    thread-sensitive calls (every ``database_sync_to_async``) and the cached
    channel layers. A test class that ran the engine in the test process
    leaves that executor with a worker thread the child does not have, and
    the next class's server then queued its websocket logins forever."""

    def run(self) -> None:
        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        channel_layers.backends = {}
        super().run()


class ChromiumLiveServerTestCase(ChannelsLiveServerTestCase):
    """A live server and ``browser``, a headless Chromium, for the class.

    Raises ``RuntimeError`` at set-up when ``chromium`` is not installed.
    """

    ProtocolServerProcess = FreshDaphneProcess
    browser: Browser
    _playwright: Playwright

    @classmethod
    def setUpClass(cls) -> None:
        # Playwright's sync API runs its own event loop in this thread; the
        # ORM calls the test makes between page actions are still sequential.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        executable = shutil.which("chromium")
        if executable is None:
            raise RuntimeError(
                "chromium not found: `make test` installs it (deploy/ensure_services.sh)"
            )
        cls._playwright = sync_playwright().start()
        cls.browser = cls._playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.browser.close()
        cls._playwright.stop()
        super().tearDownClass()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class EngineLoopLiveServerTestCase(ChromiumLiveServerTestCase):
    """A Chromium live server and ``loop``, an event loop on a thread of its
    own for the engine worker the tests run (this thread runs Playwright's
    loop); one for the class, as the channel layer's Redis connections
    belong to the loop that opened them. ``_run`` runs a coroutine there and
    waits up to 30 s for it."""

    loop: asyncio.AbstractEventLoop
    loop_thread: threading.Thread

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.loop = asyncio.new_event_loop()
        cls.loop_thread = threading.Thread(target=cls.loop.run_forever, daemon=True)
        cls.loop_thread.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.loop.call_soon_threadsafe(cls.loop.stop)
        cls.loop_thread.join(timeout=5)
        # channels-redis flushes on the loop as it closes: not on this thread
        # (Playwright's loop is running here).
        closer = threading.Thread(target=cls.loop.close)
        closer.start()
        closer.join(timeout=5)
        super().tearDownClass()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)
