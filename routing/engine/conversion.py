"""Which contract a follower trades for a leader's contract, and at what rate.

Rules (DESIGN.md, "Mini/micro conversion", "Contract mapping", "Sizing mode"):

* an explicit mapping (leader root -> follower root) wins; without one the
  follower trades the leader's own product. The contract month carries over
  (ESZ6 -> MESZ6);
* *contracts* sizing copies the count as is; *notional* sizing preserves
  dollars per point: ``leader point value / follower point value`` follower
  contracts per leader contract (1 ES = $50/pt = 10 MES at $5/pt);
* between products on different underlyings (a mapping NQ -> ES) dollars per
  point alone do not make equal exposure, so notional sizing there compares
  ``price x point value`` of both and needs a price for each: without one the
  order is blocked, never sized on a guess;
* the auto-variant fallback re-sizes an entry on the micro of a mini
  (``ContractSpec.micro_of``) when it rounds to zero on the mini.

Pure: specs and prices come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from routing.engine.sizing import plain
from routing.engine.symbols import SymbolError, parse_contract
from routing.engine.types import ContractSpec, GroupConfig, SizingMode


class ConversionError(ValueError):
    """A contract cannot be converted; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """Follower contract ``symbol`` and follower contracts per leader contract.

    ``rate`` is 1 in contracts sizing and for the leader's own product;
    ``text`` explains a rate other than 1 (``"x 10 (ES $50/pt -> MES $5/pt)"``).
    """

    symbol: str
    root: str
    rate: Decimal
    text: str


def micro_root(root: str, specs: Mapping[str, ContractSpec]) -> str | None:
    """The micro product of mini ``root`` (``"ES"`` -> ``"MES"``), if listed."""
    for spec in specs.values():
        if spec.micro_of == root:
            return spec.root
    return None


def same_underlying(a: ContractSpec, b: ContractSpec) -> bool:
    """True for one product or a mini and its micro (priced on one index)."""
    return a.root == b.root or a.micro_of == b.root or b.micro_of == a.root


def follower_contract(
    leader_symbol: str,
    group: GroupConfig,
    specs: Mapping[str, ContractSpec],
    *,
    root: str | None = None,
    leader_price: Decimal | None = None,
    marks: Mapping[str, Decimal] | None = None,
) -> Conversion:
    """The follower's contract for ``leader_symbol`` and its sizing rate.

    ``root`` forces the follower product (the auto-micro fallback); otherwise
    the group's mapping or the leader's own root. ``leader_price`` and
    ``marks`` (contract code -> last price, points) are needed only for a
    notional conversion across underlyings. Raises :class:`ConversionError`
    for an unreadable symbol, a product without a contract spec, or a
    missing price.
    """
    try:
        contract = parse_contract(leader_symbol)
    except SymbolError as exc:
        raise ConversionError(str(exc)) from exc
    leader_spec = specs.get(contract.root)
    if leader_spec is None:
        raise ConversionError(f"no contract spec for {contract.root}: nothing is sent on a guess")
    target_root = root or group.mapped_root(contract.root) or contract.root
    follower_spec = specs.get(target_root)
    if follower_spec is None:
        raise ConversionError(f"no contract spec for {target_root}: nothing is sent on a guess")
    symbol = contract.with_root(target_root).code
    if group.sizing_mode is SizingMode.CONTRACTS or target_root == contract.root:
        return Conversion(symbol, target_root, Decimal(1), "")
    if same_underlying(leader_spec, follower_spec):
        rate = leader_spec.point_value / follower_spec.point_value
        text = (
            f"x {plain(rate)} ({contract.root} ${plain(leader_spec.point_value)}/pt -> "
            f"{target_root} ${plain(follower_spec.point_value)}/pt)"
        )
        return Conversion(symbol, target_root, rate, text)
    follower_price = (marks or {}).get(symbol)
    if leader_price is None or follower_price is None:
        missing = contract.code if leader_price is None else symbol
        raise ConversionError(
            f"no price for {missing}: a notional conversion {contract.root} -> {target_root} "
            "needs both prices"
        )
    leader_notional = leader_price * leader_spec.point_value
    follower_notional = follower_price * follower_spec.point_value
    rate = leader_notional / follower_notional
    text = (
        f"x {plain(rate.quantize(Decimal('0.0001')))} (notional {contract.root} "
        f"{plain(leader_notional)} / {target_root} {plain(follower_notional)})"
    )
    return Conversion(symbol, target_root, rate, text)
