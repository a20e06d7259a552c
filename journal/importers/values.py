"""Parse single cell values: numbers, money, quantities, times, sides, contracts.

Each function takes the cell text (already stripped) and returns the value or
raises :class:`BadValue` with a message that quotes the text; the caller adds
the file, row and field (see :meth:`journal.importers.table.Row.error`).
Money and prices are read with ``Decimal``, never ``float``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from routing.engine.bounds import quantity_problem
from routing.engine.symbols import SymbolError, normalise_symbol, parse_contract
from routing.engine.types import Side


class BadValue(ValueError):
    """A cell whose text cannot be read as the expected value; the message quotes it."""


# Optional minus, optional "$", optional parentheses (accounting negative),
# digits with or without "," thousands separators, optional fraction:
# "25271.00", "505,420.00", "$23.75", "$(41.25)", "-12.50", "-$3.00", "(7.5)".
_NUMBER = re.compile(
    r"""^(?P<minus1>-)?\$?(?P<open>\()?(?P<minus2>-)?\$?
        (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?P<close>\))?$""",
    re.VERBOSE,
)


def parse_decimal(text: str) -> Decimal:
    """A number as ``Decimal``: accepts ``$``, ``,`` thousands separators, ``-`` or ``(..)``.

    ``"505,420.00"`` -> ``Decimal("505420.00")``; ``"$(41.25)"`` ->
    ``Decimal("-41.25")``. Raises :class:`BadValue` for anything else
    (exponents, two signs, unbalanced parentheses, empty text).
    """
    m = _NUMBER.match(text.strip())
    if m is None or bool(m["open"]) != bool(m["close"]):
        raise BadValue(f"{text!r} is not a number")
    negatives = sum(1 for part in (m["minus1"], m["open"], m["minus2"]) if part)
    if negatives > 1:
        raise BadValue(f"{text!r} is not a number (more than one minus sign)")
    try:
        value = Decimal(m["digits"].replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
        raise BadValue(f"{text!r} is not a number") from exc
    return -value if negatives and value else value


def parse_quantity(text: str) -> int:
    """A whole number of contracts, 1 to 10,000 (``"1,000"`` and ``"2.0"`` are accepted).

    Raises :class:`BadValue` for non-numbers, fractions, values <= 0 and
    values above :data:`~routing.engine.bounds.MAX_CONTRACTS`.
    """
    value = parse_decimal(text)
    if value != value.to_integral_value():
        raise BadValue(f"{text!r} is not a whole number of contracts")
    if value <= 0:
        raise BadValue(f"quantity must be > 0, got {text!r}")
    problem = quantity_problem(int(value))
    if problem is not None:
        raise BadValue(problem)
    return int(value)


def parse_count(text: str) -> int:
    """A whole number >= 0 (position summary columns such as Tradovate's ``Bought``)."""
    value = parse_decimal(text)
    if value != value.to_integral_value() or value < 0:
        raise BadValue(f"{text!r} is not a whole number >= 0")
    return int(value)


def parse_signed_quantity(text: str) -> int:
    """A whole, non-zero signed number of contracts (TopstepX ``positionSize``)."""
    value = parse_decimal(text)
    if value != value.to_integral_value():
        raise BadValue(f"{text!r} is not a whole number of contracts")
    if value == 0:
        raise BadValue(f"quantity must not be 0, got {text!r}")
    problem = quantity_problem(abs(int(value)))
    if problem is not None:
        raise BadValue(problem)
    return int(value)


def parse_local_time(text: str, formats: Sequence[str], zone: ZoneInfo, expected: str) -> datetime:
    """A zone-less wall-clock time read in ``zone``, returned as aware UTC.

    ``formats`` are ``strptime`` patterns tried in order; ``expected`` is the
    human spelling quoted in the error (``"MM/DD/YYYY HH:MM:SS"``). In a
    daylight-saving fall-back hour the first occurrence is used (``fold=0``).
    """
    for fmt in formats:
        try:
            local = datetime.strptime(text, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
        return local.astimezone(UTC)
    raise BadValue(f"{text!r} is not a date and time (expected {expected})")


def parse_iso_time(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time (``"2026-02-11 06:34:46.772Z"``, ``"...+00:00"``) as aware UTC.

    A value without an offset is read in ``zone``.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadValue(
            f"{text!r} is not a date and time (expected ISO 8601, e.g. 2026-02-11T06:34:46.772Z)"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def parse_side(text: str, names: Mapping[str, Side]) -> Side:
    """A side from its spelling; ``names`` maps lower-case spellings to sides."""
    side = names.get(text.strip().lower())
    if side is None:
        accepted = ", ".join(repr(name.title()) for name in names)
        raise BadValue(f"{text!r} is not a side (expected one of {accepted})")
    return side


def parse_symbol(text: str, known_roots: Collection[str]) -> str:
    """The normalised code (``"MNQ MAR25"`` -> ``"MNQH5"``), its root checked in ``known_roots``.

    Raises :class:`BadValue` when the text is no contract code or its root has
    no contract spec.
    """
    try:
        code = normalise_symbol(text)
    except SymbolError as exc:
        raise BadValue(str(exc)) from exc
    root = parse_contract(code).root
    if root not in known_roots:
        raise BadValue(f"unknown symbol {text!r} (no contract spec for root {root!r})")
    return code
