"""manage.py replay applies the route's level and limits and each follower's
risk limits (issue "The risk engine", Done when): every blocked or scaled
order's reason names the limit and the numbers; halts, flattens and locks are
JSON lines of their own.

Two real exports, every expectation worked out by hand from their fills
(ratio-1 followers and no slippage fill at the leader's prices, so a
follower's PnL is the leader's):

* NinjaTrader grid, Sim101 (SOURCES.md §6), MNQH5 at $2 a point, one CME
  session (2025-01-28, times read as UTC). Fills and the leader's position:

  ====  ==============  ======  ===========================================
  fill  trade           pos     session PnL at the fill's price (before it)
  ====  ==============  ======  ===========================================
  1-2   +9 @21539.50,   9, 10   0, then 0.25 x 9 x 2 = +4.50 (avg 21539.525)
        +1 @21539.75
  3     -6 @21535.75    4       (21535.75 - 21539.525) x 10 x 2 = -75.50
  4     -4 @21535.50    0       -45.30 realized + (-4.025 x 4 x 2) = -77.50
  5     +10 @21537.50   10      -77.50
  6-7   -4 @21533.50,   6, 0    -157.50, -160.50 (trip 2 realizes -83.00)
        -6 @21533.25
  8     +10 @21533.00   10      -160.50
  9-10  -7 @21529.25,   3, 0    -235.50, -237.00 (trip 3 realizes -76.50)
        -3 @21529.00
  11    +10 @21528.50   10      -237.00
  12    -10 @21524.75   0       -237.00 - 3.75 x 10 x 2 = -312.00
  13-14 +5 @21519.75,   5, 10   -312.00, -312.00 + 0.25 x 5 x 2 = -309.50
        +5 @21520.00
  15    -10 @21515.75   0       -312.00 + (21515.75 - 21519.875) x 20 = -394.50
  16-17 +6 @21517.75,   6, 10   -394.50, -394.50 + 0.25 x 6 x 2 = -391.50
        +4 @21518.00
  18-19 -2 @21542.25,   8, 0    trip 6 realizes +484.00: day +89.50
        -8 @21542.00
  ====  ==============  ======  ===========================================

* Tradovate Performance, arielSofer (SOURCES.md §4), MNQZ5 ($2/pt) and
  MGCG6 ($10/pt) over several sessions; worked out in each test.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

NINJATRADER = "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv"
PERFORMANCE = "arielSofer_aiTradeReports/Performance.csv"
HEAD = """
[group]
name = "Limits"

{route}

