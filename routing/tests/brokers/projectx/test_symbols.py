"""Engine codes <-> ProjectX contract ids, from real Gateway ids."""

from __future__ import annotations

from datetime import date

import pytest

from routing.brokers.projectx.symbols import ProjectXSymbolError, contract_id, engine_symbol

TODAY = date(2026, 1, 28)


@pytest.mark.parametrize(
    ("code", "gateway"),
    [
        ("MNQH6", "CON.F.US.MNQ.H26"),  # issue 12
        ("ESM6", "CON.F.US.EP.M26"),  # issue 12: ES -> EP
        ("NQZ6", "CON.F.US.ENQ.Z26"),  # public TopstepX map: NQ -> ENQ
        ("MESZ6", "CON.F.US.MES.Z26"),
        ("YMU6", "CON.F.US.YM.U26"),
        ("RTYZ4", "CON.F.US.RTY.Z24"),  # the Gateway docs' retrieveBars example
        ("CLZ5", "CON.F.US.CLE.Z25"),  # a /Contract/search answer: "Crude Light (Globex)"
        ("GCQ5", "CON.F.US.GCE.Q25"),
        ("MCLN5", "CON.F.US.MCLE.N25"),
        ("MGCM6", "CON.F.US.MGC.M26"),
    ],
)
def test_code_when_mapped_then_gateway_id_and_back(code: str, gateway: str) -> None:
    assert contract_id(code, today=TODAY) == gateway
    assert engine_symbol(gateway) == code


def test_year_digit_when_near_decade_end_then_nearest_listed_year() -> None:
    assert contract_id("MNQH0", today=date(2029, 11, 1)) == "CON.F.US.MNQ.H30"
    assert contract_id("MNQZ9", today=date(2030, 1, 2)) == "CON.F.US.MNQ.Z29"


def test_unknown_root_when_mapped_then_error_names_symbol_and_root() -> None:
    with pytest.raises(ProjectXSymbolError, match=r"'ZBH6'.*root 'ZB'"):
        contract_id("ZBH6", today=TODAY)
    with pytest.raises(ProjectXSymbolError, match="'nonsense'"):
        contract_id("nonsense", today=TODAY)


def test_unknown_gateway_root_when_read_then_error() -> None:
    with pytest.raises(ProjectXSymbolError, match="'SIE'"):
        engine_symbol("CON.F.US.SIE.H26")
    with pytest.raises(ProjectXSymbolError, match="expected"):
        engine_symbol("F.US.MNQ")
