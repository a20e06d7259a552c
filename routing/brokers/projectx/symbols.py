"""Engine contract codes <-> ProjectX Gateway contract ids.

ProjectX names a futures contract ``CON.F.US.<root>.<month letter><2-digit
year>`` (``"CON.F.US.MNQ.H26"``; ProjectX Gateway API docs, "Search for
Contracts": ``id``, with ``symbolId`` ``"F.US.<root>"``). For several
full-size products the Gateway's root is not the CME Globex root, so each
root is mapped explicitly and an unmapped root fails closed
(:class:`ProjectXSymbolError`), never guessed.

Where each mapping comes from (the project-x-py SDK carries no table; it
resolves symbols with ``/Contract/search`` at run time, and its
``realtime_data_manager`` notes "NQ -> ENQ"):

- ES -> EP, NQ -> ENQ: Copytrade issue 12; public TopstepX clients list
  ``"CON.F.US.EP.Z26"`` and ``"CON.F.US.ENQ.Z26"`` beside ``MES``/``MNQ``.
- CL -> CLE, NG -> NGE, GC -> GCE, HG -> CPE, MCL -> MCLE: a stored
  ``/Contract/search`` answer (``"CLZ5"``, ``"CON.F.US.CLE.Z25"``, ``symbolId``
  ``"F.US.CLE"``, "Crude Light (Globex)") and TopstepX symbol maps in public
  repositories (``"GC": "CON.F.US.GCE.Q25"``, ``"MCL": "CON.F.US.MCLE.N25"``,
  ``"NG": "CON.F.US.NGE.N25"``, ``"HG": "CON.F.US.CPE.N25"``).
- YM, RTY and the micros MNQ, MES, MYM, M2K, MGC keep the exchange root:
  the Gateway docs' own example ``"CON.F.US.RTY.Z24"`` (retrieveBars) and
  TopstepX maps (``"CON.F.US.YM.M25"``, ``"CON.F.US.MYM.M25"``,
  ``"CON.F.US.M2K.M25"``, ``"CON.F.US.MGC.Q25"``).

Engine codes carry a one-digit year (``"MNQH6"``, :mod:`routing.engine.symbols`);
the Gateway's two-digit year is the one within ``[today - 2, today + 7]``
years, since listed futures expire within that span.
"""

from __future__ import annotations

import re
from datetime import date

from routing.engine.symbols import Contract, SymbolError, parse_contract

# Exchange (engine) root -> ProjectX Gateway root; sources in the module docstring.
GATEWAY_ROOTS: dict[str, str] = {
    "ES": "EP",
    "NQ": "ENQ",
    "YM": "YM",
    "RTY": "RTY",
    "CL": "CLE",
    "NG": "NGE",
    "GC": "GCE",
    "HG": "CPE",
    "MES": "MES",
    "MNQ": "MNQ",
    "MYM": "MYM",
    "M2K": "M2K",
    "MGC": "MGC",
    "MCL": "MCLE",
}
ENGINE_ROOTS: dict[str, str] = {gateway: engine for engine, gateway in GATEWAY_ROOTS.items()}

_CONTRACT_ID = re.compile(
    r"^CON\.F\.US\.(?P<root>[A-Z0-9]+)\.(?P<month>[FGHJKMNQUVXZ])(?P<yy>\d{2})$"
)


class ProjectXSymbolError(SymbolError):
    """A contract this adapter cannot name at ProjectX; the message says which and why."""


def contract_id(symbol: str, *, today: date) -> str:
    """The Gateway contract id of engine code ``symbol``.

    ``"MNQH6"`` -> ``"CON.F.US.MNQ.H26"``, ``"ESM6"`` -> ``"CON.F.US.EP.M26"``
    (with ``today`` in 2026). Raises :class:`ProjectXSymbolError` naming the
    symbol for an unreadable code or a root with no known Gateway root.
    """
    try:
        contract = parse_contract(symbol)
    except SymbolError as exc:
        raise ProjectXSymbolError(f"symbol {symbol!r}: {exc}") from exc
    root = GATEWAY_ROOTS.get(contract.root)
    if root is None:
        raise ProjectXSymbolError(
            f"symbol {symbol!r}: root {contract.root!r} has no known ProjectX contract "
            f"root (known: {', '.join(sorted(GATEWAY_ROOTS))})"
        )
    year = _full_year(contract.year, today)
    return f"CON.F.US.{root}.{contract.month}{year % 100:02d}"


def engine_symbol(gateway_id: str) -> str:
    """The engine code of Gateway contract id ``gateway_id``.

    ``"CON.F.US.ENQ.H26"`` -> ``"NQH6"``. Raises :class:`ProjectXSymbolError`
    for an id not shaped ``CON.F.US.<root>.<month><yy>`` or an unmapped root.
    """
    m = _CONTRACT_ID.match(gateway_id.strip().upper())
    if m is None:
        raise ProjectXSymbolError(
            f"contract id {gateway_id!r}: expected 'CON.F.US.<root>.<month><yy>'"
        )
    root = ENGINE_ROOTS.get(m["root"])
    if root is None:
        raise ProjectXSymbolError(
            f"contract id {gateway_id!r}: ProjectX root {m['root']!r} has no known exchange root"
        )
    return Contract(root, m["month"], int(m["yy"]) % 10).code


def _full_year(digit: int, today: date) -> int:
    """The year ending in ``digit`` within ``[today.year - 2, today.year + 7]``."""
    for year in range(today.year - 2, today.year + 8):
        if year % 10 == digit:
            return year
    raise AssertionError("ten consecutive years cover every digit")