[leader]
name = "Lead"
balance = 150000
"""
FOLLOWER = """
[[followers]]
name = "{name}"
balance = {balance}
ratio = {ratio}
{extra}
[followers.limits]
{limits}
"""


def _route(tmp_path: Path, followers: list[dict[str, str]], route: str = "") -> Path:
    text = HEAD.format(route=route) + "".join(
        FOLLOWER.format(**{"balance": "50000", "ratio": "1", "extra": "", **f}) for f in followers
    )
    path = tmp_path / "route.toml"
    path.write_text(text)
    return path


def _replay(export: Path, route: Path, *extra: str) -> tuple[list[dict], dict]:
    out = StringIO()
    call_command("replay", str(export), "--route", str(route), "--json", *extra, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return lines[:-1], lines[-1]["summary"]


def _sim101(shared_data: Path, route: Path, *extra: str) -> tuple[list[dict], dict]:
    return _replay(shared_data / NINJATRADER, route, "--leader-account", "Sim101", *extra)


def _of(rows: list[dict], follower: str) -> list[dict]:
    return [r for r in rows if r.get("follower") == follower and r["event"] == "decision"]


def _follower(summary: dict, name: str) -> dict:
    return next(f for f in summary["followers"] if f["follower"] == name)


def test_max_position_scale_down_then_entries_scaled_and_adds_blocked(
    shared_data: Path, tmp_path: Path
) -> None:
    # Ratio 1 wants the leader's 9-10 lots; max_position 1 with scale_down lets
    # each trip's first entry through at 1 lot and blocks every add; exits
    # follow the leader (partial exits keep the 1 lot: min(target, held)).
    route = _route(
        tmp_path, [{"name": "Capped", "limits": 'max_position = 1\non_breach = "scale_down"'}]
    )
    rows, summary = _sim101(shared_data, route)
    capped = _of(rows, "Capped")
    assert [(r["side"], r["qty"], r["status"], r["scaled_from"]) for r in capped[:4]] == [
        ("buy", 1, "filled", 9),  # fill 1: 9 -> 1
        ("buy", 0, "blocked", None),  # fill 2: add of 9 (target 10, holds 1)
        ("sell", 0, "skipped", None),  # fill 3: leader 10 -> 4, holds 1 = min(4, 1)
        ("sell", 1, "filled", None),  # fill 4: leader flat
    ]
    assert (
        "entry scaled down 9 \u2192 1: max contracts per position 1 (holds 0)"
        in (capped[0]["reason"])
    )
    assert (
        "blocked: entry 9 contracts > 0 allowed by max contracts per position 1 (holds 1)"
        in (capped[1]["reason"])
    )
    # Scaled: the first entry of each of the 6 trips (fills 1, 5, 8, 11, 13, 16:
    # from 9, 10, 10, 10, 5, 6); blocked: the adds at fills 2, 14, 17.
    assert [r["scaled_from"] for r in capped if r["scaled_from"]] == [9, 10, 10, 10, 5, 6]
    assert max(abs(r["position_after"]) for r in capped) == 1
    result = _follower(summary, "Capped")
    assert (result["scaled"], result["blocked"], result["filled"]) == (6, 3, 12)
    # 1 lot per trip: (-4.00 - 4.25 - 4.00 - 3.75 - 4.00 + 24.25) points x $2 = +8.50.
    assert result["realized_pnl"] == "8.50"
    assert result["final_position"] == {}


def test_daily_loss_reached_then_halted_entries_blocked_exits_go(
    shared_data: Path, tmp_path: Path
) -> None:
    # The session loss first reaches 394.50 at fill 15 (see the table): the
    # limit 394.50 trips there (≥), the limit 394.51 never does.
    route = _route(
        tmp_path,
        [
            {"name": "Loser", "limits": "daily_loss = 394.50"},
            {"name": "Edge", "limits": "daily_loss = 394.51"},
        ],
    )
    rows, summary = _sim101(shared_data, route)
    halts = [r for r in rows if r["event"] == "halt"]
    assert halts == [
        {
            "event": "halt",
            "time": "2025-01-28T11:10:15+00:00",
            "follower": "Loser",
            "reason": "daily loss 394.50 \u2265 limit 394.50",
            "trading_date": "2025-01-28",
            "code": "daily_loss",
        }
    ]
    loser = _of(rows, "Loser")
    # Fill 15, the exit of 10, still goes after the halt (same time, after it).
    assert rows.index(halts[0]) < rows.index(loser[14])
    assert (loser[14]["side"], loser[14]["qty"], loser[14]["status"]) == ("sell", 10, "filled")
    # Fills 16 and 17 are entries: blocked, the reason naming limit and numbers.
    for row in loser[15:17]:
        assert row["status"] == "blocked"
        assert row["reason"].endswith(
            "blocked: halted this session: daily loss 394.50 \u2265 limit 394.50"
        )
    # Fills 18-19 exit a position Loser never took: nothing to send.
    assert [r["status"] for r in loser[17:]] == ["skipped", "skipped"]
    assert _follower(summary, "Loser")["realized_pnl"] == "-394.50"
    assert _follower(summary, "Loser")["halts"] == [
        {k: halts[0][k] for k in ("time", "trading_date", "reason")}
    ]
    # Edge takes the last trip and ends with the leader's +89.50.
    assert [r["status"] for r in _of(rows, "Edge")] == ["filled"] * 19
    assert _follower(summary, "Edge")["realized_pnl"] == "89.50"
    assert _follower(summary, "Edge")["halts"] == []


def test_flatten_on_breach_then_positions_closed_at_the_mark(
    shared_data: Path, tmp_path: Path
) -> None:
    # At fill 3's price 21535.75 the 10 lots bought at 21539.525 are down
    # 3.775 x 10 x $2 = 75.50 = the limit: halted and flattened there.
    route = _route(
        tmp_path, [{"name": "Flat", "limits": "daily_loss = 75.50\nflatten_on_breach = true"}]
    )
    rows, summary = _sim101(shared_data, route)
    events = [r for r in rows if r["event"] != "decision"]
    assert [e["event"] for e in events] == ["halt", "flatten"]
    flatten = events[1]
    assert flatten["follower"] == "Flat"
    assert flatten["reason"] == "flatten on breach: daily loss 75.50 \u2265 limit 75.50"
    assert (flatten["symbol"], flatten["side"], flatten["qty"]) == ("MNQH5", "sell", 10)
    assert (flatten["status"], flatten["fill_price"]) == ("filled", "21535.75")
    assert flatten["position_after"] == 0
    statuses = [r["status"] for r in _of(rows, "Flat")]
    # Fills 1-2 copied; then flat: exits skip, the entries at fills 5, 8, 11,
    # 13, 14, 16 and 17 are blocked for the rest of the session.
    assert statuses[:2] == ["filled", "filled"]
    blocked = [i + 1 for i, s in enumerate(statuses) if s == "blocked"]
    assert blocked == [5, 8, 11, 13, 14, 16, 17]
    result = _follower(summary, "Flat")
    assert (result["flatten_orders"], result["blocked"]) == (1, 7)
    assert result["realized_pnl"] == "-75.50"
    assert result["final_position"] == {}


def test_route_level_1_test_forces_one_contract(shared_data: Path, tmp_path: Path) -> None:
    route = _route(
        tmp_path,
        [{"name": "Double", "ratio": "2", "limits": ""}],
        route="[route]\nlevel = 1",
    )
    rows, summary = _sim101(shared_data, route)
    double = _of(rows, "Double")
    # Fill 1: 9 x 2 = 18 forced to 1; fill 2: target 20 -> 1, held; fill 3:
    # 8 -> 1 held; fill 4: flat.
    assert [(r["side"], r["qty"], r["status"]) for r in double[:4]] == [
        ("buy", 1, "filled"),
        ("buy", 0, "skipped"),
        ("sell", 0, "skipped"),
        ("sell", 1, "filled"),
    ]
    assert "route level 1 Test: size forced to 1 contract (not 18)" in double[0]["reason"]
    assert max(abs(r["position_after"]) for r in double) == 1
    assert (summary["level"], summary["final_level"], summary["lock"]) == ("1 Test", "1 Test", None)


def test_route_level_2_reduced_caps_total_contracts_across_followers(
    shared_data: Path, tmp_path: Path
) -> None:
    # A replay takes a level-2 route as reviewed. Fill 1: A takes 9 of the 12;
    # B (scale_down) gets the 3 left; fill 2: 12 held, both adds blocked.
    route = _route(
        tmp_path,
        [
            {"name": "A", "limits": ""},
            {"name": "B", "limits": 'on_breach = "scale_down"'},
        ],
        route="[route]\nlevel = 2\nmax_total_contracts = 12",
    )
    rows, _ = _sim101(shared_data, route)
    a, b = _of(rows, "A"), _of(rows, "B")
    assert (a[0]["qty"], b[0]["qty"], b[0]["scaled_from"]) == (9, 3, 9)
    assert (
        "entry scaled down 9 \u2192 3: route max total contracts 12 (followers hold 9)"
        in (b[0]["reason"])
    )
    assert a[1]["status"] == b[1]["status"] == "blocked"
    assert (
        "entry 1 contracts > 0 allowed by route max total contracts 12 (followers hold 12)"
        in (a[1]["reason"])
    )


def test_exposure_and_position_caps_price_risk_with_the_route_stop(
    shared_data: Path, tmp_path: Path
) -> None:
    # Risk per MNQ contract = (20 stop + 0 slippage ticks) x $0.50 = $10.
    # Exposure cap $45 -> 4 contracts; position cap 0.05% of $50,000 = $25 -> 2.
    route = _route(
        tmp_path,
        [
            {"name": "Exposure", "limits": 'exposure_cap = 45\non_breach = "scale_down"'},
            {"name": "Pct", "limits": 'position_cap_pct = 0.05\non_breach = "scale_down"'},
        ],
        route="[route]\nstop_ticks = 20",
    )
    rows, _ = _sim101(shared_data, route)
    exposure, pct = _of(rows, "Exposure"), _of(rows, "Pct")
    assert (exposure[0]["qty"], pct[0]["qty"]) == (4, 2)
    assert (
        "entry scaled down 9 \u2192 4: exposure cap 45.00 (exposure 0.00, 10.00 risk per "
        in (exposure[0]["reason"])
    )
    assert (
        "entry scaled down 9 \u2192 2: position cap 0.05% of balance 50,000.00 = 25.00 at "
        in (pct[0]["reason"])
    )
    # Fill 2: 4 held = $40 of the $45: room 0, the add is blocked.
    assert exposure[1]["status"] == "blocked"
    assert (
        "allowed by exposure cap 45.00 (exposure 40.00, 10.00 risk per contract)"
        in (exposure[1]["reason"])
    )


def test_trailing_drawdown_floor_blocks_entries_the_static_floor_allows(
    shared_data: Path, tmp_path: Path
) -> None:
    # Balance 50,000 from a 49,900 start, max drawdown 300. Static floor:
    # 49,900 - 300 = 49,600, never reached (lowest equity 50,000 - 394.50).
    # Trailing intraday: the high-water mark is the equity at fill 2's price,
    # open profit included: 50,000 + 4.50 -> floor min(50,004.50 - 300,
    # 49,900) = 49,704.50. At fill 12's price (11:08:02) equity is 50,000 -
    # 312.00 = 49,688: halted for the session (fill 12, an exit, still
    # goes); the entries at fills 13, 14, 16 and 17 are blocked. Fill 11
    # (equity 49,763.00) was not.
    dd = 'max_drawdown = 300\ndrawdown_mode = "{}"'
    route = _route(
        tmp_path,
        [
            {
                "name": "Trail",
                "extra": "starting_balance = 49900",
                "limits": dd.format("trailing_intraday"),
            },
            {"name": "Static", "extra": "starting_balance = 49900", "limits": dd.format("static")},
        ],
    )
    rows, summary = _sim101(shared_data, route)
    trail = _of(rows, "Trail")
    assert [i + 1 for i, r in enumerate(trail) if r["status"] == "blocked"] == [13, 14, 16, 17]
    floor = (
        "equity 49,688.00 \u2264 drawdown floor 49,704.50 (trailing intraday, max drawdown 300.00)"
    )
    assert [r for r in rows if r["event"] == "halt"] == [
        {
            "event": "halt",
            "time": "2025-01-28T11:08:02+00:00",
            "follower": "Trail",
            "reason": floor,
            "trading_date": "2025-01-28",
            "code": "drawdown",
        }
    ]
    assert (trail[11]["side"], trail[11]["qty"], trail[11]["status"]) == ("sell", 10, "filled")
    assert trail[12]["reason"].endswith(f"blocked: halted this session: {floor}")
    assert _follower(summary, "Static")["blocked"] == 0
    # Trail stops after trip 4: -312.00.
    assert _follower(summary, "Trail")["realized_pnl"] == "-312.00"


def test_slippage_beyond_the_route_max_locks_the_route(shared_data: Path, tmp_path: Path) -> None:
    # --slippage-ticks 2: the first buy fills 2 x 0.25 above 21539.50.
    route = _route(
        tmp_path, [{"name": "One", "limits": ""}], route="[route]\nmax_slippage_ticks = 1"
    )
    rows, summary = _sim101(shared_data, route, "--slippage-ticks", "2")
    assert rows[0]["fill_price"] == "21540.00"
    # The lock's reason is live copying's incident wording (the route level
    # shows the same sentence after a live slippage incident).
    assert rows[1] == {
        "event": "lock",
        "time": "2025-01-28T10:59:52+00:00",
        "reason": "incident: slippage: slipped 2 ticks > max 1 on MNQH5: One buy 9 @ avg "
        f"21540 vs leader 21539.5 (tick 0.25, order {rows[0]['client_order_id']})",
        "route": "Limits",
        "level": "4 Locked",
        "code": "slippage",
    }
    assert "route level 4 Locked" in rows[2]["reason"] and rows[2]["status"] == "blocked"
    assert summary["final_level"] == "4 Locked"


# -- Tradovate Performance (arielSofer), several sessions ----------------------
#
# Leader fills in session 2025-12-01 (first ten), times UTC:
#  1 16:19:49 MNQZ5 sell 2 @25271.50   MNQ -2     6 16:44:40 MNQZ5 buy 1 @25244.50  MNQ 0
#  2 16:22:08 MGCG6 sell 1 @4276.6     MGC -1     7 17:00:00 MGCG6 buy 1 @4277.3    MGC 0
#  3 16:33:05 MNQZ5 buy 1 @25271.00    MNQ -1     8 17:01:46 MGCG6 sell 2 @4274.5   MGC -2
#  4 16:33:29 MNQZ5 buy 1 @25292.00    MNQ 0      9 17:16:32 MGCG6 buy 1 @4260.5    MGC -1
#  5 16:40:02 MNQZ5 sell 1 @25270.75   MNQ -1    10 17:17:12 MGCG6 buy 1 @4261.8    MGC 0


def test_deny_list_direction_and_open_positions_gate_entries(
    shared_data: Path, tmp_path: Path
) -> None:
    route = _route(
        tmp_path,
        [
            {"name": "NoGold", "limits": 'denied_roots = ["MGC"]'},
            {"name": "Longs", "limits": 'direction = "long_only"'},
            {"name": "OnePos", "limits": "max_open_positions = 1"},
        ],
    )
    rows, _ = _replay(shared_data / PERFORMANCE, route)
    no_gold, longs, one_pos = _of(rows, "NoGold"), _of(rows, "Longs"), _of(rows, "OnePos")
    # Fill 1 (MNQ short 2) and fill 2 (MGC short 1, with MNQ -2 still held).
    assert (no_gold[0]["status"], no_gold[0]["qty"]) == ("filled", 2)
    assert no_gold[1]["status"] == "blocked"
    assert no_gold[1]["reason"].endswith("blocked: MGC is on the account's deny list")
    assert all(r["status"] != "filled" for r in no_gold if r["symbol"] == "MGCG6")
    for row in longs[:2]:
        assert row["status"] == "blocked"
        assert row["reason"].endswith("blocked: account is long only: short entries are not copied")
    # Longs' first copy is the first long entry of the export: MGC +1 on 2025-12-02 10:22:55.
    first = next(r for r in longs if r["status"] == "filled")
    assert (first["time"], first["symbol"], first["side"]) == (
        "2025-12-02T10:22:55+00:00",
        "MGCG6",
        "buy",
    )
    assert all(r["side"] == "buy" for r in longs if r["intent"] == "entry" and r["qty"])
    # The MGC entry is blocked because the account already holds MNQ: every
    # tracked position reaches the engine, not only the event's contract.
    assert one_pos[1]["status"] == "blocked"
    assert one_pos[1]["reason"].endswith("blocked: open positions 1 \u2265 max open positions 1")


def test_consistency_lock_halts_for_the_session_and_resets_at_the_next(
    shared_data: Path, tmp_path: Path
) -> None:
    # Realized in session 2025-12-01: fill 3 +1.00 (0.50 x 1 x $2), fill 4
    # -41.00, fill 6 +52.50, fill 7 -7.00 (0.7 x $10), fill 9 +140.00
    # (14.0 x $10), fill 10 +127.00: 272.50 after fill 10. 30% of a 500 target
    # is 150.00, first exceeded when fill 11 (MNQ sell 1 @25378.75, 18:07:16)
    # arrives: halted, that entry blocked. Session 2025-12-02 opens at 17:00
    # CT (23:00 UTC): fill 13 (01:04:35, MNQ sell 4) is copied again. Its
    # realized (2 x 29.75 x $2 = 119.00, then 2 x 29.50 x $2 = 118.00) is
    # 237.00 > 150.00 when fill 16 arrives: halted again for 2025-12-02.
    route = _route(tmp_path, [{"name": "Steady", "limits": "profit_target = 500"}])
    rows, summary = _replay(shared_data / PERFORMANCE, route)
    halts = summary["followers"][0]["halts"]
    assert halts[:2] == [
        {
            "time": "2025-12-01T18:07:16+00:00",
            "trading_date": "2025-12-01",
            "reason": "consistency lock: session profit 272.50 > 30% of profit target "
            "500.00 (150.00)",
        },
        {
            "time": "2025-12-02T10:22:55+00:00",
            "trading_date": "2025-12-02",
            "reason": "consistency lock: session profit 237.00 > 30% of profit target "
            "500.00 (150.00)",
        },
    ]
    steady = _of(rows, "Steady")
    assert steady[10]["status"] == "blocked"
    assert "halted this session: consistency lock: session profit 272.50" in steady[10]["reason"]
    assert (steady[12]["time"], steady[12]["qty"], steady[12]["status"]) == (
        "2025-12-02T01:04:35+00:00",
        4,
        "filled",
    )


def test_daily_profit_target_stops_entries_for_the_session_and_exits_still_copy(
    shared_data: Path, tmp_path: Path
) -> None:
    # Sim101 (module table): fill 2 arrives at 21539.75 with the follower
    # long 9 from 21539.50: session PnL 0.25 x 9 x $2 = +4.50, the target:
    # halted for 2025-01-28, and fill 2's add of 1 is blocked. Fills 3 and 4
    # are exits (10 -> 4 -> 0: the follower holds 9, sells 5 then 4); every
    # later trip's entries are blocked, so it stays flat to the end.
    route = _route(tmp_path, [{"name": "Banked", "limits": "daily_profit_target = 4.50"}])
    rows, summary = _sim101(shared_data, route)
    text = "daily profit target reached: session PnL 4.50 \u2265 target 4.50"
    [halt] = [r for r in rows if r["event"] == "halt"]
    assert (halt["code"], halt["reason"], halt["trading_date"]) == (
        "daily_profit_target",
        text,
        "2025-01-28",
    )
    banked = _of(rows, "Banked")
    assert [(r["side"], r["qty"], r["status"]) for r in banked[:4]] == [
        ("buy", 9, "filled"),  # fill 1
        ("buy", 0, "blocked"),  # fill 2: the add, halted
        ("sell", 5, "filled"),  # fill 3: exit to the leader's 4
        ("sell", 4, "filled"),  # fill 4: flat with the leader
    ]
    assert f"halted this session: {text}" in banked[1]["reason"]
    entries = [r for r in banked[4:] if r["side"] == "buy"]
    assert entries and all(r["status"] == "blocked" for r in entries)
    assert _follower(summary, "Banked")["final_position"] == {}
    assert not [r for r in rows if r["event"] == "flatten"]  # a profit rule closes nothing


def test_route_session_loss_locks_the_route_for_the_rest_of_the_replay(
    shared_data: Path, tmp_path: Path
) -> None:
    # Session 2025-12-01 ends +311.50 (worst -40.00 at fill 4). Session
    # 2025-12-02: MNQ +237.00 realized, MGC 4 long 4247.0 -> 4245.6 (-56.00),
    # 3 short 4247.1 -> 4251.8 (-141.00), 3 long 4252.2 -> 4250.5 (-51.00), the
    # reversal's 3 short 4250.5 -> 4253.3 (-84.00): -95.00 when the last fill
    # (16:55:56, sell 3 @4252.2) arrives, the 3 long from 4253.3 are down
    # 1.1 x 3 x $10 = 33.00 more: -128.00 ≥ 100 -> level 4 Locked. The next
    # session's entries stay blocked (the engine alone would allow them).
    route = _route(
        tmp_path, [{"name": "One", "limits": ""}], route="[route]\nmax_session_loss = 100"
    )
    rows, summary = _replay(shared_data / PERFORMANCE, route)
    locks = [r for r in rows if r["event"] == "lock"]
    assert locks == [
        {
            "event": "lock",
            "time": "2025-12-02T16:55:56+00:00",
            "reason": "route session loss 128.00 \u2265 limit 100.00",
            "route": "Limits",
            "level": "4 Locked",
            "code": "route_session_loss",
        }
    ]
    one = _of(rows, "One")
    after = one[rows.index(locks[0]) :]  # one follower: its decisions follow the lock in order
    assert (after[0]["side"], after[0]["qty"], after[0]["status"]) == ("sell", 3, "filled")
    entries = [r for r in after if r["intent"] in ("entry", "reversal")]
    assert entries and all(r["status"] == "blocked" for r in entries)
    assert entries[0]["time"] == "2025-12-03T10:07:44+00:00"
    assert entries[0]["reason"].endswith(
        "blocked: route level 4 Locked: entries are not copied until it is unlocked with a reason"
    )
    assert summary["lock"] == {k: locks[0][k] for k in ("time", "reason")}
    assert (summary["level"], summary["final_level"]) == ("3 Active", "4 Locked")


def test_human_summary_prints_scaled_halts_and_lock(shared_data: Path, tmp_path: Path) -> None:
    route = _route(
        tmp_path,
        [
            {"name": "Capped", "limits": 'max_position = 1\non_breach = "scale_down"'},
            {"name": "Loser", "limits": "daily_loss = 394.50"},
        ],
        route="[route]\nmax_session_loss = 700",
    )
    out = StringIO()
    call_command(
        "replay",
        str(shared_data / NINJATRADER),
        "--route",
        str(route),
        "--leader-account",
        "Sim101",
        stdout=out,
    )
    text = out.getvalue()
    # Capped's worst is -8.00 on 1 lot; Loser's -394.50 at fill 15:
    # -402.50 < 700, the route is not locked.
    assert "Route level 3 Active" in text
    assert "scaled" in text and "halts" in text
    assert (
        "Halt: Loser at 2025-01-28T11:10:15+00:00 (session 2025-01-28), entries blocked until "
        "the next session: daily loss 394.50 \u2265 limit 394.50"
    ) in text
    assert "Route locked" not in text
