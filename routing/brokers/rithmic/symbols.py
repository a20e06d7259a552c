"""Engine contract codes <-> Rithmic symbol and exchange.

Rithmic names a futures contract by its CME Globex code with a one-digit
year (``"MNQH6"``), the same spelling the engine uses, plus the exchange it
lists on (R|Protocol ``symbol`` and ``exchange`` fields of RequestNewOrder,
ExchangeOrderNotification and InstrumentPnLPositionUpdate). The exchange of
each product root is the CME Group listing exchange in the project's
contract table (:data:`routing.contract_specs.CME_CONTRACT_SPECS`, sourced
per row from cmegroup.com): ``"CME"`` (equity index, FX), ``"CBOT"`` (Dow,
rates, grains), ``"NYMEX"`` (energy), ``"COMEX"`` (metals). Rithmic uses
these four exchange codes for CME Group markets (async-rithmic's examples
trade ``ES`` on ``"CME"``). A root not in that table fails closed.
"""

from __future__ import annotations

from types import MappingProxyType

from routing.contract_specs import CME_CONTRACT_SPECS
from routing.engine.symbols import SymbolError, parse_contract

RITHMIC_EXCHANGES: frozenset[str] = frozenset({"CME", "CBOT", "NYMEX", "COMEX"})

# Product root -> listing exchange, from the contract table.
EXCHANGE_BY_ROOT: MappingProxyType[str, str] = MappingProxyType(
    {spec.root: spec.exchange for spec in CME_CONTRACT_SPECS}
)


def to_rithmic(code: str) -> tuple[str, str]:
    """``"MNQH6"`` -> ``("MNQH6", "CME")``: the Rithmic symbol and exchange.

    Accepts any spelling :func:`~routing.engine.symbols.parse_contract`
    accepts. Raises :class:`~routing.engine.symbols.SymbolError` naming the
    code when it cannot be parsed or its root has no known exchange.
    """
    contract = parse_contract(code)
    exchange = EXCHANGE_BY_ROOT.get(contract.root)
    if exchange is None:
        raise SymbolError(
            f"contract {code!r}: product root {contract.root!r} has no known Rithmic "
            f"exchange (known roots: {', '.join(sorted(EXCHANGE_BY_ROOT))})"
        )
    if exchange not in RITHMIC_EXCHANGES:
        raise SymbolError(f"contract {code!r}: exchange {exchange!r} is not a Rithmic exchange")
    return contract.code, exchange


def from_rithmic(symbol: str, exchange: str) -> str:
    """``("MNQH6", "CME")`` -> ``"MNQH6"``: the engine code of a Rithmic contract.

    Raises :class:`~routing.engine.symbols.SymbolError` when the symbol does
    not parse, its root is unknown, or it is reported on another exchange
    than the root lists on (a spread or an option would be refused here).
    """
    contract = parse_contract(symbol)
    expected = EXCHANGE_BY_ROOT.get(contract.root)
    if expected is None:
        raise SymbolError(f"Rithmic symbol {symbol!r}: unknown product root {contract.root!r}")
    if exchange != expected:
        raise SymbolError(
            f"Rithmic symbol {symbol!r} on {exchange!r}: {contract.root} lists on {expected}"
        )
    return contract.code
