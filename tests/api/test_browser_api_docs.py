"""The API's Swagger UI in headless Chromium: it loads the schema and lists
the operations under the site's Content Security Policy, with no violation.
Runs with ``-m browser``."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, expect

from tests.browser import ChromiumLiveServerTestCase
from tests.test_browser_csp import LISTEN


@pytest.mark.browser
class ApiDocsInChromiumTests(ChromiumLiveServerTestCase):
    def test_the_docs_render_every_operation_without_a_violation(self) -> None:
        page = self.browser.new_page()
        page.add_init_script(LISTEN)
        console_errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                console_errors.append(message.text)

        page.on("console", on_console)

        page.goto(f"{self.live_server_url}/api/v1/docs/")

        # Swagger UI (a static file) fetched the schema and drew its operations.
        expect(
            page.locator(".opblock-summary-path", has_text="/api/v1/groups/{id}/flatten/")
        ).to_have_count(1, timeout=15_000)
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Copytrade API")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__cspViolations") == []
        assert console_errors == []
        page.close()
