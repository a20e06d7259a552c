"""The performance page and its JSON: owners only (404 for anyone else),
the numbers on the page without the chart library, bad ranges named."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from conftest import Route
from routing.tests.performance_fixtures import NOW, worked_session

pytestmark = pytest.mark.django_db

RANGE = "?first=2026-03-10&last=2026-03-10"


@pytest.fixture
def alice_client(route: Route) -> Client:
    client = Client()
    client.force_login(route.owner)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/groups/{id}/performance/",
        "/api/groups/{id}/performance/",
        "/api/groups/{id}/equity/?first=2026-03-10&last=2026-03-10",
    ],
)
def test_another_users_group_is_a_404(route: Route, bob_client: Client, path: str) -> None:
    response = bob_client.get(path.format(id=route.group.pk))
    assert response.status_code == 404


def test_logged_out_gets_no_figures(route: Route) -> None:
    assert Client().get(f"/groups/{route.group.pk}/performance/").status_code == 302
    assert Client().get(f"/api/groups/{route.group.pk}/performance/").status_code == 403


def test_page_shows_the_sessions_latency_and_slippage(route: Route, alice_client: Client) -> None:
    # Arrange
    worked_session(route)
    # Act: the page as it is two minutes after the second fill.
    with time_machine.travel(NOW, tick=False):
        html = alice_client.get(f"/groups/{route.group.pk}/performance/").content.decode()
    # Assert (figures of performance_fixtures): the route's p50/p99, Eval 25K's last order.
    route_row = _testid(html, "route-row")
    assert "1.75 ms" in route_row and "2.97 ms" in route_row and "16.13 ms" in route_row
    assert "+$2.00" in route_row
    small = _testid(html, "follower-quality")
    assert "SELL 1 MNQH6 (filled)" in small and "21509.50 vs 21510.00" in small
    assert "1.00 ms" in small and "8.00 ms" in small and "+$1.00" in small


def test_page_shows_equity_and_variance_as_numbers(route: Route, alice_client: Client) -> None:
    worked_session(route)
    html = alice_client.get(f"/groups/{route.group.pk}/performance/{RANGE}").content.decode()
    totals = _testid(html, "equity-totals", "</table>")
    assert "+$134.50" in totals and "+$39.00" in totals and "+$117.00" in totals
    assert "not in range" in totals  # no open PnL for a range in the past
    variance = _words(_testid(html, "variance-text", "</p>"))
    assert variance.endswith(
        "Eval 25K: variance -$2.00 (made +$17.50; leader \u00d7 0.5 = +$19.50, factor 1 x 0.5)"
    )
    # The charts draw from JSON and static scripts only (the CSP forbids inline ones).
    assert 'id="equity-data" type="application/json"' in html
    assert '<script src="/static/vendor/uplot/uPlot.iife.min.js">' in html
    assert re.findall(r"<script(?![^>]*\b(src|type=\"application/json\"))", html) == []


def test_without_the_chart_library_the_tables_stay(
    route: Route, alice_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copytrade.core import charts

    monkeypatch.setattr(charts, "CHART_SCRIPT", "vendor/absent/none.js")
    worked_session(route)
    html = alice_client.get(f"/groups/{route.group.pk}/performance/{RANGE}").content.decode()
    assert 'data-testid="charts-missing"' in html
    assert "uPlot" not in html
    assert "+$134.50" in _testid(html, "equity-totals", "</table>")


def test_a_reversed_range_is_named_on_the_page_and_a_400_in_json(
    route: Route, alice_client: Client
) -> None:
    page = alice_client.get(
        f"/groups/{route.group.pk}/performance/?first=2026-03-11&last=2026-03-10"
    )
    assert page.status_code == 200
    assert "last: The last trading date 2026-03-10 is before the first 2026-03-11." in (
        page.content.decode()
    )
    api = alice_client.get(f"/api/groups/{route.group.pk}/equity/?first=2026-03-11&last=2026-03-10")
    assert api.status_code == 400
    assert api.json() == {
        "last": ["The last trading date 2026-03-10 is before the first 2026-03-11."]
    }
    bad = alice_client.get(f"/api/groups/{route.group.pk}/equity/?first=10/03/2026")
    assert bad.status_code == 400
    assert bad.json() == {"first": ["Enter a valid date."]}


def test_json_endpoints_give_the_selectors_figures(route: Route, alice_client: Client) -> None:
    worked_session(route)
    with time_machine.travel(NOW, tick=False):
        quality = alice_client.get(f"/api/groups/{route.group.pk}/performance/").json()
        equity = alice_client.get(f"/api/groups/{route.group.pk}/equity/").json()
    assert quality["route"]["handoff_ms"] == {"count": 4, "p50": "1.75", "p99": "2.97"}
    # Default range: the current session, which reaches now.
    assert (equity["first"], equity["last"], equity["includes_now"]) == (
        "2026-03-10",
        "2026-03-10",
        True,
    )
    assert equity["group"]["total"] == "134.50"


def test_group_page_links_to_its_performance(route: Route, alice_client: Client) -> None:
    html = alice_client.get(f"/groups/{route.group.pk}/").content.decode()
    assert f'href="/groups/{route.group.pk}/performance/" data-testid="performance-link"' in html


def _words(html: str) -> str:
    """``html`` without its tags, runs of white space as one space."""
    return " ".join(re.sub(r"<[^>]*>", "", html).split())


def _testid(html: str, testid: str, end: str = "</tr>") -> str:
    """The text from the first element carrying ``data-testid`` to ``end``."""
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index(end, start)]


def test_rest_api_lists_each_orders_send_times(route: Route, alice_client: Client) -> None:
    worked_session(route)
    orders = alice_client.get("/api/v1/copy-orders/").json()["results"]
    # Eval 25K's first order: handed 1.5 ms and answered 12.25 ms after 15:00 UTC.
    first = min(orders, key=lambda o: o["id"])
    assert (first["handed_at"], first["acknowledged_at"]) == (
        "2026-03-10T15:00:00.001500Z",
        "2026-03-10T15:00:00.012250Z",
    )
