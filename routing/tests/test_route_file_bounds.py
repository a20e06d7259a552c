"""Impossible numbers in a route file are refused with the key (issue 10, defect 8).

Contract counts are 1 to 10,000; balances and dollar limits must fit the
money columns they are stored in (digits read from the model fields).
"""

from __future__ import annotations

import pytest

from routing.models import RiskLimit
from routing.route_file import RouteFileError, parse_route

TEXT = """
[group]
name = "Evals"
{route}
[leader]
name = "Lead"
balance = {leader_balance}

[[followers]]
name = "Eval 50K"
balance = 50000

[followers.limits]
{limits}
"""

TOO_BIG = "1" + "0" * 16  # 17 whole digits; a (20, 4) money column holds 16


def _parse(*, route: str = "", limits: str = "", leader_balance: str = "150000"):
    text = TEXT.format(route=route, limits=limits, leader_balance=leader_balance)
    return parse_route(text, name="r.toml")


def test_ten_thousand_contracts_and_large_money_within_the_column_parse() -> None:
    spec = _parse(
        route="[route]\nmax_total_contracts = 10000\nmax_contracts_per_account = 10000\n",
        limits="max_contracts = 10000\nmax_position = 10000\ndaily_loss = 9999999999999999",
    )

    assert spec.followers[0].limits.max_contracts == 10_000


@pytest.mark.parametrize(
    ("route", "limits", "key"),
    [
        ("[route]\nmax_total_contracts = 10001\n", "", "route.max_total_contracts"),
        ("[route]\nmax_contracts_per_account = 10001\n", "", "route.max_contracts_per_account"),
        ("", "max_contracts = 10001", "followers[1].limits.max_contracts"),
        ("", "max_position = 10001", "followers[1].limits.max_position"),
    ],
)
def test_more_than_ten_thousand_contracts_is_refused_with_the_key(
    route: str, limits: str, key: str
) -> None:
    with pytest.raises(RouteFileError) as caught:
        _parse(route=route, limits=limits)

    assert str(caught.value) == (
        f"r.toml: {key} must be a whole number of contracts from 1 to 10,000, got 10001"
    )


@pytest.mark.parametrize(
    ("route", "limits", "leader_balance", "key"),
    [
        ("", "", TOO_BIG, "leader.balance"),
        ("", f"daily_loss = {TOO_BIG}", "150000", "followers[1].limits.daily_loss"),
        (
            "[route]\nstop_ticks = 8\n",
            f"exposure_cap = {TOO_BIG}",
            "150000",
            "followers[1].limits.exposure_cap",
        ),
        (f"[route]\nmax_session_loss = {TOO_BIG}\n", "", "150000", "route.max_session_loss"),
        ("", "daily_loss = 0.00001", "150000", "followers[1].limits.daily_loss"),
        (
            "",
            f"daily_profit_target = {TOO_BIG}",
            "150000",
            "followers[1].limits.daily_profit_target",
        ),
    ],
)
def test_money_beyond_its_column_is_refused_with_the_key(
    route: str, limits: str, leader_balance: str, key: str
) -> None:
    field = RiskLimit._meta.get_field("daily_loss")

    with pytest.raises(RouteFileError) as caught:
        _parse(route=route, limits=limits, leader_balance=leader_balance)

    message = str(caught.value)
    assert message.startswith(f"r.toml: {key} ")
    assert "the column holds at most" in message
    assert (
        str(field.max_digits - field.decimal_places) in message
        or str(field.decimal_places) in message
    )
