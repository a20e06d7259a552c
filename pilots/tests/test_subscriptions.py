"""Publishing a pilot, plans and subscriptions (pilots.subscriptions).

Alice publishes her leader account "Lead" (which also leads her own route to
two prop accounts); Bob follows her under a plan, watches for 14 days, then
mirrors her trades into his personal account.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from pilots.models import Pilot, Plan, Subscription, UserPlan
from pilots.selectors import pilot_follower_count
from pilots.subscriptions import (
    WATCH_PERIOD,
    pilot_publish,
    plan_ends_at,
    subscription_end,
    subscription_mirror,
    subscription_start,
    user_plan_set,
)
from pilots.watch import watch_account, watch_group
from routing.engine.limits import RouteLevel
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder
from routing.services.leader_events import leader_event_ingest
from routing.services.route_levels import route_level_set

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, in the session
AFTER_WATCH = T0 + WATCH_PERIOD


def _plan(name: str, term: str, max_pilots: int = 1) -> Plan:
    return Plan.objects.create(name=name, term=term, max_pilots=max_pilots)


def _pilot(owner: User, account: BrokerAccount, name: str) -> Pilot:
    return pilot_publish(
        owner=owner,
        account=account,
        display_name=name,
        markets=["nq", "MNQ"],
        nominal_balance=Decimal(50_000),
        at=T0,
    )


@pytest.fixture
def pilot(route: Route) -> Pilot:
    return _pilot(route.owner, route.leader, "Alice NQ")


@pytest.fixture
def personal(bob: User) -> BrokerAccount:
    return broker_account_create(owner=bob, name="Bob personal", balance=Decimal(40_000))


def _fill(event_id: str, side: Side, qty: int, at: datetime) -> LeaderFill:
    return LeaderFill(event_id, "lead", "MNQH6", side, qty, Decimal("21000.25"), at)


@pytest.mark.parametrize(
    ("term", "start", "end"),
    [
        # Same day next month; Jan 31 has no Feb 31: the month's last day.
        ("monthly", datetime(2027, 1, 31, 9, tzinfo=UTC), datetime(2027, 2, 28, 9, tzinfo=UTC)),
        ("monthly", datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC)),
        ("yearly", datetime(2028, 2, 29, tzinfo=UTC), datetime(2029, 2, 28, tzinfo=UTC)),
        ("lifetime", datetime(2026, 3, 2, tzinfo=UTC), None),
    ],
)
def test_plan_ends_by_calendar(term: str, start: datetime, end: datetime | None) -> None:
    assert plan_ends_at(term, start) == end


def test_monthly_and_yearly_plans_follow_one_pilot_in_the_database_too() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        _plan("Monthly x2", "monthly", max_pilots=2)


def test_publish_refuses_an_account_that_follows_a_group(route: Route) -> None:
    with pytest.raises(ApplicationError, match="follows a group"):
        _pilot(route.owner, route.small, "Copies")


def test_a_subscription_watches_for_14_days(pilot: Pilot, bob: User) -> None:
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    assert subscription.status == Subscription.Status.WATCHING
    assert subscription.watch_ends_at == datetime(2026, 3, 16, 15, 0, tzinfo=UTC)
    assert pilot_follower_count(pilot) == 1
    # The watch route: Bob's paper account at the pilot's nominal size,
    # following the pilot's account at ratio 1 through a group Bob owns.
    account = watch_account(subscription)
    assert account is not None
    assert (account.name, account.platform, account.kind, account.balance) == (
        "Watch: Alice NQ",
        "paper",
        "personal",
        Decimal(50_000),
    )
    group = watch_group(subscription)
    assert group is not None
    assert (group.owner_id, group.leader_id, group.enabled) == (bob.pk, pilot.account_id, True)
    assert [f.ratio for f in group.followers.all()] == [Decimal(1)]


def test_mirroring_and_ending_pause_the_watch_route_and_a_new_follow_gets_its_own(
    pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    first = subscription_start(subscriber=bob, pilot=pilot, at=T0, watch_balance=Decimal(10_000))
    subscription_mirror(subscription=first, account=personal, ratio=Decimal(1), at=AFTER_WATCH)
    first_watch = watch_group(first)
    assert first_watch is not None and not first_watch.enabled
    assert subscription_end(subscription=first, at=AFTER_WATCH)
    # Following again: a second watch route beside the first (kept as history).
    second = subscription_start(subscriber=bob, pilot=pilot, at=AFTER_WATCH)
    account = watch_account(second)
    assert account is not None and account.name == f"Watch: Alice NQ #{second.pk}"
    assert watch_account(first).balance == Decimal(10_000)  # type: ignore[union-attr]
    subscription_end(subscription=second, at=AFTER_WATCH)
    second_watch = watch_group(second)
    assert second_watch is not None and not second_watch.enabled


def test_no_plan_no_follow_and_an_ended_plan_says_when(pilot: Pilot, bob: User) -> None:
    with pytest.raises(ApplicationError, match="choose a plan before following"):
        subscription_start(subscriber=bob, pilot=pilot, at=T0)
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    # March 2 + one month = April 2.
    with pytest.raises(ApplicationError, match="plan ended on 2026-04-02"):
        subscription_start(subscriber=bob, pilot=pilot, at=T0 + timedelta(days=40))


def test_a_monthly_plan_follows_one_pilot_a_lifetime_plan_several(
    route: Route, pilot: Pilot, bob: User, alice: User
) -> None:
    second = _pilot(
        alice, broker_account_create(owner=alice, name="Lead 2", balance=Decimal(0)), "Alice ES"
    )
    third = _pilot(
        alice, broker_account_create(owner=alice, name="Lead 3", balance=Decimal(0)), "Alice CL"
    )
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription_start(subscriber=bob, pilot=pilot, at=T0)
    with pytest.raises(ApplicationError, match="follows 1 pilot at a time and you follow Alice NQ"):
        subscription_start(subscriber=bob, pilot=second, at=T0)
    user_plan_set(user=bob, plan=_plan("Lifetime", "lifetime", max_pilots=2), at=T0, actor=bob)
    subscription_start(subscriber=bob, pilot=second, at=T0)
    with pytest.raises(ApplicationError, match="follows 2 pilots at a time"):
        subscription_start(subscriber=bob, pilot=third, at=T0)
    # Back to one pilot while following two: refused, nothing changed.
    with pytest.raises(ApplicationError, match="bob follows 2: end 1 subscription"):
        user_plan_set(user=bob, plan=Plan.objects.get(name="Monthly"), at=T0, actor=bob)
    assert UserPlan.objects.get(user=bob).plan.name == "Lifetime"


def test_own_rejected_and_repeated_pilots_are_refused(pilot: Pilot, alice: User, bob: User) -> None:
    lifetime = _plan("Lifetime", "lifetime", max_pilots=5)
    user_plan_set(user=alice, plan=lifetime, at=T0, actor=alice)
    with pytest.raises(ApplicationError, match="your own pilot"):
        subscription_start(subscriber=alice, pilot=pilot, at=T0)
    user_plan_set(user=bob, plan=lifetime, at=T0, actor=bob)
    subscription_start(subscriber=bob, pilot=pilot, at=T0)
    with pytest.raises(ApplicationError, match="you follow Alice NQ already"):
        subscription_start(subscriber=bob, pilot=pilot, at=T0)
    pilot.review = Pilot.Review.REJECTED
    pilot.save()
    carol = User.objects.create_user("carol")
    user_plan_set(user=carol, plan=lifetime, at=T0, actor=carol)
    with pytest.raises(ApplicationError, match="not open to followers"):
        subscription_start(subscriber=carol, pilot=pilot, at=T0)


def test_mirroring_waits_for_the_watch_period(
    pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    with pytest.raises(ApplicationError, match="watch period runs until 2026-03-16 15:00 UTC"):
        subscription_mirror(
            subscription=subscription,
            account=personal,
            ratio=Decimal(1),
            at=AFTER_WATCH - timedelta(seconds=1),
        )
    # Only the watch route (paper) exists: no route into his own account.
    assert not CopyGroup.objects.filter(owner=bob, followers__account=personal).exists()


@pytest.mark.parametrize("kind", ["evaluation", "funded"])
def test_prop_firm_accounts_never_mirror_a_pilot(pilot: Pilot, bob: User, kind: str) -> None:
    prop = broker_account_create(owner=bob, name="Bob prop", balance=Decimal(50_000), kind=kind)
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    with pytest.raises(ApplicationError, match="prop firms forbid copying another person's trades"):
        subscription_mirror(
            subscription=subscription, account=prop, ratio=Decimal(1), at=AFTER_WATCH
        )


def test_a_pilots_trade_is_copied_into_the_subscribers_account_and_stays_his(
    route: Route, pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    # Arrange: Bob mirrors Alice at ratio 2.
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    group = subscription_mirror(
        subscription=subscription, account=personal, ratio=Decimal(2), at=AFTER_WATCH
    )
    # A new route starts at 1 Test (one contract); Bob raises it.
    assert group.level == RouteLevel.TEST
    route_level_set(group=group, level=RouteLevel.ACTIVE, actor=bob, reason="sized copies")
    # Act: Alice's leader buys 2 MNQ.
    result = leader_event_ingest(
        account=route.leader, fill=_fill("p1", Side.BUY, 2, AFTER_WATCH), source="test"
    )
    # Assert: 2 x 2 = 4 contracts for Bob, in Bob's group; Alice's own route
    # copies as before (Eval 25K 2 x 0.5 = 1; Funded 150K 2 x 3 = 6).
    orders = {o.account.name: o for o in CopyOrder.objects.select_related("account")}
    assert (orders["Bob personal"].qty, orders["Bob personal"].group_id) == (4, group.pk)
    assert (orders["Eval 25K"].qty, orders["Funded 150K"].qty) == (1, 6)
    # Privacy: nothing of Bob's route reaches Alice's journal, nor her account's name Bob's.
    assert not JournalEntry.objects.filter(owner_id=route.owner.pk, group_id=group.pk).exists()
    alice_text = " ".join(
        JournalEntry.objects.filter(owner_id=route.owner.pk).values_list("message", flat=True)
    )
    assert "Bob" not in alice_text
    bob_text = " ".join(
        JournalEntry.objects.filter(owner_id=bob.pk).values_list("message", flat=True)
    )
    assert "Lead" not in bob_text.replace("Leader", "")
    assert JournalEntry.objects.filter(
        owner_id=bob.pk, event_type=EventType.SUBSCRIPTION_MIRRORING
    ).exists()
    # The live feed (the socket): one message per user, each with only their
    # orders (Bob's include his paused watch route's).
    feed = {user: {p["follower"] for p in payloads} for user, payloads in result.feed.items()}
    assert feed == {
        route.owner.pk: {"Eval 25K", "Funded 150K"},
        bob.pk: {"Bob personal", "Watch: Alice NQ"},
    }


def test_ending_a_subscription_stops_entries_but_copies_exits(
    route: Route, pilot: Pilot, bob: User, personal: BrokerAccount
) -> None:
    user_plan_set(user=bob, plan=_plan("Monthly", "monthly"), at=T0, actor=bob)
    subscription = subscription_start(subscriber=bob, pilot=pilot, at=T0)
    group = subscription_mirror(
        subscription=subscription, account=personal, ratio=Decimal(1), at=AFTER_WATCH
    )
    route_level_set(group=group, level=RouteLevel.ACTIVE, actor=bob, reason="sized copies")
    leader_event_ingest(
        account=route.leader, fill=_fill("p1", Side.BUY, 2, AFTER_WATCH), source="test"
    )
    # Act
    assert subscription_end(subscription=subscription, at=AFTER_WATCH + timedelta(minutes=1))
    assert not subscription_end(subscription=subscription, at=AFTER_WATCH + timedelta(minutes=2))
    add = leader_event_ingest(
        account=route.leader,
        fill=_fill("p2", Side.BUY, 1, AFTER_WATCH + timedelta(minutes=3)),
        source="test",
    )
    close = leader_event_ingest(
        account=route.leader,
        fill=_fill("p3", Side.SELL, 3, AFTER_WATCH + timedelta(minutes=4)),
        source="test",
    )
    # Assert: the add is skipped (route paused), the exit of Bob's 2 is sent.
    (added,) = [o for o in add.orders if o.account_id == personal.pk]
    (closed,) = [o for o in close.orders if o.account_id == personal.pk]
    assert (added.status, added.qty) == ("skipped", 0)
    assert "route paused" in added.reason
    assert (closed.status, closed.side, closed.qty) == ("pending", "sell", 2)
    assert pilot_follower_count(pilot) == 0
