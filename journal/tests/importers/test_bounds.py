"""Impossible numbers are refused at import with file, row and field (issue 10, defect 8).

Small in-memory exports: a price of 0 or -4.75, a price off MNQ's 0.25 tick
grid, a 15-digit price, 0 or 10,001 contracts and an over-long id each
refuse the whole file; a valid file and the real exports still import.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from journal.importers import ExportError, parse_export, read_export
from journal.limits import import_limits
from journal.models import Trade
from journal.tests.importers.exports import (
    FILLS,
    NINJATRADER,
    PERFORMANCE,
    PERFORMANCE_1,
    PERFORMANCE_2,
    PERFORMANCE_HAMTARO,
    POSITION_HISTORY,
    TOPSTEPX,
)
from routing.models import LeaderEvent

FILLS_HEADER = "Fill ID,Account,B/S,Contract,Quantity,Price,_timestamp"
FIFTEEN_DIGITS = "123456789012345"


def _fills(*rows: str) -> str:
    return "\n".join([FILLS_HEADER, *rows]) + "\n"


def _fill_row(
    fill_id: str = "101",
    qty: str = "1",
    price: str = "21000.25",
    account: str = "LEADER",
    contract: str = "MNQH5",
) -> str:
    return f"{fill_id},{account},Buy,{contract},{qty},{price},2025-03-03T14:30:00Z"


def _refused(text: str, name: str = "Fills.csv") -> ExportError:
    with pytest.raises(ExportError) as info:
        parse_export(text, name=name)
    return info.value


def test_a_valid_small_file_imports() -> None:
    result = parse_export(
        _fills(_fill_row(), _fill_row("102", qty="10000", price="21000.5")), name="Fills.csv"
    )

    assert [(f.qty, f.price) for f in result.fills] == [
        (1, Decimal("21000.25")),
        (10000, Decimal("21000.5")),
    ]


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("0", "price must be > 0, got 0"),
        ("-4.75", "price must be > 0, got -4.75"),
        ("21000.10", "price 21000.10 is not on the tick grid (tick size 0.25)"),
        (
            FIFTEEN_DIGITS,
            f"price {FIFTEEN_DIGITS} has 15 digits before the decimal point; "
            "the column holds at most 14",
        ),
    ],
)
def test_an_impossible_price_refuses_the_file(price: str, message: str) -> None:
    error = _refused(_fills(_fill_row(), _fill_row("102", price=price)))

    assert (error.path, error.row, error.field) == ("Fills.csv", 3, "Price")
    assert error.message == message


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("0", "quantity must be > 0, got '0'"),
        ("10001", "quantity must be 1 to 10,000 contracts, got 10,001"),
    ],
)
def test_an_impossible_quantity_refuses_the_file(qty: str, message: str) -> None:
    error = _refused(_fills(_fill_row(qty=qty)))

    assert (error.path, error.row, error.field) == ("Fills.csv", 2, "Quantity")
    assert error.message == message


def test_an_over_long_fill_id_refuses_the_file() -> None:
    limit = LeaderEvent._meta.get_field("external_id").max_length
    assert limit is not None

    error = _refused(_fills(_fill_row("9" * (limit + 1))))

    assert (error.path, error.row, error.field) == ("Fills.csv", 2, "Fill ID")
    assert f"{limit + 1} characters; the column holds at most {limit}" in error.message


def test_an_over_long_account_refuses_the_file() -> None:
    limit = Trade._meta.get_field("account_name").max_length
    assert limit is not None

    error = _refused(_fills(_fill_row(account="A" * (limit + 1))))

    assert (error.row, error.field) == (2, "Account")


def test_a_known_root_without_a_tick_size_is_refused() -> None:
    with pytest.raises(ExportError) as info:
        parse_export(_fills(_fill_row()), name="Fills.csv", tick_sizes={})

    assert (info.value.row, info.value.field) == (2, "Price")
    assert "no tick size for this contract" in info.value.message


def test_the_limits_are_read_from_the_models() -> None:
    field = LeaderEvent._meta.get_field("price")

    limits = import_limits()

    assert (limits.price.max_digits, limits.price.decimal_places) == (
        field.max_digits,
        field.decimal_places,
    )
    assert limits.fill_id == LeaderEvent._meta.get_field("external_id").max_length


def test_ninjatrader_price_off_grid_names_row_and_field() -> None:
    header = "Instrument,Action,Quantity,Price,Time,ID,E/X,Position,Order ID,Name,Commission,Rate,"
    header += "Account,Connection,"
    row = "MNQ MAR25,Buy,1,21539.60,1/28/2025 10:59:52 AM,abc,Entry,1 L,o1,n,$0.00,1,Sim101,c,"

    error = _refused(f"{header}\n{row}\n", name="Grid.csv")

    assert (error.path, error.row, error.field) == ("Grid.csv", 2, "Price")
    assert "not on the tick grid" in error.message


def test_performance_negative_sell_price_names_row_and_field() -> None:
    text = (
        "symbol,buyFillId,sellFillId,qty,buyPrice,sellPrice,pnl,boughtTimestamp,soldTimestamp\n"
        "MNQZ5,1,2,1,25271.00,-4.75,$1.00,12/01/2025 16:33:05,12/01/2025 16:19:49\n"
    )

    error = _refused(text, name="Performance.csv")

    assert (error.row, error.field) == (2, "sellPrice")
    assert error.message == "price must be > 0, got -4.75"


def test_topstepx_fifteen_digit_pnl_and_negative_price_are_refused() -> None:
    header = "id,symbolId,positionSize,profitAndLoss,fees,entryPrice,exitPrice,tradeDay,createdAt"
    when = "2025-05-07T05:00:00+00:00,2025-05-07T13:00:46+00:00"
    pnl = _refused(f"{header}\n0,F.US.MNQ,-3,{FIFTEEN_DIGITS}99,2.22,0,,{when}\n", "t.csv")
    price = _refused(f"{header}\n0,F.US.MNQ,-3,-88.5,2.22,-4.75,,{when}\n", "t.csv")

    assert (pnl.row, pnl.field) == (2, "profitAndLoss")
    assert (price.row, price.field) == (2, "entryPrice")


@pytest.mark.parametrize(
    ("relative", "leader"),
    [
        (FILLS, None),
        (PERFORMANCE_HAMTARO, None),
        (PERFORMANCE, None),
        (PERFORMANCE_1, None),
        (PERFORMANCE_2, None),
        (POSITION_HISTORY, None),
        (NINJATRADER, "Sim101"),
        (TOPSTEPX, None),
    ],
)
def test_real_exports_still_import(shared_data: Path, relative: str, leader: str | None) -> None:
    result = read_export(shared_data / relative, leader_account=leader)

    assert result.fills or result.trades
