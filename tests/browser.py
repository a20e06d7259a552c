"""What the browser tests share: a live server and headless Debian Chromium.

Playwright's own browser download does not work on this project's machines:
the tests drive Debian's ``chromium`` (``make test`` installs it,
deploy/ensure_services.sh). Each test class gets one live server (the ASGI
application in a forked process, :class:`channels.testing.ChannelsLiveServerTestCase`)
and one browser.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

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
