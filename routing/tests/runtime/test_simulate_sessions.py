"""Session rolls in the replay: a position held across the CME session open
carries its PnL so far into the opening equity, not into the new session's
daily loss (as the live session reset does). No export in shared/data holds a
position across a session (each trader there is flat by the close), so this
stream is written by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.types import LeaderFill, Side
from routing.route_file import parse_route
from routing.runtime.simulate import simulate

ROUTE = """
[group]
name = "Overnight"
[leader]
name = "Lead"
balance = 100000
[[followers]]
name = "Tight"
balance = 50000
[followers.limits]
daily_loss = 500
[[followers]]
name = "Wide"
balance = 50000
[followers.limits]
daily_loss = 700
"""


def _fill(n: int, side: Side, qty: int, price: str, at: datetime) -> LeaderFill:
    return LeaderFill(str(n), "Lead", "MNQH6", side, qty, Decimal(price), at)


# MNQ is $2 a point. Trading dates: the session opens at 17:00 Chicago
# (23:00 UTC in March before DST, which starts 2026-03-08).
FILLS = [
    # Session 2026-03-02: +2 @20000, then +1 @19900: the 2 are down
    # 100 x 2 x $2 = 400.00 at 19900 (below both limits).
    _fill(1, Side.BUY, 2, "20000.00", datetime(2026, 3, 2, 15, 0, tzinfo=UTC)),
    _fill(2, Side.BUY, 1, "19900.00", datetime(2026, 3, 2, 21, 0, tzinfo=UTC)),
    # Session 2026-03-03 (18:30 Chicago on 03-02). Carried in at the last
    # price 19900: 3 lots averaging 19966.67 = -400.00. At 19800 they are at
    # (19800 x 3 - 59900) x $2 = -1000.00: the session's PnL is -1000 + 400 =
    # -600.00. Tight (500) halts; Wide (700) does not, though the position
    # has lost 1000 since it opened.
    _fill(3, Side.SELL, 1, "19800.00", datetime(2026, 3, 3, 0, 30, tzinfo=UTC)),
    # An entry: Tight blocked by the halt, Wide copies it.
    _fill(4, Side.BUY, 1, "19800.00", datetime(2026, 3, 3, 1, 0, tzinfo=UTC)),
]


def test_pnl_carried_across_the_session_open_is_not_todays_loss() -> None:
    route = parse_route(ROUTE, name="overnight.toml")
    result = simulate(route, FILLS, SPECS_BY_ROOT)
    halts = [e for e in result.events if e.kind == "halt"]
    assert [(e.follower, e.time, e.reason, e.details["trading_date"]) for e in halts] == [
        (
            "Tight",
            datetime(2026, 3, 3, 0, 30, tzinfo=UTC),
            "daily loss 600.00 \u2265 limit 500.00",
            "2026-03-03",
        )
    ]
    by_follower = {
        name: [d for d in result.decisions if d.follower == name] for name in ("Tight", "Wide")
    }
    # Fill 3 is an exit: both sell 1. Fill 4 is an entry.
    assert [(d.side, d.qty, d.status) for d in by_follower["Tight"][2:]] == [
        ("sell", 1, "filled"),
        ("buy", 0, "blocked"),
    ]
    assert by_follower["Tight"][3].reason.endswith(
        "blocked: halted this session: daily loss 600.00 \u2265 limit 500.00"
    )
    assert [(d.side, d.qty, d.status) for d in by_follower["Wide"][2:]] == [
        ("sell", 1, "filled"),
        ("buy", 1, "filled"),
    ]
    assert result.summary["followers"][0]["halts"][0]["trading_date"] == "2026-03-03"
    assert result.summary["followers"][1]["halts"] == []
