"""Engine contract codes <-> Interactive Brokers futures contracts.

An engine code is the CME Globex code (``"MNQH6"``: root, month letter,
one-digit year; :mod:`routing.engine.symbols`). IB names a futures
contract by ``symbol`` + ``secType="FUT"`` + ``lastTradeDateOrContractMonth``
(``"202603"``) + ``exchange`` + ``currency``, narrowed by ``tradingClass``
and ``multiplier``; its ``localSymbol`` is the exchange's own code.

Where the figures come from:

- IB symbol, exchange and trading class per product: IBKR's Contract
  Information Center (interactivebrokers.com, "Contract Search", product
  listings of CME, CBOT, NYMEX and COMEX): the CME Group equity-index
  futures list on ``CME`` except the Dow products (``CBOT``), Treasuries on
  ``CBOT``, energy on ``NYMEX``, metals on ``COMEX``; for these products the
  IB symbol and the trading class equal the Globex root.
- Multipliers (dollars per point): CME Group contract specifications, as
  compiled in ``shared/data/contract_specs.csv`` (ES 50, MES 5, NQ 20,
  MNQ 2, YM 5, MYM 0.5, RTY 50, M2K 5, CL 1000, MCL 100, QM 500, GC 100,
  MGC 10, SI 5000, SIL 1000); Treasuries from CBOT's Treasury futures specs
  (ZN, ZF, ZB: $1,000 per point; ZT: $2,000 per point).
- ``localSymbol``: for CME, NYMEX and COMEX products IB shows the Globex
  code (``"MNQH6"``, ``"CLH6"``, ``"GCG6"``), so it is sent. For CBOT
  products IB has used a spaced form (``"ZN   MAR 26"``) that this module
  does not guess: it is left empty and the gateway resolves the contract
  from symbol + month + exchange + trading class, which is unambiguous for
  a futures month.

A root not in the table fails closed with :class:`IBContractError` naming
it: an order is never sent for a contract this adapter cannot name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ib_async import Contract, Future

from routing.engine.symbols import MONTH_CODES, SymbolError, parse_contract


class IBContractError(ValueError):
    """A contract this adapter cannot map; the message says which and why."""


@dataclass(frozen=True, slots=True)
class IBProduct:
    """One futures product as IB lists it.

    ``symbol`` IB's underlying symbol, ``exchange`` its listing exchange,
    ``trading_class`` IB's trading class, ``multiplier`` dollars per point,
    ``globex_local_symbol`` whether IB's ``localSymbol`` is the Globex code;
    ``trades_out_month_before`` whether the last trading day falls in the
    month before the contract month (NYMEX crude: "trading terminates 3
    business days before the 25th calendar day of the month prior to the
    contract month", CME Group CL contract specs), so a last-trade date
    ``YYYYMMDD`` names the following month's contract.
    """

    root: str
    symbol: str
    exchange: str
    trading_class: str
    multiplier: Decimal
    globex_local_symbol: bool
    trades_out_month_before: bool


def _product(
    root: str,
    exchange: str,
    multiplier: str,
    *,
    globex_local_symbol: bool = True,
    trades_out_month_before: bool = False,
) -> IBProduct:
    return IBProduct(
        root,
        root,
        exchange,
        root,
        Decimal(multiplier),
        globex_local_symbol,
        trades_out_month_before,
    )


PRODUCTS: dict[str, IBProduct] = {
    p.root: p
    for p in (
        _product("ES", "CME", "50"),
        _product("MES", "CME", "5"),
        _product("NQ", "CME", "20"),
        _product("MNQ", "CME", "2"),
        _product("RTY", "CME", "50"),
        _product("M2K", "CME", "5"),
        _product("YM", "CBOT", "5", globex_local_symbol=False),
        _product("MYM", "CBOT", "0.5", globex_local_symbol=False),
        _product("ZT", "CBOT", "2000", globex_local_symbol=False),
        _product("ZF", "CBOT", "1000", globex_local_symbol=False),
        _product("ZN", "CBOT", "1000", globex_local_symbol=False),
        _product("ZB", "CBOT", "1000", globex_local_symbol=False),
        _product("CL", "NYMEX", trades_out_month_before=True, multiplier="1000"),
        _product("MCL", "NYMEX", trades_out_month_before=True, multiplier="100"),
        _product("QM", "NYMEX", trades_out_month_before=True, multiplier="500"),
        _product("GC", "COMEX", "100"),
        _product("MGC", "COMEX", "10"),
        _product("SI", "COMEX", "5000"),
        _product("SIL", "COMEX", "1000"),
    )
}
_BY_IB_NAME: dict[str, IBProduct] = {p.trading_class: p for p in PRODUCTS.values()} | {
    p.symbol: p for p in PRODUCTS.values()
}
_CONTRACT_MONTH = re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})?$")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# IB's localSymbol spellings: Globex "MNQH6", and the spaced "ZN   MAR 26".
_LOCAL_GLOBEX = re.compile(r"^(?P<root>[A-Z0-9]+?)(?P<month>[FGHJKMNQUVXZ])(?P<year>\d)$")
_LOCAL_SPACED = re.compile(r"^(?P<root>[A-Z0-9]+)\s+(?P<mon>[A-Z]{3})\s+(?P<year>\d{2})$")


def product_of(root: str) -> IBProduct:
    """The IB product for an engine root; raises :class:`IBContractError`."""
    try:
        return PRODUCTS[root]
    except KeyError:
        raise IBContractError(
            f"IB_UNKNOWN_ROOT: no Interactive Brokers contract known for root {root!r}"
        ) from None


def contract_year(digit: int, reference: datetime) -> int:
    """The four-digit year of a one-digit contract year, seen from ``reference``.

    The one year in ``[reference.year - 1, reference.year + 8]`` ending in
    ``digit``: a code names a contract listed now or within the next eight
    years, or one that expired last year (which the gateway then refuses).
    """
    first = reference.year - 1
    return first + (digit - first) % 10


def ib_contract(code: str, reference: datetime) -> Future:
    """The IB futures contract for engine code ``code`` (``"MNQH6"``).

    ``reference`` (aware UTC) fixes the decade of the one-digit year
    (:func:`contract_year`). Raises :class:`IBContractError` for an
    unreadable code or an unknown root.
    """
    try:
        parsed = parse_contract(code)
    except SymbolError as exc:
        raise IBContractError(f"IB_BAD_SYMBOL: {exc}") from exc
    product = product_of(parsed.root)
    year = contract_year(parsed.year, reference)
    month = MONTH_CODES.index(parsed.month) + 1
    return Future(
        symbol=product.symbol,
        lastTradeDateOrContractMonth=f"{year:04d}{month:02d}",
        exchange=product.exchange,
        currency="USD",
        multiplier=format(product.multiplier, "f"),
        tradingClass=product.trading_class,
        localSymbol=parsed.code if product.globex_local_symbol else "",
    )


def engine_code(contract: Contract) -> str:
    """The engine code of an IB futures contract (``"MNQH6"``).

    The product comes from the trading class (or symbol); the month from
    ``localSymbol`` when it is spelled ``"MNQH6"`` or ``"ZN   MAR 26"``,
    else from ``lastTradeDateOrContractMonth`` (``YYYYMM``, or a last-trade
    date ``YYYYMMDD``, moved one month on for products that trade out the
    month before, see :class:`IBProduct`). Raises
    :class:`IBContractError` for a non-futures contract, an unknown
    product or an unreadable month.
    """
    if contract.secType != "FUT":
        raise IBContractError(
            f"IB_NOT_FUTURE: {contract.localSymbol or contract.symbol!r} is {contract.secType!r}"
        )
    product = _BY_IB_NAME.get(contract.tradingClass) or _BY_IB_NAME.get(contract.symbol)
    if product is None:
        raise IBContractError(
            f"IB_UNKNOWN_ROOT: no engine product for IB {contract.symbol!r} "
            f"(trading class {contract.tradingClass!r})"
        )
    local = _code_from_local_symbol(product, contract.localSymbol.strip().upper())
    if local is not None:
        return local
    m = _CONTRACT_MONTH.match(contract.lastTradeDateOrContractMonth)
    if m is None or not 1 <= int(m["month"]) <= 12:
        raise IBContractError(
            f"IB_BAD_MONTH: contract month {contract.lastTradeDateOrContractMonth!r} "
            f"of {contract.symbol!r}"
        )
    year, month = int(m["year"]), int(m["month"])
    if m["day"] is not None and product.trades_out_month_before:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{product.root}{MONTH_CODES[month - 1]}{year % 10}"


def _code_from_local_symbol(product: IBProduct, local: str) -> str | None:
    if (m := _LOCAL_GLOBEX.match(local)) and m["root"] == product.root:
        return f"{product.root}{m['month']}{m['year']}"
    if (m := _LOCAL_SPACED.match(local)) and m["root"] == product.root and m["mon"] in _MONTH_NAMES:
        return f"{product.root}{MONTH_CODES[_MONTH_NAMES.index(m['mon'])]}{int(m['year']) % 10}"
    return None


def multiplier_of(contract: Contract) -> Decimal:
    """Dollars per point of ``contract``: its own ``multiplier`` when IB sent
    one, else the product table's. Raises :class:`IBContractError`."""
    if contract.multiplier:
        return Decimal(contract.multiplier)
    return product_of(parse_contract(engine_code(contract)).root).multiplier
