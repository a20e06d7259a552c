"""Contract code parsing (routing.engine.symbols)."""

from __future__ import annotations

import pytest

from routing.engine.symbols import (
    Contract,
    SymbolError,
    normalise_symbol,
    parse_contract,
    root_of,
)


@pytest.mark.parametrize(
    ("text", "root", "month", "year"),
    [
        ("MNQH5", "MNQ", "H", 5),  # Globex, one-digit year
        ("MNQH25", "MNQ", "H", 5),  # Tradovate/Rithmic two-digit year: 25 % 10
        ("MNQ MAR25", "MNQ", "H", 5),  # NinjaTrader named month
        ("ES 03-25", "ES", "H", 5),  # NinjaTrader numeric month: 03 = March = H
        ("ESZ4", "ES", "Z", 4),
        ("NQ DEC24", "NQ", "Z", 4),
        ("CL 01-26", "CL", "F", 6),  # January = F
        ("M2KU5", "M2K", "U", 5),  # digit inside the root
        ("6EM5", "6E", "M", 5),  # root starting with a digit
        ("ZNH5", "ZN", "H", 5),  # root ending in a month letter (N)
        ("GC 12-30", "GC", "Z", 0),  # 2030 -> year digit 0
    ],
)
def test_parse_contract_when_accepted_spelling_then_root_month_year(
    text: str, root: str, month: str, year: int
) -> None:
    # Act
    contract = parse_contract(text)

    # Assert
    assert contract == Contract(root, month, year)


@pytest.mark.parametrize("text", ["mnqh5", "  MNQH5  ", "mnq mar25", "Mnq Mar25"])
def test_parse_contract_when_lowercase_or_padded_then_normalised(text: str) -> None:
    # Act
    code = normalise_symbol(text)

    # Assert
    assert code == "MNQH5"


@pytest.mark.parametrize(
    ("month_number", "letter"),
    list(zip(range(1, 13), "FGHJKMNQUVXZ", strict=True)),
)
def test_parse_contract_when_numeric_month_then_cme_letter(month_number: int, letter: str) -> None:
    # Arrange
    text = f"MES {month_number:02d}-25"

    # Act
    contract = parse_contract(text)

    # Assert
    assert contract.month == letter


@pytest.mark.parametrize(
    ("name", "letter"),
    list(
        zip(
            ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
            "FGHJKMNQUVXZ",
            strict=True,
        )
    ),
)
def test_parse_contract_when_named_month_then_cme_letter(name: str, letter: str) -> None:
    # Arrange
    text = f"MES {name}25"

    # Act
    contract = parse_contract(text)

    # Assert
    assert contract.month == letter


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "MNQ",  # no month, no year
        "MNQH",  # no year
        "MNQA5",  # A is not a month letter
        "H5",  # no root
        "MNQH125",  # three-digit year
        "MNQ ABC25",  # unknown month name
        "MNQ 13-25",  # month 13
        "MNQ 00-25",  # month 0
        "MNQ MAR2025",  # four-digit year in NT form
        "TOOLONGH5",  # root longer than 4 characters
        "MNQ-H5",
    ],
)
def test_parse_contract_when_bad_input_then_symbol_error(text: str) -> None:
    # Act / Assert
    with pytest.raises(SymbolError):
        parse_contract(text)


def test_parse_contract_when_bad_input_then_message_quotes_it() -> None:
    # Act / Assert
    with pytest.raises(SymbolError, match="'MNQ 13-25'"):
        parse_contract("MNQ 13-25")


def test_symbol_error_when_raised_then_is_value_error() -> None:
    # Act / Assert: callers catching ValueError also catch bad symbols
    with pytest.raises(ValueError, match="cannot read contract"):
        parse_contract("nonsense")


def test_contract_code_when_built_then_globex_form() -> None:
    # Arrange
    contract = Contract("MNQ", "H", 5)

    # Act
    code = contract.code

    # Assert
    assert code == "MNQH5"


def test_contract_with_root_when_mini_then_same_month_other_product() -> None:
    # Arrange
    micro = parse_contract("MNQH5")

    # Act
    mini = micro.with_root("NQ")

    # Assert
    assert mini.code == "NQH5"
    assert micro.code == "MNQH5"  # frozen: the original is untouched


@pytest.mark.parametrize(("text", "root"), [("MNQH5", "MNQ"), ("ES 03-25", "ES"), ("M2KU5", "M2K")])
def test_root_of_when_code_then_product_root(text: str, root: str) -> None:
    # Act
    result = root_of(text)

    # Assert
    assert result == root
