"""The browser prints numbers as the server does: ``static/js/numbers.js``
(what pages update live) against :mod:`copytrade.core.numbers`, on the same
inputs, in headless Chromium. Runs with ``-m browser``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copytrade.core.numbers import dollars, fixed, money, price
from tests.browser import ChromiumLiveServerTestCase
from tests.test_numbers import PRICES

AMOUNTS = [
    "1234.5", "-80", "0", "-0.004", "-0.005", "0.005", "1E+6", "-12.345",
    "21500.250000", "-999999.995", "0.1", "123456789.125",
]  # fmt: skip


@pytest.mark.browser
class NumbersInTheBrowserTests(ChromiumLiveServerTestCase):
    def test_money_amounts_and_prices_match_the_server(self) -> None:
        page = self.browser.new_page()
        page.goto(f"{self.live_server_url}/login/")
        # The pages that update numbers live load it (the group page, charts).
        page.add_script_tag(url=f"{self.live_server_url}/static/js/numbers.js")
        prices = [
            [str(v) if isinstance(v, Decimal) else v, None if t is None else str(t)]
            for v, t, _ in PRICES
        ]
        shown = page.evaluate(
            """([amounts, prices]) => ({
                money: amounts.map((a) => window.ctNumbers.money(a)),
                dollars: amounts.map((a) => window.ctNumbers.dollars(a)),
                prices: prices.map(([v, t]) => window.ctNumbers.price(v, t)),
                fixed: amounts.map((a) => window.ctNumbers.fixed(a, 2)),
            })""",
            [AMOUNTS, prices],
        )
        page.close()
        assert shown["money"] == [money(Decimal(a)) for a in AMOUNTS]
        assert shown["dollars"] == [dollars(Decimal(a)) for a in AMOUNTS]
        assert shown["prices"] == [price(v, t) for v, t, _ in PRICES]
        assert shown["fixed"] == [fixed(Decimal(a), 2) for a in AMOUNTS]
