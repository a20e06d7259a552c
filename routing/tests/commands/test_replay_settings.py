"""manage.py replay honours every copy setting of the route file (issue 3).

The NinjaTrader grid's Sim101 leader trades MNQ: +9, +1, -6, -4, +10, -4, -6,
so its cumulative position runs 9, 10, 4, 0, 10, 6, 0 (SOURCES.md §6).
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
HEAD = """
[group]
name = "Settings"
copy_mode = "{copy_mode}"
copy_value = {copy_value}
sizing_mode = "{sizing_mode}"
rounding = "entry_down_exit_up"
auto_micro = {auto_micro}
quarantine = true
partial_exit = "{partial_exit}"

[leader]
name = "Lead"
balance = 150000
"""
FOLLOWER = """
[[followers]]
name = "{name}"
balance = {balance}
ratio = {ratio}
sizing_basis = "{basis}"
"""
MAPPING = """
[[mappings]]
leader = "{leader}"
follower = "{follower}"
"""


def _route(
    tmp_path: Path,
    followers: list[dict[str, str]],
    mappings: list[tuple[str, str]] = (),
    **group: str,
) -> Path:
    settings = {
        "copy_mode": "multiplier",
        "copy_value": "1",
        "sizing_mode": "contracts",
        "auto_micro": "false",
        "partial_exit": "proportional",
        **group,
    }
    text = HEAD.format(**settings)
    for f in followers:
        text += FOLLOWER.format(**{"balance": "50000", "ratio": "1", "basis": "ratio", **f})
    for leader, follower in mappings:
        text += MAPPING.format(leader=leader, follower=follower)
    path = tmp_path / "route.toml"
    path.write_text(text)
    return path


def _replay(shared_data: Path, route: Path) -> list[dict]:
    out = StringIO()
    call_command(
        "replay",
        str(shared_data / NINJATRADER),
        "--route",
        str(route),
        "--json",
        "--leader-account",
        "Sim101",
        stdout=out,
    )
    return [json.loads(line) for line in out.getvalue().splitlines()][:-1]


def _first7(rows: list[dict], follower: str) -> list[tuple[str, str, int, str]]:
    return [
        (r["symbol"], r["side"], r["qty"], r["status"]) for r in rows if r["follower"] == follower
    ][:7]


def test_notional_mapping_mnq_to_nq_sizes_ten_micros_as_one_mini(
    shared_data: Path, tmp_path: Path
) -> None:
    # floor(L x 2/20): 9 -> 0, 10 -> 1, 4 -> 0, 0, 10 -> 1, 6 -> 0, 0.
    route = _route(tmp_path, [{"name": "Mini"}], [("MNQ", "NQ")], sizing_mode="notional")
    assert _first7(_replay(shared_data, route), "Mini") == [
        ("NQH5", "buy", 0, "skipped"),
        ("NQH5", "buy", 1, "filled"),
        ("NQH5", "sell", 1, "filled"),
        ("NQH5", "sell", 0, "skipped"),
        ("NQH5", "buy", 1, "filled"),
        ("NQH5", "sell", 1, "filled"),
        ("NQH5", "sell", 0, "skipped"),
    ]


def test_contracts_mapping_copies_the_count_into_the_mapped_product(
    shared_data: Path, tmp_path: Path
) -> None:
    route = _route(tmp_path, [{"name": "Mini", "ratio": "0.1"}], [("MNQ", "NQ")])
    rows = _replay(shared_data, route)
    # ratio 0.1 in contracts mode: floor(9 x 0.1) = 0, floor(10 x 0.1) = 1.
    assert _first7(rows, "Mini")[:2] == [
        ("NQH5", "buy", 0, "skipped"),
        ("NQH5", "buy", 1, "filled"),
    ]


def test_percent_of_balance_sizes_like_the_balance_share(shared_data: Path, tmp_path: Path) -> None:
    # 75 000 / 150 000 = 0.5, the same as ratio 0.5.
    route = _route(
        tmp_path,
        [
            {"name": "Share", "balance": "75000", "basis": "percent_of_balance"},
            {"name": "Half", "ratio": "0.5"},
        ],
    )
    rows = _replay(shared_data, route)
    share = [(s, side, q) for s, side, q, _ in _first7(rows, "Share")]
    assert share == [(s, side, q) for s, side, q, _ in _first7(rows, "Half")]
    assert share[0] == ("MNQH5", "buy", 4)


def test_fixed_mode_holds_the_fixed_size(shared_data: Path, tmp_path: Path) -> None:
    # Fixed 2 x 1: buy 2 on entry; 10 -> 4 keeps 2 x 4/10 = 0.8 -> 0; flat; 2 again;
    # 10 -> 6 keeps 2 x 6/10 = 1.2 -> 1; flat.
    route = _route(tmp_path, [{"name": "Fixed"}], copy_mode="fixed", copy_value="2")
    assert [(side, q) for _, side, q, _ in _first7(_replay(shared_data, route), "Fixed")] == [
        ("buy", 2),
        ("buy", 0),
        ("sell", 2),
        ("sell", 0),
        ("buy", 2),
        ("sell", 1),
        ("sell", 1),
    ]


def test_exit_with_leader_ignores_partials(shared_data: Path, tmp_path: Path) -> None:
    # ratio 0.5: 9 -> 4, 10 -> 5, 4: hold 5, 0: sell 5, 10 -> 5, 6: hold, 0: sell 5.
    route = _route(tmp_path, [{"name": "Hold", "ratio": "0.5"}], partial_exit="exit_with_leader")
    assert [(side, q) for _, side, q, _ in _first7(_replay(shared_data, route), "Hold")] == [
        ("buy", 4),
        ("buy", 1),
        ("sell", 0),
        ("sell", 5),
        ("buy", 5),
        ("sell", 0),
        ("sell", 5),
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("sizing_mode", "dollars"), "group.sizing_mode must be one of"),
        (("partial_exit", "sometimes"), "group.partial_exit must be one of"),
        (("auto_micro", '"yes"'), "group.auto_micro must be true or false"),
    ],
)
def test_bad_setting_is_refused_with_its_key(
    shared_data: Path, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    key, value = edit
    route = _route(tmp_path, [{"name": "F"}], **{key: value})
    with pytest.raises(CommandError, match=message):
        _replay(shared_data, route)


def test_mapping_without_contract_spec_is_refused(shared_data: Path, tmp_path: Path) -> None:
    route = _route(tmp_path, [{"name": "F"}], [("MNQ", "QQ")])
    with pytest.raises(CommandError, match="no contract spec for QQ"):
        _replay(shared_data, route)


def test_bad_sizing_basis_and_mapping_keys_are_refused(shared_data: Path, tmp_path: Path) -> None:
    route = _route(tmp_path, [{"name": "F", "basis": "equity"}])
    with pytest.raises(CommandError, match=r"followers\[1\].sizing_basis must be one of"):
        _replay(shared_data, route)
    route.write_text(route.read_text() + '\n[[mappings]]\nleader = "MNQ"\nto = "NQ"\n')
    route.write_text(route.read_text().replace('"equity"', '"ratio"'))
    with pytest.raises(CommandError, match=r"mappings\[1\].*unknown key"):
        _replay(shared_data, route)
