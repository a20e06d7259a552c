"""The route file's risk settings: every account limit in ``[followers.limits]``,
``starting_balance``, the ``[route]`` table, and every refusal naming file,
key and value (issue "The risk engine", Done when). Hand-written TOML; pure.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from routing import route_file
from routing.engine.limits import (
    Direction,
    DrawdownMode,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.route_file import RouteFileError, parse_route

HEAD = """
[group]
name = "Evals"
{route}
[leader]
name = "Lead"
balance = 150000

[[followers]]
name = "Eval 50K"
balance = 50000
{follower}
[followers.limits]
{limits}
"""


def _parse(limits: str = "", route: str = "", follower: str = ""):
    return parse_route(HEAD.format(limits=limits, route=route, follower=follower), name="r.toml")


def test_every_account_limit_when_given_then_parsed_into_risk_limits() -> None:
    spec = _parse(
        limits="""
daily_loss = 1000
flatten_on_breach = true
daily_profit_target = 1500.50
max_contracts = 5
max_position = 3
max_open_positions = 2
position_cap_pct = 1.5
exposure_cap = 2000
on_breach = "scale_down"
allowed_roots = ["mnq", "MES"]
denied_roots = ["CL"]
direction = "long_only"
max_drawdown = 2500
drawdown_mode = "trailing_eod"
profit_target = 3000
consistency_pct = 40
""",
        route="[route]\nstop_ticks = 40\n",
        follower="starting_balance = 48000",
    )
    follower = spec.followers[0]
    assert follower.limits == RiskLimits(
        daily_loss=Decimal(1000),
        daily_profit_target=Decimal("1500.50"),
        max_contracts=5,
        max_position=3,
        max_open_positions=2,
        position_cap_pct=Decimal("1.5"),
        exposure_cap=Decimal(2000),
        on_breach=OnBreach.SCALE_DOWN,
        allowed_roots=frozenset({"MNQ", "MES"}),  # upper-cased
        denied_roots=frozenset({"CL"}),
        direction=Direction.LONG_ONLY,
        max_drawdown=Decimal(2500),
        drawdown_mode=DrawdownMode.TRAILING_EOD,
        profit_target=Decimal(3000),
        consistency_pct=Decimal(40),
        flatten_on_breach=True,
    )
    assert follower.account.balance == Decimal(50000)
    assert follower.account.starting_balance == Decimal(48000)
    assert follower.account.start == Decimal(48000)


def test_no_limits_and_no_route_table_then_defaults() -> None:
    spec = _parse()
    assert spec.followers[0].limits == RiskLimits()
    assert spec.followers[0].limits.consistency_pct == Decimal(30)  # the default
    assert spec.followers[0].account.start == Decimal(50000)  # starting balance = balance
    assert spec.group.limits == RouteLimits()  # level 3 Active, no caps
    assert spec.group.limits.level is RouteLevel.ACTIVE


def test_route_table_when_given_then_parsed_into_route_limits() -> None:
    spec = _parse(
        route="""
