"""TradingView tickers -> engine contract codes, and the front month of "1!"."""

from __future__ import annotations

from datetime import date

import pytest

from routing.engine.symbols import SymbolError
from routing.webhooks.symbols import contract_code, front_month, third_friday

DAY = date(2026, 3, 5)


@pytest.mark.parametrize(
    ("ticker", "code"),
    [
        ("MNQH2026", "MNQH6"),
        ("CME_MINI:MNQH2026", "MNQH6"),
        ("cme_mini:esz2027", "ESZ7"),
        ("MNQH26", "MNQH6"),
        ("MNQH6", "MNQH6"),
        ("NQ 06-26", "NQM6"),
        ("MNQ1!", "MNQH6"),
        ("CME_MINI:ES1!", "ESH6"),
    ],
)
def test_tickers_map_to_contract_codes(ticker: str, code: str) -> None:
    assert contract_code(ticker, DAY) == code


def test_third_friday() -> None:
    assert third_friday(2026, 3) == date(2026, 3, 20)
    assert third_friday(2026, 5) == date(2026, 5, 15)  # May 1st is a Friday


def test_front_month_rolls_eight_days_before_expiry() -> None:
    # March 2026 expires on the 20th: roll date Thursday the 12th.
    assert front_month("MNQ", date(2026, 3, 11)) == "MNQH6"
    assert front_month("MNQ", date(2026, 3, 12)) == "MNQM6"
    # After December's roll the front month is next year's March.
    assert front_month("ES", date(2026, 12, 10)) == "ESH7"
    assert front_month("ES", date(2026, 12, 9)) == "ESZ6"


@pytest.mark.parametrize("ticker", ["CL1!", "GC1!", "MNQ", "MNQ2!", "", "MNQH20266"])
def test_unreadable_or_unsupported_tickers_raise_naming_them(ticker: str) -> None:
    with pytest.raises(SymbolError):
        contract_code(ticker, DAY)
