"""Engine contract codes <-> IB futures contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ib_async import Contract, Future

from routing.brokers.ib.contracts import (
    PRODUCTS,
    IBContractError,
    contract_year,
    engine_code,
    ib_contract,
    multiplier_of,
)

DEC_2026 = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "exchange", "month", "local"),
    [
        ("MNQH6", "CME", "202603", "MNQH6"),
        ("ESZ6", "CME", "202612", "ESZ6"),
        ("M2KU7", "CME", "202709", "M2KU7"),
        ("YMH7", "CBOT", "202703", ""),
        ("ZNM7", "CBOT", "202706", ""),
        ("CLF7", "NYMEX", "202701", "CLF7"),
        ("MGCG7", "COMEX", "202702", "MGCG7"),
        ("SILN7", "COMEX", "202707", "SILN7"),
    ],
)
def test_ib_contract_when_known_root_then_exchange_month_and_local_symbol(
    code: str, exchange: str, month: str, local: str
) -> None:
    c = ib_contract(code, DEC_2026)
    assert (c.secType, c.exchange, c.lastTradeDateOrContractMonth) == ("FUT", exchange, month)
    assert (c.localSymbol, c.currency, c.tradingClass) == (local, "USD", code[:-2])
    assert engine_code(c) == code


def test_contract_year_when_digit_given_then_window_from_last_year() -> None:
    assert [contract_year(d, DEC_2026) for d in (5, 6, 9, 0, 4)] == [2025, 2026, 2029, 2030, 2034]


def test_unknown_root_when_mapped_then_fails_closed_with_reason() -> None:
    with pytest.raises(IBContractError, match=r"IB_UNKNOWN_ROOT.*'6E'"):
        ib_contract("6EH6", DEC_2026)
    with pytest.raises(IBContractError, match="IB_BAD_SYMBOL"):
        ib_contract("not a contract", DEC_2026)
    with pytest.raises(IBContractError, match="IB_UNKNOWN_ROOT"):
        engine_code(Future(symbol="EUR", tradingClass="6E", lastTradeDateOrContractMonth="202603"))


def test_engine_code_when_ib_sends_last_trade_date_then_contract_month() -> None:
    # CL March 2026 stops trading in February (CME CL specs): IB's date is 20260220.
    cl = Future(symbol="CL", tradingClass="CL", lastTradeDateOrContractMonth="20260220")
    es = Future(symbol="ES", tradingClass="ES", lastTradeDateOrContractMonth="20260320")
    zn = Future(symbol="ZN", tradingClass="ZN", lastTradeDateOrContractMonth="20260320")
    zn.localSymbol = "ZN   MAR 26"
    assert (engine_code(cl), engine_code(es), engine_code(zn)) == ("CLH6", "ESH6", "ZNH6")


def test_engine_code_when_not_a_future_then_refused() -> None:
    with pytest.raises(IBContractError, match="IB_NOT_FUTURE"):
        engine_code(Contract(secType="STK", symbol="AAPL"))


def test_multiplier_when_ib_sends_none_then_table() -> None:
    mnq = Future(symbol="MNQ", tradingClass="MNQ", lastTradeDateOrContractMonth="202603")
    assert multiplier_of(mnq) == Decimal(2)
    mnq.multiplier = "2"
    assert multiplier_of(mnq) == Decimal(2)
    assert PRODUCTS["MYM"].multiplier == Decimal("0.5")