[route]
level = 2
max_accounts = 5
max_contracts_per_account = 10
max_total_contracts = 30
max_session_loss = 2500.50
stop_ticks = 40
slippage_ticks = 2
max_slippage_ticks = 0
"""
    )
    assert spec.group.limits == RouteLimits(
        level=RouteLevel.REDUCED,
        reviewed=False,  # the file never marks a route reviewed; the replay does
        max_accounts=5,
        max_contracts_per_account=10,
        max_total_contracts=30,
        max_session_loss=Decimal("2500.50"),
        stop_ticks=40,
        slippage_ticks=2,
        max_slippage_ticks=0,
    )


@pytest.mark.parametrize("level", [0, 1, 3, 4])
def test_each_route_level_is_accepted(level: int) -> None:
    assert _parse(route=f"[route]\nlevel = {level}\n").group.limits.level == RouteLevel(level)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("daily_loss = 0", r"followers\[1\].limits.daily_loss must be > 0, got 0"),
        ("daily_loss = -5", r"followers\[1\].limits.daily_loss must be > 0, got -5"),
        ('daily_loss = "1000"', r"followers\[1\].limits.daily_loss must be a number, got '1000'"),
        ("exposure_cap = 0", r"followers\[1\].limits.exposure_cap must be > 0, got 0"),
        ("max_drawdown = -1", r"followers\[1\].limits.max_drawdown must be > 0, got -1"),
        ("profit_target = 0", r"followers\[1\].limits.profit_target must be > 0, got 0"),
        (
            "daily_profit_target = -1",
            r"followers\[1\].limits.daily_profit_target must be > 0, got -1",
        ),
        ("max_contracts = 0", r"limits.max_contracts must be a whole number > 0, got 0"),
        ("max_position = 1.5", r"limits.max_position must be a whole number > 0, got Decimal"),
        ("max_position = true", r"limits.max_position must be a whole number > 0, got True"),
        ("max_open_positions = -2", r"max_open_positions must be a whole number > 0, got -2"),
        ("position_cap_pct = 0", r"position_cap_pct must be in \(0, 100\] percent, got 0"),
        ("position_cap_pct = 101", r"position_cap_pct must be in \(0, 100\] percent, got 101"),
        (
            "profit_target = 3000\nconsistency_pct = 0",
            r"consistency_pct must be in \(0, 100\] percent, got 0",
        ),
        ('on_breach = "shrink"', r"limits.on_breach must be one of 'scale_down', 'block', got"),
        ('direction = "up"', r"limits.direction must be one of 'both', 'long_only', 'short_only'"),
        (
            'max_drawdown = 2000\ndrawdown_mode = "eod"',
            r"limits.drawdown_mode must be one of 'static', 'trailing_intraday', 'trailing_eod', "
            r"got 'eod'",
        ),
        ('allowed_roots = "MNQ"', r"limits.allowed_roots must be an array of product roots"),
        ('denied_roots = ["M N Q"]', r"limits.denied_roots must hold product roots .*'M N Q'"),
        ("denied_roots = [5]", r"limits.denied_roots must hold product roots like 'MNQ', got 5"),
        (
            'allowed_roots = ["MNQ", "CL"]\ndenied_roots = ["cl"]',
            r"limits: CL both in allowed_roots and denied_roots",
        ),
        ('flatten_on_breach = "yes"', r"limits.flatten_on_breach must be true or false"),
        (
            'daily_loss = 500\nflatten_on_breach = "yes"',
            r"limits.flatten_on_breach must be true or false, got 'yes'",
        ),
        ("colour = 1", r"\[followers\[1\].limits\] unknown key\(s\) colour"),
        # A setting that could never apply is refused, not ignored.
        (
            "consistency_pct = 40",
            r"limits.consistency_pct needs followers\[1\].limits.profit_target",
        ),
        (
            'drawdown_mode = "static"',
            r"limits.drawdown_mode needs followers\[1\].limits.max_drawdown",
        ),
        ("flatten_on_breach = true", r"limits.flatten_on_breach needs followers\[1\].limits.daily"),
        ("exposure_cap = 1000", r"limits.exposure_cap needs route.stop_ticks"),
        ("position_cap_pct = 1", r"limits.position_cap_pct needs route.stop_ticks"),
    ],
)
def test_bad_account_limit_then_refused_with_file_key_and_value(limits: str, message: str) -> None:
    with pytest.raises(RouteFileError, match=message) as caught:
        _parse(limits=limits)
    assert str(caught.value).startswith("r.toml: ")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("level = 5", r"route.level must be one of 0 \(Off\), 1 \(Test\), .* got 5"),
        ("level = -1", r"route.level must be one of .* got -1"),
        ('level = "active"', r"route.level must be one of .* got 'active'"),
        ("level = 3.0", r"route.level must be one of .* got Decimal\('3.0'\)"),
        ("level = 2", r"route.level 2 \(Reduced\) needs route.max_total_contracts"),
        ("max_accounts = 0", r"route.max_accounts must be a whole number > 0, got 0"),
        (
            "max_contracts_per_account = 2.5",
            r"route.max_contracts_per_account must be a whole number > 0",
        ),
        ("max_total_contracts = -1", r"route.max_total_contracts must be a whole number > 0"),
        ("max_session_loss = 0", r"route.max_session_loss must be > 0, got 0"),
        ("stop_ticks = 0", r"route.stop_ticks must be a whole number > 0, got 0"),
        ("slippage_ticks = -1", r"route.slippage_ticks must be a whole number ≥ 0, got -1"),
        ("max_slippage_ticks = -1", r"route.max_slippage_ticks must be a whole number ≥ 0"),
        ("reviewed = true", r"\[route\] unknown key\(s\) reviewed"),
    ],
)
def test_bad_route_setting_then_refused_with_file_key_and_value(route: str, message: str) -> None:
    with pytest.raises(RouteFileError, match=message) as caught:
        _parse(route=f"[route]\n{route}\n")
    assert str(caught.value).startswith("r.toml: ")


def test_route_not_a_table_then_refused() -> None:
    text = HEAD.format(limits="", route="", follower="").replace(
        '[group]\nname = "Evals"', 'route = 3\n[group]\nname = "Evals"'
    )
    with pytest.raises(RouteFileError, match=r"r.toml: route must be a \[route\] table"):
        parse_route(text, name="r.toml")


@pytest.mark.parametrize(
    ("follower", "message"),
    [
        ("starting_balance = -1", r"followers\[1\].starting_balance must be ≥ 0, got -1"),
        ('starting_balance = "50k"', r"followers\[1\].starting_balance must be a number"),
    ],
)
def test_bad_starting_balance_then_refused(follower: str, message: str) -> None:
    with pytest.raises(RouteFileError, match=message):
        _parse(follower=follower)


def test_the_documented_schemas_parse() -> None:
    # The module docstring and the README show every key once; both must load.
    doc = route_file.__doc__.split("::", 1)[1].split("Names match", 1)[0]
    documented = parse_route("\n".join(line[4:] for line in doc.splitlines()), name="docstring")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("Route file schema", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    for spec in (documented, parse_route(block, name="README.md")):
        assert spec.group.limits.stop_ticks == 40
        assert spec.followers[0].limits.drawdown_mode is DrawdownMode.TRAILING_INTRADAY
        assert spec.followers[0].limits.allowed_roots == frozenset({"MNQ", "MES"})
