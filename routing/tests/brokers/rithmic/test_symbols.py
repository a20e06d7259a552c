"""Engine contract codes <-> Rithmic symbol and exchange."""

from __future__ import annotations

import pytest

from routing.brokers.rithmic.symbols import from_rithmic, to_rithmic
from routing.engine.symbols import SymbolError


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("MNQH6", ("MNQH6", "CME")),
        ("ESZ5", ("ESZ5", "CME")),
        ("MYMM6", ("MYMM6", "CBOT")),
        ("CLF7", ("CLF7", "NYMEX")),
        ("MGCG6", ("MGCG6", "COMEX")),
        ("MNQ MAR26", ("MNQH6", "CME")),
    ],
)
def test_to_rithmic_when_known_root_then_symbol_and_listing_exchange(
    code: str, expected: tuple[str, str]
) -> None:
    assert to_rithmic(code) == expected


def test_to_rithmic_when_unknown_root_then_fails_closed_naming_it() -> None:
    with pytest.raises(SymbolError, match=r"'ZZ'.*no known Rithmic exchange"):
        to_rithmic("ZZH6")
    with pytest.raises(SymbolError):
        to_rithmic("not a contract")


def test_from_rithmic_when_exchange_disagrees_then_refused() -> None:
    assert from_rithmic("GCZ6", "COMEX") == "GCZ6"
    with pytest.raises(SymbolError, match="GC lists on COMEX"):
        from_rithmic("GCZ6", "CME")
    with pytest.raises(SymbolError, match="unknown product root"):
        from_rithmic("ZZH6", "CME")
