"""The leaderboard page (/pilots/): ranking by score, the not-listed section
with its reasons, filters, sorting, pagination, marks and privacy.

Records are built by hand (pilots.tests.board_records): "Steady" made 30 %
with a 5 % drawdown, "Wild" 50 % with a 35 % drawdown; both listed (15 and
16 trading days over 42 and 44 calendar days).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client

from accounts.models import User
from pilots import board_selectors
from pilots.models import Pilot, Subscription
from pilots.subscriptions import subscription_start
from pilots.tests.board_records import (
    DAYS,
    DAYS_16,
    FIFTY_THIRTY_FIVE,
    THIRTY_FIVE,
    pilot_made,
    plan_given,
    record_stored,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer() -> User:
    return user("carol")


@pytest.fixture
def client_in(viewer: User) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


def _order(html: str, testid: str = "board-row") -> list[str]:
    """Display names of the rows with ``data-testid=testid``, in page order."""
    rows = re.findall(rf'data-testid="{testid}".*?</tr>', html, re.S)
    return [re.search(r'href="/pilots/\d+/"[^>]*>([^<]+)</a>', row).group(1) for row in rows]


def _pair() -> tuple[Pilot, Pilot]:
    wild = pilot_made(user("wendy"), "Wild", markets=["ES"])
    steady = pilot_made(user("sam"), "Steady", markets=["NQ", "MNQ"])
    record_stored(wild, FIFTY_THIRTY_FIVE, DAYS_16)
    record_stored(steady, THIRTY_FIVE)
    return steady, wild


def test_the_board_needs_a_login() -> None:
    response = Client().get("/pilots/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/pilots/")


def test_30_pct_with_5_pct_drawdown_ranks_above_50_pct_with_35(client_in: Client) -> None:
    # Arrange: Wild (published first, more return) and Steady.
    _pair()
    # Act
    html = client_in.get("/pilots/").content.decode()
    # Assert: Steady first. Steady: base 30/5 = 6, consistency 1 - 250/3000
    # = 0.9167, experience 15/60 = 0.25, weight (0.5 + 0.4583)(0.5 + 0.125)
    # = 0.5990, score 3.59. Wild: base 50/35 = 1.43, consistency 1 -
    # 600/5000 = 0.88, experience 16/60, weight 0.94 x 0.6333 = 0.5953,
    # score 0.85.
    assert _order(html) == ["Steady", "Wild"]
    rows = re.findall(r'data-testid="board-row".*?</tr>', html, re.S)
    assert "#1" in rows[0] and "#2" in rows[1]
    assert ">3.59<" in rows[0] and ">0.85<" in rows[1]
    assert "return/DD 6.00 \u00d7 weight 0.60" in rows[0]
    assert "(consistency 0.92, experience 0.25)" in rows[0]
    assert "return/DD 1.43 \u00d7 weight 0.60" in rows[1]
    assert "+30.00 %" in rows[0] and "+$3,000.00" in rows[0] and "5.00 %" in rows[0]
    assert "+50.00 %" in rows[1] and "35.00 %" in rows[1] and "$3,500.00" in rows[1]
    assert "93.33 %" in rows[0]  # 14 of 15 round trips won
    # The published formula is on the page.
    assert "base        = return % / max(max drawdown %, 1)" in html
    assert "score       = base x weight" in html


def test_pilots_not_listed_are_apart_with_their_reasons(client_in: Client) -> None:
    _pair()
    short = pilot_made(user("nina"), "Newcomer")
    record_stored(short, ["100", "200", "-50"], DAYS[:3])  # 3 trading days over 7 calendar days
    pilot_made(user("otto"), "No record yet")
    html = client_in.get("/pilots/").content.decode()
    assert _order(html) == ["Steady", "Wild"]
    assert _order(html, "waiting-row") == ["Newcomer", "No record yet"]
    waiting = html[html.index('data-testid="board-waiting"'):]
    assert "7 calendar days of verified history; listing needs 30" in waiting
    assert "3 trading days of verified history; listing needs 15" in waiting
    assert "No record computed yet" in waiting


def test_unverified_fills_do_not_list_a_pilot(client_in: Client) -> None:
    pilot = pilot_made(user("uma"), "Unchecked")
    record_stored(pilot, THIRTY_FIVE, verified=False)  # no bars: every row unverifiable
    html = client_in.get("/pilots/").content.decode()
    assert _order(html) == []
    assert _order(html, "waiting-row") == ["Unchecked"]
    assert "0 trading days of verified history; listing needs 15" in html


def test_badge_sixty_day_mark_flag_and_follower_count(client_in: Client, viewer: User) -> None:
    steady, wild = _pair()
    steady.review = Pilot.Review.APPROVED
    steady.save()
    record = wild.record
    record.seasoned, record.flagged = True, True
    record.save()
    follower = user("fred")
    plan_given(follower)
    subscription_start(subscriber=follower, pilot=steady, at=steady.published_at)
    html = client_in.get("/pilots/").content.decode()
    rows = re.findall(r'data-testid="board-row".*?</tr>', html, re.S)
    badge, mark = 'data-testid="verified-badge"', 'data-testid="sixty-day-mark"'
    assert badge in rows[0] and badge not in rows[1]
    assert mark in rows[1] and mark not in rows[0]
    assert "Flagged, under review" in rows[1] and "Flagged" not in rows[0]
    assert re.search(r'data-testid="followers">1<', rows[0])
    assert re.search(r'data-testid="followers">0<', rows[1])
    assert "fred" not in html  # a count, never who


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("market=NQ", ["Steady"]),
        ("market=ES", ["Wild"]),
        ("market=CL", []),
        ("verified=on", ["Steady"]),
        ("history=30", ["Steady", "Wild"]),
        ("history=60", []),
        ("history=bogus", ["Steady", "Wild"]),  # an unknown value is the default
        ("history=bogus&market=ES", ["Wild"]),  # ... and the other filters still apply
    ],
)
def test_filters(client_in: Client, query: str, listed: list[str]) -> None:
    steady, _ = _pair()
    steady.review = Pilot.Review.APPROVED
    steady.save()
    html = client_in.get(f"/pilots/?{query}").content.decode()
    assert _order(html) == listed


def test_the_history_filter_reads_calendar_days(client_in: Client) -> None:
    # The last day moved to 2025-12-01: 2025-10-01 to 2025-12-01 is 62 calendar days.
    _pair()
    long = pilot_made(user("lara"), "Long")
    record_stored(long, THIRTY_FIVE, [*DAYS[:-1], date(2025, 12, 1)])
    assert _order(client_in.get("/pilots/?history=60").content.decode()) == ["Long"]
    assert _order(client_in.get("/pilots/?history=90").content.decode()) == []


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("", ["Steady", "Wild"]),
        ("sort=return", ["Wild", "Steady"]),
        ("sort=return&dir=asc", ["Steady", "Wild"]),
        ("sort=drawdown", ["Steady", "Wild"]),
        ("sort=drawdown&dir=desc", ["Wild", "Steady"]),
        ("sort=days", ["Wild", "Steady"]),
        ("sort=win_rate", ["Wild", "Steady"]),  # 15/16 = 93.75 % over 14/15 = 93.33 %
        ("sort=win_rate&dir=asc", ["Steady", "Wild"]),
        ("sort=score&dir=asc", ["Wild", "Steady"]),
    ],
)
def test_sorting(client_in: Client, query: str, order: list[str]) -> None:
    _pair()
    html = client_in.get(f"/pilots/?{query}").content.decode()
    assert _order(html) == order
    # The rank stays the score's, whatever the sort.
    assert re.findall(r'<td class="num">#(\d)</td>', html) == [
        "1" if name == "Steady" else "2" for name in order
    ]


def test_sort_links_flip_the_current_direction(client_in: Client) -> None:
    _pair()
    html = client_in.get("/pilots/?sort=return&market=&dir=desc").content.decode()
    assert 'href="?sort=return&amp;market=&amp;dir=asc" data-sort="return"' in html
    assert 'href="?sort=drawdown&amp;market=&amp;dir=asc" data-sort="drawdown"' in html


def test_pagination(client_in: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board_selectors, "PER_PAGE", 1)
    _pair()
    first = client_in.get("/pilots/").content.decode()
    second = client_in.get("/pilots/?page=2").content.decode()
    beyond = client_in.get("/pilots/?page=9").content.decode()
    assert _order(first) == ["Steady"] and _order(second) == ["Wild"]
    assert _order(beyond) == ["Wild"]  # out of range: the last page
    assert "Page 1 of 2" in first
    assert 'href="?page=2" rel="next"' in first
    assert "#2" in second  # the rank is the board's, not the page's


def test_a_rejected_pilot_is_off_the_board_and_its_profile_is_its_owners(
    client_in: Client,
) -> None:
    _, wild = _pair()
    wild.review = Pilot.Review.REJECTED
    wild.save()
    html = client_in.get("/pilots/").content.decode()
    assert _order(html) == ["Steady"]
    assert client_in.get(f"/pilots/{wild.pk}/").status_code == 404
    owner = Client()
    owner.force_login(wild.owner)
    assert owner.get(f"/pilots/{wild.pk}/").status_code == 200


def test_no_account_or_owner_is_shown(client_in: Client) -> None:
    steady, _ = _pair()
    html = client_in.get("/pilots/").content.decode()
    profile = client_in.get(f"/pilots/{steady.pk}/").content.decode()
    for page in (html, profile):
        assert "Steady account" not in page and "sam" not in page
    assert Subscription.objects.count() == 0
