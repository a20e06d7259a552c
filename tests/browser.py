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
from channels.testing import ChannelsLiveServerTestCase
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


def _fresh_sync_executor() -> None:
    # asgiref runs database_sync_to_async calls made outside any request on
    # one class-wide single-thread executor. Once a test class has run the
    # engine on a loop of its own, that executor has a worker thread; a live
    # server forked afterwards inherits the executor but not the thread, so
    # every call it queues (the websocket's login lookup) waits forever and
    # the page never goes live. The child starts with a fresh executor.
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


os.register_at_fork(after_in_child=_fresh_sync_executor)


class ChromiumLiveServerTestCase(ChannelsLiveServerTestCase):
    """A live server and ``browser``, a headless Chromium, for the class.

    Raises ``RuntimeError`` at set-up when ``chromium`` is not installed.
    """

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
