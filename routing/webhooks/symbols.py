"""TradingView ticker spellings -> the engine's contract codes.

TradingView sends ``{{ticker}}`` as ``"MNQH2026"`` (root, month letter,
four-digit year), ``"MNQ1!"`` (the continuous front month) or with its
exchange prefix, ``"CME_MINI:MNQH2026"``. The engine's form is the CME
Globex code ``"MNQH6"`` (:mod:`routing.engine.symbols`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from routing.engine.symbols import MONTH_CODES, SymbolError, parse_contract

_FULL_YEAR = re.compile(r"^(?P<root>[A-Z0-9]{1,4}?)(?P<month>[FGHJKMNQUVXZ])(?P<year>\d{4})$")
_CONTINUOUS = re.compile(r"^(?P<root>[A-Z0-9]{1,4})1!$")

# Equity index futures list the quarterly months March, June, September and
# December and expire on the third Friday of the month; CME's roll date
# (when volume moves to the next quarter) is eight days before, the Thursday
# of the week before (CME Group, "Equity Index Roll Dates"). Only these
# products get a front month from "1!": other products roll on cycles of
# their own, so their alerts must name the contract.
QUARTERLY_ROOTS = frozenset({"ES", "MES", "NQ", "MNQ", "YM", "MYM", "RTY", "M2K"})
_QUARTER_MONTHS = (3, 6, 9, 12)
ROLL_DAYS_BEFORE_EXPIRY = 8


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``month`` (the equity index expiry day)."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def front_month(root: str, today: date) -> str:
    """The front quarterly contract of ``root`` on ``today``: the first
    quarter month whose roll date (``ROLL_DAYS_BEFORE_EXPIRY`` days before its
    third-Friday expiry) is still ahead, e.g. MNQ on 2026-03-05 -> ``"MNQH6"``,
    on 2026-03-12 (the roll date) -> ``"MNQM6"``. Raises ``SymbolError`` for a
    root not in ``QUARTERLY_ROOTS``."""
    if root not in QUARTERLY_ROOTS:
        raise SymbolError(
            f"no front month known for {root}1!: send the contract code (e.g. {root}Z2026)"
        )
    year = today.year
    while True:
        for month in _QUARTER_MONTHS:
            roll = third_friday(year, month) - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)
            if today < roll:
                return f"{root}{MONTH_CODES[month - 1]}{year % 10}"
        year += 1


def contract_code(ticker: str, today: date) -> str:
    """The engine's contract code for a TradingView ``ticker`` on ``today``
    (the alert's date, for ``"1!"``): ``"CME_MINI:MNQH2026"`` -> ``"MNQH6"``,
    ``"MNQ1!"`` -> the front month. Raises ``SymbolError`` naming the ticker
    when it is none of the accepted spellings."""
    text = ticker.strip().upper()
    _, _, text = text.rpartition(":")  # the exchange prefix says nothing the root does not
    if m := _CONTINUOUS.match(text):
        return front_month(m["root"], today)
    if m := _FULL_YEAR.match(text):
        return f"{m['root']}{m['month']}{int(m['year']) % 10}"
    try:
        return parse_contract(text).code
    except SymbolError:
        raise SymbolError(
            f"cannot read symbol {ticker!r}: "
            "expected e.g. 'MNQ1!', 'MNQH2026' or 'CME_MINI:MNQH2026'"
        ) from None
