"""A pilot's profile (/pilots/<id>/) and its subscribe button (POST
/pilots/<id>/subscribe/): statistics with their intervals, the equity and
drawdown series, monthly returns, verification, all by hand.

"Steady" (nominal $10,000, pilots.tests.board_records): -$500 on
2025-10-01, then +$250 on each of 14 days to 2025-11-11. Net +$3,000 = 30 %;
max drawdown $500 = 5 %; 14 of 15 round trips won = 93.33 %, Wilson 95 %
[70.18 %, 98.81 %] (z = 1.96: centre (p + z²/2n)/(1 + z²/n) = 0.8450, half
width 0.1432); average win +$250, loss -$500; profit factor 3,500 / 500 =
7.00; October -500 + 10 x 250 = +2,000 (+20.00 %), November 4 x 250 =
+1,000 (+10.00 %).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import BrokerAccount, User
from pilots.models import Pilot, Subscription
from pilots.subscriptions import subscription_start
from pilots.tests.board_records import (
    DAYS_16,
    FIFTY_THIRTY_FIVE,
    THIRTY_FIVE,
    pilot_made,
    plan_given,
    record_stored,
    user,
)
from pilots.tests.board_urlconf import WithSubscriptions

pytestmark = pytest.mark.django_db


@pytest.fixture
def steady() -> Pilot:
    pilot = pilot_made(user("sam"), "Steady", markets=["NQ"])
    record_stored(pilot, THIRTY_FIVE)
    return pilot


@pytest.fixture
def carol() -> User:
    return user("carol")


def _client(who: User, **kwargs: bool) -> Client:
    client = Client(**kwargs)
    client.force_login(who)
    return client


def _stat(html: str, name: str) -> str:
    """The verified column of statistic ``name``, tags and spaces collapsed."""
    cell = re.search(rf'data-stat="{name}">(.*?)</td>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", cell).split())


def test_the_profile_needs_a_login(steady: Pilot) -> None:
    response = Client().get(f"/pilots/{steady.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_statistics_with_their_intervals(steady: Pilot, carol: User) -> None:
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    assert _stat(html, "round_trips") == "15 (14 won, 1 lost, 0 flat)"
    assert _stat(html, "net_pnl") == "+$3,000.00"
    assert _stat(html, "return_pct") == "+30.00 %"
    assert _stat(html, "max_drawdown") == "$500.00 (5.00 % of nominal)"
    assert _stat(html, "win_rate") == "93.33 % (70.18 % to 98.81 %)"
    assert _stat(html, "average") == "+$250.00 / -$500.00"
    assert _stat(html, "profit_factor") == "7.00"
    assert _stat(html, "days") == "15 over 42 calendar days, 2025-10-01 to 2025-11-11"
    # Sharpe and PSR as the record holds them, to fixed decimals.
    record = steady.record.data["listing"]["verified_statistics"]
    assert _stat(html, "sharpe") == (
        f"{record['sharpe_daily']:.3f} per day, {record['sharpe_annualised_sqrt252']:.2f} "
        "annualised"
    )
    assert _stat(html, "psr").startswith(f"{record['psr_0'] * 100:.2f} %")
    assert "e-" not in _stat(html, "psr") and "E" not in _stat(html, "psr")
    assert 'data-testid="rank">Rank #1<' in html
    assert "Only fills after publishing on 2025-09-30 00:00 UTC are in this record." in html
    assert "never ranks" in html
    assert "15 fills verified, 0 failed, 0 unverifiable" in html


def test_anomaly_checks_with_their_detail(steady: Pilot, carol: User) -> None:
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    table = html[html.index('data-testid="anomalies"'):]
    row = re.search(r"win_rate_too_high</td>(.*?)</tr>", table, re.S).group(1)
    assert ">clear<" in row
    assert "14 wins of 15 round trips: 95 % Wilson lower bound 0.702 (flagged above 0.85)" in row
    assert "15 round trips; the test needs 50" in table  # equity_too_smooth not tested yet


def test_a_pilot_without_a_record_yet(carol: User) -> None:
    fresh = pilot_made(user("otto"), "Fresh")
    html = _client(carol).get(f"/pilots/{fresh.pk}/").content.decode()
    assert "No record computed yet" in html
    assert 'data-testid="subscribe-button"' in html
    assert 'data-testid="statistics"' not in html and "pilot-chart-data" not in html


def test_monthly_returns(steady: Pilot, carol: User) -> None:
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    row = re.search(r'<tr data-year="2025">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells == [""] * 9 + ["+20.00 %", "+10.00 %", "", "+30.00 %"]


def test_the_chart_data_starts_at_the_nominal_size(steady: Pilot, carol: User) -> None:
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    raw = re.search(r'<script id="pilot-chart-data" type="application/json">(.*?)</script>',
                    html, re.S).group(1)
    data = json.loads(raw)
    assert data["days"][:3] == ["2025-09-30", "2025-10-01", "2025-10-03"]
    assert data["equity"][:3] == [10000.0, 9500.0, 9750.0]
    assert data["drawdown"][:4] == [0.0, -500.0, -250.0, 0.0]
    assert data["drawdown_pct"][1] == -5.0
    assert data["equity"][-1] == 13000.0 and len(data["days"]) == 16
    # The script is a static file (no inline script) and the library is served locally.
    assert re.search(r'<script src="/static/vendor/uplot/uPlot\.iife\.min\.js" defer>', html)
    assert '<script src="/static/js/pilot_charts.js" defer>' in html
    assert re.findall(r"<script(?![^>]*\b(src|type=\"application/json\"))", html) == []


def test_without_the_charting_library_the_tables_still_render(
    steady: Pilot, carol: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copytrade.core import charts

    monkeypatch.setattr(charts, "CHART_SCRIPT", "vendor/absent/none.js")
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    assert 'data-testid="charts-missing"' in html
    assert "uPlot" not in html and "pilot_charts.js" not in html
    assert "+20.00 %" in html and "<td>2025-10-01</td>" in html  # daily closes table


def test_flags_and_reasons_on_the_profile(carol: User) -> None:
    short = pilot_made(user("nina"), "Newcomer")
    record = record_stored(short, ["100", "200", "-50"], DAYS_16[:3])
    record.flagged = True
    record.data["flags"] = ["row 2 MNQZ5: price_range failed: price 1.00 is outside the bar"]
    record.save()
    html = _client(carol).get(f"/pilots/{short.pk}/").content.decode()
    assert "Flagged, under review" in html
    assert "price_range failed: price 1.00 is outside the bar" in html
    assert "3 trading days of verified history; listing needs 15" in html
    assert 'data-testid="rank"' not in html


def test_subscribe_follows_and_goes_back_to_the_profile(steady: Pilot, carol: User) -> None:
    plan_given(carol)
    client = _client(carol)
    with override_settings(ROOT_URLCONF="pilots.tests.board_urlconf"):
        response = client.post(f"/pilots/{steady.pk}/subscribe/")
        assert response.status_code == 302
        assert response["Location"] == f"/pilots/{steady.pk}/"
        (message,) = get_messages(response.wsgi_request)
    subscription = Subscription.objects.get(subscriber=carol, pilot=steady)
    assert subscription.status == Subscription.Status.WATCHING
    assert subscription.watch_ends_at - subscription.started_at == timedelta(days=14)
    assert str(message).startswith("You follow Steady: watching until ")
    # The profile now says so instead of the button.
    html = client.get(f"/pilots/{steady.pk}/").content.decode()
    assert 'data-testid="subscribe-button"' not in html
    assert "You follow Steady (watching, watch period until" in html
    assert re.search(r'data-testid="followers">1 follower<', html)


@override_settings(ROOT_URLCONF=WithSubscriptions)
def test_subscribe_goes_to_the_subscriptions_page_when_there_is_one(
    steady: Pilot, carol: User
) -> None:
    plan_given(carol)
    response = _client(carol).post(f"/pilots/{steady.pk}/subscribe/")
    assert response.status_code == 302
    assert response["Location"] == reverse("subscriptions") == "/test-subscriptions/"


def test_the_plan_limit_is_shown_and_nothing_changes(steady: Pilot, carol: User) -> None:
    wild = pilot_made(user("wendy"), "Wild", markets=["ES"])
    record_stored(wild, FIFTY_THIRTY_FIVE, DAYS_16)
    plan_given(carol)
    subscription_start(subscriber=carol, pilot=wild, at=wild.published_at)
    client = _client(carol)
    response = client.post(f"/pilots/{steady.pk}/subscribe/", follow=True)
    assert response.redirect_chain == [(f"/pilots/{steady.pk}/", 302)]
    html = response.content.decode()
    assert (
        "Not followed: your monthly 1 plan follows 1 pilot at a time and you follow Wild: end "
        "a subscription or choose a plan that follows more." in html
    )
    assert not Subscription.objects.filter(subscriber=carol, pilot=steady).exists()


def test_no_plan_is_refused_with_its_message(steady: Pilot, carol: User) -> None:
    response = _client(carol).post(f"/pilots/{steady.pk}/subscribe/", follow=True)
    assert "Not followed: choose a plan before following a pilot." in response.content.decode()
    assert Subscription.objects.count() == 0


def test_a_pilots_own_profile_has_no_button_and_a_post_is_refused(steady: Pilot) -> None:
    client = _client(steady.owner)
    html = client.get(f"/pilots/{steady.pk}/").content.decode()
    assert 'data-testid="subscribe-button"' not in html
    assert "This is your pilot: 0 users follow it" in html
    plan_given(steady.owner)
    response = client.post(f"/pilots/{steady.pk}/subscribe/", follow=True)
    assert "Not followed: you cannot follow your own pilot." in response.content.decode()
    assert Subscription.objects.count() == 0


def test_subscribe_needs_a_csrf_token_a_post_and_a_login(steady: Pilot, carol: User) -> None:
    plan_given(carol)
    client = _client(carol, enforce_csrf_checks=True)
    assert client.post(f"/pilots/{steady.pk}/subscribe/").status_code == 403
    assert client.get(f"/pilots/{steady.pk}/subscribe/").status_code == 405
    anonymous = Client().post(f"/pilots/{steady.pk}/subscribe/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert Subscription.objects.count() == 0
    # With the page's token the same client follows.
    html = client.get(f"/pilots/{steady.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(f"/pilots/{steady.pk}/subscribe/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Subscription.objects.filter(subscriber=carol, pilot=steady).count() == 1


def test_another_users_subscription_is_never_shown(steady: Pilot, carol: User) -> None:
    bob = user("bobby")
    plan_given(bob)
    subscription_start(subscriber=bob, pilot=steady, at=steady.published_at)
    html = _client(carol).get(f"/pilots/{steady.pk}/").content.decode()
    assert "bobby" not in html
    assert 'data-testid="subscribe-button"' in html  # bob's subscription is not carol's
    assert re.search(r'data-testid="followers">1 follower<', html)


def test_an_unknown_pilot_is_not_found(carol: User) -> None:
    client = _client(carol)
    assert client.get("/pilots/999999/").status_code == 404
    assert client.post("/pilots/999999/subscribe/").status_code == 404


def test_subscribe_takes_the_watch_periods_paper_balance(steady: Pilot, carol: User) -> None:
    plan_given(carol)
    client = _client(carol)
    # A bad balance: refused with the field's reason, nothing followed.
    response = client.post(f"/pilots/{steady.pk}/subscribe/", {"watch_balance": "-5"}, follow=True)
    assert "Not followed: paper balance: Ensure this value is greater than or equal to 0." in (
        response.content.decode()
    )
    assert not Subscription.objects.filter(subscriber=carol).exists()
    # 12,500.00: the watch account starts with it (blank: the pilot's nominal size).
    client.post(f"/pilots/{steady.pk}/subscribe/", {"watch_balance": "12500"})
    watch = BrokerAccount.objects.get(owner=carol, name__startswith="Watch: ")
    assert (watch.balance, watch.starting_balance) == (Decimal("12500.00"), Decimal("12500.00"))
