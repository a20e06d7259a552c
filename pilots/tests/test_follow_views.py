"""The following pages through the Django test client on the real database:
plans, subscriptions (watch period, mirroring, ending), publishing a pilot
and "your pilots". Alice publishes her leader account "Lead"; Bob follows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from pilots.models import Pilot, PilotRecord, Plan, Subscription, UserPlan
from pilots.subscriptions import pilot_publish, subscription_start, user_plan_set
from pilots.watch import watch_group
from routing.models import Follower

pytestmark = pytest.mark.django_db

URLS = [
    "/plans/",
    "/subscriptions/",
    "/subscriptions/1/mirror/",
    "/subscriptions/1/end/",
    "/pilots/publish/",
    "/pilots/mine/",
]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _plan(name: str = "Monthly", term: str = "monthly", max_pilots: int = 1) -> Plan:
    return Plan.objects.create(name=name, term=term, max_pilots=max_pilots)


def _pilot(owner: User, account: BrokerAccount, name: str = "Alice NQ") -> Pilot:
    return pilot_publish(
        owner=owner,
        account=account,
        display_name=name,
        markets=["NQ"],
        nominal_balance=Decimal(50_000),
        at=timezone.now() - timedelta(days=30),
    )


def _subscribed(pilot: Pilot, user: User, days_ago: float) -> Subscription:
    """``user`` follows ``pilot`` since ``days_ago`` days (15: watch over)."""
    at = timezone.now() - timedelta(days=days_ago)
    if not UserPlan.objects.filter(user=user).exists():
        user_plan_set(user=user, plan=_plan("Lifetime", "lifetime", 3), at=at, actor=user)
    return subscription_start(subscriber=user, pilot=pilot, at=at)


@pytest.fixture
def pilot(route: Route) -> Pilot:
    return _pilot(route.owner, route.leader)


@pytest.fixture
def personal(bob: User) -> BrokerAccount:
    return broker_account_create(owner=bob, name="Bob personal", balance=Decimal(40_000))


@pytest.mark.parametrize("url", URLS)
def test_every_page_needs_a_login(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# -- plans ---------------------------------------------------------------------------


def test_without_plans_the_page_says_staff_create_them(bob: User) -> None:
    page = _client(bob).get("/plans/").content.decode()
    assert "No plans exist yet: staff create them in the admin." in page
    assert "You have no plan yet" in page


def test_picking_a_plan_sets_it_and_shows_when_it_ends(bob: User) -> None:
    monthly, _ = _plan(), _plan("Lifetime", "lifetime", 3)
    # Act
    response = _client(bob).post("/plans/", {"plan": monthly.pk}, follow=True)
    # Assert: one calendar month from now, shown with the plan.
    held = UserPlan.objects.get(user=bob)
    assert held.plan == monthly and held.ends_at is not None
    assert held.ends_at.month == (held.started_at.month % 12) + 1
    page = response.content.decode()
    assert f"You are on the Monthly plan until {held.ends_at:%Y-%m-%d %H:%M} UTC." in page
    assert "Your plan" in page and "Pick Lifetime" in page and "Pick Monthly" not in page


def test_a_plan_the_subscriptions_exceed_is_refused_with_the_reason(
    route: Route, pilot: Pilot, bob: User, alice: User
) -> None:
    second = _pilot(
        alice, broker_account_create(owner=alice, name="Lead 2", balance=Decimal(0)), "Alice ES"
    )
    _subscribed(pilot, bob, 1)
    _subscribed(second, bob, 1)
    monthly = _plan()
    # Act
    response = _client(bob).post("/plans/", {"plan": monthly.pk})
    # Assert
    assert response.status_code == 200
    assert "bob follows 2: end 1 subscription(s) first" in response.content.decode()
    assert UserPlan.objects.get(user=bob).plan.name == "Lifetime"


# -- subscriptions ---------------------------------------------------------------------


def test_no_subscription_shows_the_first_step(bob: User) -> None:
    page = _client(bob).get("/subscriptions/").content.decode()
    assert 'data-testid="no-subscriptions"' in page


def test_during_the_watch_mirroring_is_disabled_with_the_date(pilot: Pilot, bob: User) -> None:
    subscription = _subscribed(pilot, bob, 1)
    page = _client(bob).get("/subscriptions/").content.decode()
    ends = f"{subscription.watch_ends_at:%Y-%m-%d %H:%M} UTC"
    assert f"Watching until {ends}" in page
    assert f"Mirroring can be switched on from {ends}" in page
    assert 'data-testid="mirror-disabled"' in page and 'data-testid="mirror-form"' not in page
    assert "Watch: Alice NQ" in page and 'data-testid="no-trades"' in page
    # Posting anyway is refused by the service, with the date.
    response = _client(bob).post(
        f"/subscriptions/{subscription.pk}/mirror/",
        {
            "account": broker_account_create(owner=bob, name="P", balance=Decimal(1)).pk,
            "ratio": "1",
        },
    )
    assert response.status_code == 400
    assert f"the watch period runs until {ends}" in response.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).status == "watching"


def test_after_the_watch_mirroring_goes_into_the_chosen_personal_account(
    pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    subscription = _subscribed(pilot, bob, 15)
    page = _client(bob).get("/subscriptions/").content.decode()
    assert 'data-testid="mirror-form"' in page and "Watch period ended" in page
    # Act
    response = _client(bob).post(
        f"/subscriptions/{subscription.pk}/mirror/",
        {"account": personal.pk, "ratio": "2.5"},
        follow=True,
    )
    # Assert: a route into Bob's account at 2.5; the watch route paused.
    subscription.refresh_from_db()
    assert subscription.status == "mirroring" and subscription.group is not None
    follower = Follower.objects.get(group=subscription.group)
    assert (follower.account, follower.ratio) == (personal, Decimal("2.5"))
    watch = watch_group(subscription)
    assert watch is not None and not watch.enabled
    page = response.content.decode()
    assert "Mirroring Alice NQ into Bob personal, at level 1 Test" in page
    # Like every new route: one contract a trade until Bob raises the level.
    assert subscription.group.level == 1
    assert "mirroring into <strong>Bob personal</strong> at ratio 2.5" in page


@pytest.mark.parametrize("kind", ["evaluation", "funded"])
def test_a_prop_account_is_refused_with_the_services_reason(
    pilot: Pilot, bob: User, kind: str
) -> None:
    prop = broker_account_create(owner=bob, name="Bob prop", balance=Decimal(1), kind=kind)
    subscription = _subscribed(pilot, bob, 15)
    response = _client(bob).post(
        f"/subscriptions/{subscription.pk}/mirror/", {"account": prop.pk, "ratio": "1"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Bob prop is a{'n' if kind == 'evaluation' else ''} {kind} prop-firm account" in page
    assert "prop firms forbid copying another person&#x27;s trades" in page
    assert Subscription.objects.get(pk=subscription.pk).status == "watching"


def test_ending_asks_first_then_ends_and_pauses_the_watch(pilot: Pilot, bob: User) -> None:
    subscription = _subscribed(pilot, bob, 1)
    client = _client(bob)
    confirm = client.get(f"/subscriptions/{subscription.pk}/end/")
    assert confirm.status_code == 200 and "Stop following Alice NQ?" in confirm.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).status == "watching"
    # Act
    response = client.post(f"/subscriptions/{subscription.pk}/end/", follow=True)
    # Assert
    subscription.refresh_from_db()
    assert subscription.status == "ended" and subscription.ended_at is not None
    watch = watch_group(subscription)
    assert watch is not None and not watch.enabled
    assert "You no longer follow Alice NQ." in response.content.decode()


def test_another_users_subscription_is_not_found(
    pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    subscription = _subscribed(pilot, bob, 15)
    carol = User.objects.create_user("carol")
    client = _client(carol)
    assert client.get(f"/subscriptions/{subscription.pk}/end/").status_code == 404
    assert client.post(f"/subscriptions/{subscription.pk}/end/").status_code == 404
    mirror = client.post(
        f"/subscriptions/{subscription.pk}/mirror/", {"account": personal.pk, "ratio": "1"}
    )
    assert mirror.status_code == 404
    assert "Alice NQ" not in client.get("/subscriptions/").content.decode()
    assert Subscription.objects.get(pk=subscription.pk).status == "watching"


# -- publishing ------------------------------------------------------------------------


def test_publish_offers_only_accounts_that_follow_no_group(route: Route, alice: User) -> None:
    page = _client(alice).get("/pilots/publish/").content.decode()
    assert "Lead (Personal" in page
    assert "Eval 25K" not in page and "Funded 150K" not in page


def test_publishing_a_leader_account_then_your_pilot_page(route: Route, alice: User) -> None:
    response = _client(alice).post(
        "/pilots/publish/",
        {
            "account": route.leader.pk,
            "display_name": "Alice NQ",
            "markets": "nq, mnq",
            "nominal_balance": "50000",
        },
        follow=True,
    )
    pilot = Pilot.objects.get(owner=alice)
    assert (pilot.account, pilot.markets, pilot.nominal_balance) == (
        route.leader,
        ["MNQ", "NQ"],
        Decimal(50_000),
    )
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/pilots/mine/"
    assert "Alice NQ is published and waits for review." in page
    assert "Waiting for review" in page and "<strong>0</strong> followers" in page


def test_publish_refusals_are_shown(route: Route, alice: User, bob: User) -> None:
    _pilot(bob, broker_account_create(owner=bob, name="B", balance=Decimal(0)), "Taken")
    client = _client(alice)
    data = {"account": route.leader.pk, "markets": "NQ", "nominal_balance": "50000"}
    taken = client.post("/pilots/publish/", {**data, "display_name": "taken"})
    assert "the name &#x27;taken&#x27; is taken" in taken.content.decode()
    zero = client.post("/pilots/publish/", {**data, "display_name": "A", "nominal_balance": "0"})
    assert "the nominal account size must be more than $0, got 0" in zero.content.decode()
    copies = client.post(
        "/pilots/publish/", {**data, "display_name": "A", "account": route.small.pk}
    )
    assert "Select a valid choice" in copies.content.decode()
    assert not Pilot.objects.filter(owner=alice).exists()


def test_your_pilot_shows_the_review_outcome_followers_and_flags(
    pilot: Pilot, alice: User, bob: User
) -> None:
    _subscribed(pilot, bob, 1)
    pilot.review = Pilot.Review.INFO_REQUESTED
    pilot.review_note = "Send the broker statement for March."
    pilot.reviewed_at = timezone.now()
    pilot.save()
    PilotRecord.objects.create(
        pilot=pilot,
        computed_at=timezone.now(),
        flagged=True,
        data={"flags": ["row 3: price 21100.00 outside the bar 21000.00-21050.00"]},
    )
    page = _client(alice).get("/pilots/mine/").content.decode()
    assert "More information requested" in page
    assert "Send the broker statement for March." in page
    assert "<strong>1</strong> follower" in page and "bob" not in page
    assert "row 3: price 21100.00 outside the bar" in page
    # Rejected: the outcome shows; another user sees none of it.
    pilot.review = Pilot.Review.REJECTED
    pilot.save()
    assert "Rejected" in _client(alice).get("/pilots/mine/").content.decode()
    assert "Alice NQ" not in _client(bob).get("/pilots/mine/").content.decode()
