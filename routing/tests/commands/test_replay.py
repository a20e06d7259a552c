"""manage.py replay: real exports through a route file, JSON decisions by hand."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
ROUTE = """
[group]
name = "Evals"
copy_mode = "multiplier"
copy_value = 1
rounding = "{rounding}"

[leader]
name = "Lead"
balance = 150000

[[followers]]
name = "Half"
balance = 50000
ratio = 0.5
kind = "evaluation"

[[followers]]
name = "Third"
balance = 25000
ratio = 0.3
kind = "evaluation"
[followers.limits]
daily_loss = 1000
max_contracts = 5
"""


def _route(tmp_path: Path, rounding: str = "entry_down_exit_up") -> Path:
    path = tmp_path / "route.toml"
    path.write_text(ROUTE.format(rounding=rounding))
    return path


def _replay_json(export: Path, route: Path, *extra: str) -> tuple[list[dict], dict]:
    out = StringIO()
    call_command("replay", str(export), "--route", str(route), "--json", *extra, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    # Copy decisions only: halt / flatten / lock events are lines of their own.
    return [r for r in lines[:-1] if r["event"] == "decision"], lines[-1]["summary"]


def _decisions(rows: list[dict], follower: str) -> list[tuple[str, int, str]]:
    return [(r["side"], r["qty"], r["status"]) for r in rows if r["follower"] == follower]


def test_ninjatrader_sim101_when_replayed_then_ratio_and_rounding_rules_hold(
    shared_data: Path, tmp_path: Path
) -> None:
    # Arrange: Sim101's first seven fills (SOURCES.md §6) and the hand-sized copies.
    # Targets come from the leader's cumulative position (no per-fill drift).
    # leader       | Half (0.5)                   | Third (0.3)
    # buy 9  -> 9  | 4.5 -> 4: buy 4              | 2.7 -> 2: buy 2
    # buy 1  -> 10 | 5: buy 1                     | 3: buy 1
    # sell 6 -> 4  | 2: sell 3                    | 1.2 -> 1 (exit up): sell 2
    # sell 4 -> 0  | flat: sell 2                 | flat: sell 1
    # buy 10 -> 10 | 5: buy 5                     | 3: buy 3
    # sell 4 -> 6  | 3: sell 2                    | 1.8 -> 1: sell 2
    # sell 6 -> 0  | flat: sell 3                 | flat: sell 1
    rows, summary = _replay_json(
        shared_data / NINJATRADER, _route(tmp_path), "--leader-account", "Sim101"
    )
    # Act / Assert
    assert _decisions(rows, "Half")[:7] == [
        ("buy", 4, "filled"),
        ("buy", 1, "filled"),
        ("sell", 3, "filled"),
        ("sell", 2, "filled"),
        ("buy", 5, "filled"),
        ("sell", 2, "filled"),
        ("sell", 3, "filled"),
    ]
    assert _decisions(rows, "Third")[:7] == [
        ("buy", 2, "filled"),
        ("buy", 1, "filled"),
        ("sell", 2, "filled"),
        ("sell", 1, "filled"),
        ("buy", 3, "filled"),
        ("sell", 2, "filled"),
        ("sell", 1, "filled"),
    ]
    second = [r for r in rows if r["follower"] == "Half"][1]
    assert "10 x 1 x 0.5 = 5 → 5 (entry rounds down)" in second["reason"]
    exit_up = [r for r in rows if r["follower"] == "Third"][2]
    assert "4 x 1 x 0.3 = 1.2 → 1 (exit rounds up)" in exit_up["reason"]
    assert set(rows[0]) >= {
        "leader_event",
        "follower",
        "symbol",
        "side",
        "qty",
        "status",
        "reason",
        "client_order_id",
    }
    assert rows[0]["leader_event"] == "e6c4685b7fa74bb6a8af5cacebc76cb7"
    assert rows[0]["symbol"] == "MNQH5"
    # Half's first trip: bought 4 @ 21539.50, sold 3 @ 21535.75 and 1 @ 21535.50:
    # (-3.75 x 3 - 4.00 x 1) x $2 = -30.50 realized after fill 4.
    half = next(f for f in summary["followers"] if f["follower"] == "Half")
    assert half["final_position"] == {}  # Sim101 ends flat, so does every follower
    assert summary["leader_account"] == "Sim101"
    assert summary["timezone"] == "UTC"
    assert "read as UTC" in summary["timezone_note"]


def test_nearest_rounding_when_half_then_rounds_up(shared_data: Path, tmp_path: Path) -> None:
    rows, _ = _replay_json(
        shared_data / NINJATRADER, _route(tmp_path, "nearest"), "--leader-account", "Sim101"
    )
    # buy 9: Half 4.5 -> 5 (half up), Third 2.7 -> 3; buy 1 (leader 10): targets
    # 5 and 3 are already held; sell 6 (leader 4): Half 2 (sell 3), Third 1.2 -> 1 (sell 2).
    assert _decisions(rows, "Half")[:3] == [
        ("buy", 5, "filled"),
        ("buy", 0, "skipped"),
        ("sell", 3, "filled"),
    ]
    assert _decisions(rows, "Third")[:3] == [
        ("buy", 3, "filled"),
        ("buy", 0, "skipped"),
        ("sell", 2, "filled"),
    ]


def test_replay_is_deterministic(shared_data: Path, tmp_path: Path) -> None:
    route = _route(tmp_path)
    first, _ = _replay_json(shared_data / NINJATRADER, route, "--leader-account", "Sim101")
    second, _ = _replay_json(shared_data / NINJATRADER, route, "--leader-account", "Sim101")
    assert first == second
    assert len({r["client_order_id"] for r in first}) == len(first)


@pytest.mark.parametrize(
    ("export", "extra"),
    [
        ("hamtaro777_tradovate-analytics-test/Fills_tradovate.csv", ()),
        ("hamtaro777_tradovate-analytics-test/Performance_trdovate.csv", ("--tz", "Asia/Tokyo")),
        ("arielSofer_aiTradeReports/Performance.csv", ()),
        ("arielSofer_aiTradeReports/Performance (1).csv", ()),
        ("arielSofer_aiTradeReports/Performance (2).csv", ()),
        ("GeneBO98_tradetally/tradovate-paired-trades-sample.csv", ()),
        (NINJATRADER, ("--leader-account", "Sim101")),
    ],
)
def test_every_replayable_real_export_when_replayed_then_succeeds(
    shared_data: Path, tmp_path: Path, export: str, extra: tuple[str, ...]
) -> None:
    rows, summary = _replay_json(shared_data / export, _route(tmp_path), *extra)
    assert summary["leader"]["fills"] > 0
    assert len(rows) == 2 * summary["leader"]["fills"]  # one decision per follower per fill
    for row in rows:
        assert row["status"] in {"filled", "skipped", "blocked"}
        assert row["qty"] >= 0
    # Human summary prints too.
    out = StringIO()
    call_command(
        "replay", str(shared_data / export), "--route", str(_route(tmp_path)), *extra, stdout=out
    )
    assert "Half" in out.getvalue() and "Third" in out.getvalue()


def test_topstepx_dump_when_replayed_then_refused_with_reason(
    shared_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match=r"carries P&L per trade without entry/exit prices"):
        call_command(
            "replay",
            str(shared_data / "arielSofer_aiTradeReports/topstepx_trades.csv"),
            "--route",
            str(_route(tmp_path)),
            stdout=StringIO(),
        )


def test_ninjatrader_without_leader_account_then_asks_for_one(
    shared_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="--leader-account"):
        call_command(
            "replay",
            str(shared_data / NINJATRADER),
            "--route",
            str(_route(tmp_path)),
            stdout=StringIO(),
        )


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            lambda t: t.replace('rounding = "entry_down_exit_up"', 'rounding = "up"'),
            "group.rounding must be one of",
        ),
        (
            lambda t: t.replace("ratio = 0.5", "ratio = 0.05"),
            r"followers\[1\].ratio must be between 0.1 and 1000",
        ),
        (
            lambda t: t.replace("[leader]", "[leader]\ncolour = 1"),
            r"\[leader\] unknown key\(s\) colour",
        ),
        (
            lambda t: t.replace("max_contracts = 5", "max_contracts = 2.5"),
            "max_contracts must be a whole number",
        ),
        (lambda t: t.replace('name = "Third"', 'name = "Half"'), "account names must be unique"),
    ],
)
def test_bad_route_file_then_error_names_the_key(
    shared_data: Path, tmp_path: Path, mutation, message
) -> None:
    route = tmp_path / "route.toml"
    route.write_text(mutation(ROUTE.format(rounding="entry_down_exit_up")))
    with pytest.raises(CommandError, match=message):
        call_command(
            "replay", str(shared_data / NINJATRADER), "--route", str(route), stdout=StringIO()
        )


def test_malformed_export_then_error_names_file_row_field(
    shared_data: Path, tmp_path: Path
) -> None:
    text = (shared_data / NINJATRADER).read_text()
    bad = tmp_path / "grid.csv"
    lines = text.splitlines()
    lines[2] = lines[2].replace("21539.75", "21539.7x")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"grid.csv, row 3, field 'Price'"):
        call_command(
            "replay",
            str(bad),
            "--route",
            str(_route(tmp_path)),
            "--leader-account",
            "Sim101",
            stdout=StringIO(),
        )
