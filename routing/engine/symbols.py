"""Futures contract codes: parse the spellings brokers use into one form.

The normalised form is the CME Globex code: product root, month letter and
one-digit year, e.g. ``"MNQH5"`` for Micro E-mini Nasdaq-100 March 2025.
Accepted spellings: ``"MNQH5"`` / ``"MNQH25"`` (Tradovate, Rithmic) and
``"MNQ MAR25"`` / ``"MNQ 03-25"`` (NinjaTrader 8).
Month letters are the CME standard (F G H J K M N Q U V X Z).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

MONTH_CODES = "FGHJKMNQUVXZ"
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

_GLOBEX = re.compile(r"^(?P<root>[A-Z0-9]{1,4}?)(?P<month>[FGHJKMNQUVXZ])(?P<year>\d{1,2})$")
_NT_NAMED = re.compile(r"^(?P<root>[A-Z0-9]{1,4}) (?P<mon>[A-Z]{3})(?P<year>\d{2})$")
_NT_NUMERIC = re.compile(r"^(?P<root>[A-Z0-9]{1,4}) (?P<mon>\d{2})-(?P<year>\d{2})$")


class SymbolError(ValueError):
    """A contract code that cannot be parsed; the message quotes it."""


@dataclass(frozen=True, slots=True)
class Contract:
    """A parsed contract: ``root`` ``"MNQ"``, ``month`` letter ``"H"``, ``year`` digit 0-9."""

    root: str
    month: str
    year: int

    @property
    def code(self) -> str:
        """The normalised Globex code, e.g. ``"MNQH5"``."""
        return f"{self.root}{self.month}{self.year}"

    def with_root(self, root: str) -> Contract:
        """The same month on another product (MNQH5 -> NQH5)."""
        return Contract(root=root, month=self.month, year=self.year)


@functools.lru_cache(maxsize=4096)
def parse_contract(text: str) -> Contract:
    """Parse any accepted spelling into a :class:`Contract`.

    Raises :class:`SymbolError` naming the input when it matches none.
    Results are cached (a contract is immutable, and the copy path reads
    the same few codes for every follower of every event).
    """
    s = text.strip().upper()
    if m := _NT_NAMED.match(s):
        mon = m["mon"]
        if mon not in _MONTH_NAMES:
            raise SymbolError(f"unknown month {mon!r} in contract {text!r}")
        return Contract(m["root"], MONTH_CODES[_MONTH_NAMES.index(mon)], int(m["year"]) % 10)
    if m := _NT_NUMERIC.match(s):
        month_number = int(m["mon"])
        if not 1 <= month_number <= 12:
            raise SymbolError(f"unknown month {m['mon']!r} in contract {text!r}")
        return Contract(m["root"], MONTH_CODES[month_number - 1], int(m["year"]) % 10)
    if m := _GLOBEX.match(s):
        return Contract(m["root"], m["month"], int(m["year"]) % 10)
    raise SymbolError(f"cannot read contract {text!r}: expected a code like 'MNQH5' or 'MNQ MAR25'")


def normalise_symbol(text: str) -> str:
    """``parse_contract(text).code``: ``"MNQ MAR25"`` -> ``"MNQH5"``."""
    return parse_contract(text).code


def root_of(symbol: str) -> str:
    """The product root of a contract code: ``"MNQH5"`` -> ``"MNQ"``."""
    return parse_contract(symbol).root


def spec_of[S](symbol: str, specs: Mapping[str, S]) -> S | None:
    """The spec in ``specs`` (by product root) of contract ``symbol``, or
    ``None`` when the code cannot be read or its product has none."""
    try:
        return specs.get(root_of(symbol))
    except SymbolError:
        return None
