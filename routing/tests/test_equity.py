"""Equity curves and copy variance of a route (routing.equity), from the
worked session of ``performance_fixtures`` (figures by hand there)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from conftest import Route
from journal.models import Position
from routing import equity as equity_module
from routing.engine.sessions import trading_date
from routing.equity import group_equity, group_equity_payload, range_bounds
from routing.models import CopyGroup
from routing.tests.performance_fixtures import NOW, SESSION_START, T1, worked_session

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _payload(route: Route, first: date = DAY, last: date = DAY, at: datetime = NOW) -> dict:
    return group_equity_payload(group_equity(group=route.group, first=first, last=last, at=at))


def test_a_trading_date_runs_from_17h_chicago_the_day_before() -> None:
    # 2026-03-10 (CDT, UTC-5): 2026-03-09 17:00 CDT to 2026-03-10 17:00 CDT.
    start, end = range_bounds(DAY, DAY)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-09T22:00:00+00:00",
        "2026-03-10T22:00:00+00:00",
    )
    with pytest.raises(ValueError, match="before the first"):
        range_bounds(DAY, date(2026, 3, 9))


def test_a_friday_runs_through_the_weekend_as_its_trading_date_does() -> None:
    # Defect: Friday's range ended at 17:00 CT Friday, but a fill from then to
    # the Sunday open (a replay, a paper fill, a late report) has Friday's
    # trading date (routing.engine.sessions): the performance page drew no
    # curve for it, and every weekend its browser tests failed.
    friday = date(2026, 12, 4)
    start, end = range_bounds(friday, friday)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-03T23:00:00+00:00",  # Thursday 17:00 CST
        "2026-12-06T23:00:00+00:00",  # Sunday 17:00 CST, the next open
    )
    saturday_evening = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    assert trading_date(saturday_evening) == friday
    assert start <= saturday_evening < end
    # A range through Thursday still ends at Thursday's close (the next open).
    assert range_bounds(friday - timedelta(days=1), friday - timedelta(days=1))[1].isoformat() == (
        "2026-12-03T23:00:00+00:00"
    )


def test_curves_per_closing_fill_with_totals_in_dollars(route: Route) -> None:
    # Arrange
    worked_session(route)
    # Act
    payload = _payload(route)
    # Assert: 0 just before the first move (a fiftieth of the 60 s drawn: 1.2 s),
    # the sells at 15:01 (the buys realized nothing), then now (open PnL: all flat).
    assert payload["resolution"] == "fill"
    assert payload["includes_now"] is True
    anchor = T1 - timedelta(seconds=1.2)
    assert payload["x"] == [anchor.timestamp(), T1.timestamp(), NOW.timestamp()]
    assert payload["leader"]["values"] == [0.0, 39.0, 39.0]
    assert (payload["leader"]["realized"], payload["leader"]["open"]) == ("39.00", "0.00")
    small, large = payload["followers"]
    assert (small["name"], small["total"], small["values"]) == (
        "Eval 25K",
        "17.50",
        [0, 17.5, 17.5],
    )
    assert large["total"] == "117.00"
    assert payload["group"]["values"] == [0.0, 134.5, 134.5]
    assert payload["group"]["total"] == "134.50"
    assert payload["days"] == [{"day": "2026-03-10", "leader": "39.00", "followers": "134.50"}]


def test_copy_variance_against_the_leader_times_the_sizing_factor(route: Route) -> None:
    worked_session(route)
    small, large = _payload(route)["variance"]
    # Eval 25K: $17.50 against $39.00 x 0.5 = $19.50: -$2.00 (1 point worse in all).
    assert (small["factor"], small["formula"]) == ("0.5", "1 x 0.5")
    assert (small["follower_pnl"], small["scaled_leader_pnl"]) == ("17.50", "19.50")
    assert small["variance"] == "-2.00"
    assert small["scaled_values"] == [0.0, 19.5, 19.5]
    # Funded 150K: a tick better in, a tick worse out: $117.00 = $39.00 x 3.
    assert (large["scaled_leader_pnl"], large["variance"]) == ("117.00", "0.00")
    assert large["note"] == ""


def test_open_pnl_now_ends_the_curve(route: Route) -> None:
    worked_session(route)
    # The funded account holds 2 MNQ marked $25.50 up (set as the risk watch would).
    Position.objects.create(
        account=route.large,
        symbol="MNQM6",
        qty=2,
        avg_price=Decimal(21600),
        mark_price=Decimal("21606.375"),
        unrealized_pnl=Decimal("25.50"),
    )
    large = _payload(route)["followers"][1]
    assert (large["realized"], large["open"], large["total"]) == ("117.00", "25.50", "142.50")
    assert large["values"][-2:] == [117.0, 142.5]


def test_more_fills_than_points_then_summed_per_minute(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked_session(route)
    # Three closing fills, at most one time: the 15:01 minute, shown at its end.
    monkeypatch.setattr(equity_module, "POINTS_MAX", 1)
    payload = _payload(route, at=NOW + timedelta(hours=1))
    assert payload["resolution"] == "minute"
    # (0 a fiftieth of the hour drawn, 72 s, before the minute's end.)
    assert payload["x"] == [
        (T1 + timedelta(seconds=60 - 72)).timestamp(),
        (T1 + timedelta(minutes=1)).timestamp(),
        (NOW + timedelta(hours=1)).timestamp(),
    ]
    assert payload["group"]["values"] == [0.0, 134.5, 134.5]


def test_more_times_than_points_in_any_bucket_then_one_point_per_trading_date(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked_session(route)
    monkeypatch.setattr(equity_module, "POINTS_MAX", 0)
    payload = _payload(route)
    # The session's total at its close, or now while it is open.
    assert payload["resolution"] == "day"
    assert payload["x"] == [(NOW - timedelta(seconds=1)).timestamp(), NOW.timestamp()]
    assert payload["leader"]["values"] == [0.0, 39.0]
    assert payload["group"]["total"] == "134.50"


def test_a_session_without_fills_yet_is_drawn_from_its_start(route: Route) -> None:
    payload = _payload(route)
    assert payload["x"] == [SESSION_START.timestamp(), NOW.timestamp()]
    assert payload["group"]["values"] == [0.0, 0.0]


def test_a_range_before_the_fills_is_flat_and_without_open_pnl(route: Route) -> None:
    worked_session(route)
    payload = _payload(route, date(2026, 3, 2), date(2026, 3, 9))
    assert payload["includes_now"] is False
    assert payload["leader"]["open"] is None
    assert payload["group"]["values"] == [0.0]
    assert payload["variance"][0]["variance"] == "0.00"


def test_fixed_mode_and_level_1_are_named_beside_the_variance(route: Route) -> None:
    worked_session(route)
    CopyGroup.objects.filter(pk=route.group.pk).update(copy_mode="fixed", level=1)
    route.group.refresh_from_db()
    note = _payload(route)["variance"][0]["note"]
    assert "fixed copy mode" in note and "level 1 Test" in note


def test_a_range_longer_than_the_limit_is_refused(route: Route) -> None:
    with pytest.raises(ValueError, match="at most 400 days"):
        group_equity(group=route.group, first=date(2025, 1, 1), last=DAY, at=NOW)
