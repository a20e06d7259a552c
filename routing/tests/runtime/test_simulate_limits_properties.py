"""Properties of the replay with risk limits, over every replayable real export.

For random followers (ratio, copy mode and value, rounding, route level 1 or
3, ``max_position``, ``on_breach``, a daily loss limit with or without
flatten) the replay of a real leader stream keeps:

* no follower ever holds more than its ``max_position`` contracts in one
  contract, after any decision or flatten, nor at the end at the broker;
* only entries are blocked: an exit is never refused (``blocked`` decisions
  are entries or reversals);
* after a halt, the follower takes no new entry until the next session.

``simulate`` is pure (no database): the specs come from the project's table.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings as django_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from journal.importers.detect import read_export
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.sessions import trading_date
from routing.engine.types import LeaderFill
from routing.route_file import parse_route
from routing.runtime.simulate import DecisionRecord, RiskEvent, simulate

EXPORTS = {
    "hamtaro777_tradovate-analytics-test/Fills_tradovate.csv": None,
    "arielSofer_aiTradeReports/Performance.csv": None,
    "arielSofer_aiTradeReports/Performance (1).csv": None,
    "arielSofer_aiTradeReports/Performance (2).csv": None,
    "GeneBO98_tradetally/tradovate-paired-trades-sample.csv": None,
    "qsor27_FuturesTradingLog/NinjaTrader Grid 2025-01-28 11-21 AM.csv": "Sim101",
}


@cache
def _fills(export: str) -> tuple[LeaderFill, ...]:
    path = Path(django_settings.SHARED_DATA_DIR) / export
    assert path.is_file(), f"{path} not found: the tests read real exports from shared/data"
    return tuple(read_export(path, leader_account=EXPORTS[export]).fills)


follower = st.fixed_dictionaries(
    {
        "ratio": st.decimals(min_value=Decimal("0.1"), max_value=Decimal("20"), places=1),
        "max_position": st.integers(min_value=1, max_value=5),
        "on_breach": st.sampled_from(["scale_down", "block"]),
        "daily_loss": st.none() | st.integers(min_value=20, max_value=600),
        "flatten": st.booleans(),
    }
)


def _route_text(
    followers: Sequence[dict], copy_mode: str, copy_value: Decimal, rounding: str, level: int
) -> str:
    text = f"""
[group]
name = "Property"
copy_mode = "{copy_mode}"
copy_value = {copy_value}
rounding = "{rounding}"
[route]
level = {level}
[leader]
name = "Lead"
balance = 100000
"""
    for i, f in enumerate(followers):
        limits = f'max_position = {f["max_position"]}\non_breach = "{f["on_breach"]}"\n'
        if f["daily_loss"] is not None:
            limits += f"daily_loss = {f['daily_loss']}\n"
            limits += f"flatten_on_breach = {'true' if f['flatten'] else 'false'}\n"
        text += (
            f'[[followers]]\nname = "F{i}"\nbalance = 50000\nratio = {f["ratio"]}\n'
            f"[followers.limits]\n{limits}"
        )
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    export=st.sampled_from(sorted(EXPORTS)),
    followers=st.lists(follower, min_size=1, max_size=3),
    copy_mode=st.sampled_from(["multiplier", "fixed"]),
    copy_value=st.sampled_from([Decimal(1), Decimal(2), Decimal("0.5")]),
    rounding=st.sampled_from(["entry_down_exit_up", "nearest", "always_down"]),
    level=st.sampled_from([1, 3]),
)
def test_no_follower_ever_holds_more_than_its_max_position(
    export: str,
    followers: list[dict],
    copy_mode: str,
    copy_value: Decimal,
    rounding: str,
    level: int,
) -> None:
    route = parse_route(
        _route_text(followers, copy_mode, copy_value, rounding, level), name="property.toml"
    )
    result = simulate(route, _fills(export), SPECS_BY_ROOT)
    caps = {f"F{i}": f["max_position"] for i, f in enumerate(followers)}
    halted: set[tuple[str, str]] = set()  # (follower, trading date)
    for record in result.records:
        if isinstance(record, RiskEvent):
            if record.kind == "halt":
                halted.add((record.follower, record.details["trading_date"]))
            elif record.kind == "flatten":
                assert abs(record.details["position_after"]) <= caps[record.follower]
            continue
        assert isinstance(record, DecisionRecord)
        assert abs(record.position_after) <= caps[record.follower], record
        if record.status == "blocked":
            assert record.intent in ("entry", "reversal"), record
        day = trading_date(record.time).isoformat()
        if (record.follower, day) in halted and record.intent == "entry":
            assert record.status != "filled", record  # halted: no entry this session
    for summary in result.summary["followers"]:
        event("scaled" if summary["scaled"] else "none scaled")
        event("halted" if summary["halts"] else "not halted")
        event("flattened" if summary["flatten_orders"] else "not flattened")
        for qty in summary["final_position"].values():
            assert abs(qty) <= caps[summary["follower"]]
