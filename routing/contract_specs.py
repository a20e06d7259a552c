"""The project's own table of CME futures contract specifications.

Each row gives the exchange's figures for one product and where they come
from; the ``ContractSpec`` table is seeded from here by a data migration and
kept in sync by ``contract_spec_sync``. Checked: ``tick_size * point_value ==
tick_value`` for every row (``routing/tests/test_contract_specs.py``), and the
rows agree with the compiled table in ``shared/data/contract_specs.csv``.

Micro contracts are 1/10 of their mini (point value ratio), except SIL which
is 1/5 of SI.
"""

from __future__ import annotations

from decimal import Decimal as D

from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec

_CME_EQ = "CME Group contract specifications, cmegroup.com/trading/equity-index/us-index/"
_CME_EN = "CME Group NYMEX contract specifications, cmegroup.com/markets/energy/"
_CME_MT = "CME Group COMEX contract specifications, cmegroup.com/markets/metals/"


def _spec(
    root: str,
    name: str,
    exchange: str,
    tick: str,
    tick_value: str,
    point_value: str,
    micro_of: str | None,
    source: str,
) -> ContractSpec:
    return ContractSpec(
        root=root,
        name=name,
        exchange=exchange,
        tick_size=D(tick),
        tick_value=D(tick_value),
        point_value=D(point_value),
        micro_of=micro_of,
        currency="USD",
        source=source,
    )


CME_CONTRACT_SPECS: tuple[ContractSpec, ...] = (
    _spec(
        "ES",
        "E-mini S&P 500",
        "CME",
        "0.25",
        "12.50",
        "50",
        None,
        _CME_EQ + "e-mini-sandp500.contractSpecs.html: $50 x index, 0.25 pt = $12.50",
    ),
    _spec(
        "MES",
        "Micro E-mini S&P 500",
        "CME",
        "0.25",
        "1.25",
        "5",
        "ES",
        _CME_EQ + "micro-e-mini-sandp-500.contractSpecs.html: $5 x index, 0.25 pt = $1.25",
    ),
    _spec(
        "NQ",
        "E-mini Nasdaq-100",
        "CME",
        "0.25",
        "5.00",
        "20",
        None,
        _CME_EQ + "e-mini-nasdaq-100.contractSpecs.html: $20 x index, 0.25 pt = $5.00",
    ),
    _spec(
        "MNQ",
        "Micro E-mini Nasdaq-100",
        "CME",
        "0.25",
        "0.50",
        "2",
        "NQ",
        _CME_EQ + "micro-e-mini-nasdaq-100.contractSpecs.html: $2 x index, 0.25 pt = $0.50",
    ),
    _spec(
        "YM",
        "E-mini Dow Jones Industrial Average ($5)",
        "CBOT",
        "1",
        "5.00",
        "5",
        None,
        _CME_EQ + "e-mini-dow.contractSpecs.html: $5 x DJIA, 1 pt = $5.00",
    ),
    _spec(
        "MYM",
        "Micro E-mini Dow Jones Industrial Average",
        "CBOT",
        "1",
        "0.50",
        "0.5",
        "YM",
        _CME_EQ + "micro-e-mini-dow.contractSpecs.html: $0.50 x DJIA, 1 pt = $0.50",
    ),
    _spec(
        "RTY",
        "E-mini Russell 2000",
        "CME",
        "0.10",
        "5.00",
        "50",
        None,
        _CME_EQ + "e-mini-russell-2000.contractSpecs.html: $50 x index, 0.10 pt = $5.00",
    ),
    _spec(
        "M2K",
        "Micro E-mini Russell 2000",
        "CME",
        "0.10",
        "0.50",
        "5",
        "RTY",
        _CME_EQ + "micro-e-mini-russell-2000.contractSpecs.html: $5 x index, 0.10 pt = $0.50",
    ),
    _spec(
        "CL",
        "Light Sweet Crude Oil (WTI)",
        "NYMEX",
        "0.01",
        "10.00",
        "1000",
        None,
        _CME_EN + "crude-oil/light-sweet-crude.contractSpecs.html: 1,000 bbl, $0.01 = $10",
    ),
    _spec(
        "MCL",
        "Micro WTI Crude Oil",
        "NYMEX",
        "0.01",
        "1.00",
        "100",
        "CL",
        _CME_EN + "crude-oil/micro-wti-crude-oil.contractSpecs.html: 100 bbl, $0.01 = $1",
    ),
    _spec(
        "QM",
        "E-mini Crude Oil",
        "NYMEX",
        "0.025",
        "12.50",
        "500",
        None,
        _CME_EN + "crude-oil/emini-crude-oil.contractSpecs.html: 500 bbl, $0.025 = $12.50",
    ),
    _spec(
        "NG",
        "Henry Hub Natural Gas",
        "NYMEX",
        "0.001",
        "10.00",
        "10000",
        None,
        _CME_EN + "natural-gas/natural-gas.contractSpecs.html: 10,000 MMBtu, $0.001 = $10",
    ),
    _spec(
        "GC",
        "Gold",
        "COMEX",
        "0.10",
        "10.00",
        "100",
        None,
        _CME_MT + "precious/gold.contractSpecs.html: 100 troy oz, $0.10/oz = $10.00",
    ),
    _spec(
        "MGC",
        "Micro Gold",
        "COMEX",
        "0.10",
        "1.00",
        "10",
        "GC",
        _CME_MT + "precious/e-micro-gold.contractSpecs.html: 10 troy oz, $0.10/oz = $1.00",
    ),
    _spec(
        "SI",
        "Silver",
        "COMEX",
        "0.005",
        "25.00",
        "5000",
        None,
        _CME_MT + "precious/silver.contractSpecs.html: 5,000 troy oz, $0.005/oz = $25.00",
    ),
    _spec(
        "SIL",
        "Micro Silver",
        "COMEX",
        "0.005",
        "5.00",
        "1000",
        "SI",
        _CME_MT + "precious/1000-oz-silver.contractSpecs.html: 1,000 troy oz (1/5 of SI), "
        "$0.005/oz = $5.00",
    ),
)

SPECS_BY_ROOT: dict[str, ContractSpec] = {s.root: s for s in CME_CONTRACT_SPECS}


def tick_size_of(symbol: str) -> D | None:
    """The tick size (points) of contract ``symbol`` (a code, ``MNQH6``, or
    a root, ``MNQ``) from this table, or ``None`` for a product it lacks."""
    try:
        spec = SPECS_BY_ROOT.get(root_of(symbol))
    except SymbolError:
        spec = SPECS_BY_ROOT.get(symbol)
    return None if spec is None else spec.tick_size
