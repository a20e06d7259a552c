"""Issue 11, "Done when": one pilot trade fans out to 500 subscribers through
the same ingest as every copy group, and the time is reported.

The 500 subscribers, their personal accounts, pilot routes and mirroring
subscriptions are bulk-created (the services would take most of the test's
time and are tested elsewhere); the fan-out itself is the real
``leader_event_ingest``: engine decisions, risk checks and one transaction
for all orders. Only correctness is asserted; the time is printed
(``-s`` shows it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password

from accounts.models import BrokerAccount, User
from conftest import Route
from pilots.models import Subscription
from pilots.subscriptions import pilot_publish
from routing.engine.types import LeaderFill, Side
from routing.models import CopyGroup, CopyOrder, Follower
from routing.services.leader_events import leader_event_ingest
from routing.services.route_state import route_config_bump

pytestmark = pytest.mark.django_db

SUBSCRIBERS = 500
RATIOS = (Decimal("0.5"), Decimal(1), Decimal(2), Decimal(3))
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, in the session


def _subscribers(route: Route) -> dict[int, Decimal]:
    """500 users mirroring Alice's pilot at ratios 0.5, 1, 2, 3 in turn;
    returns each subscriber account's ratio by account id."""
    pilot = pilot_publish(
        owner=route.owner,
        account=route.leader,
        display_name="Alice NQ",
        markets=["MNQ"],
        nominal_balance=Decimal(50_000),
        at=T0 - timedelta(days=30),
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        User(username=f"subscriber{i:03}", password=password) for i in range(SUBSCRIBERS)
    )
    accounts = BrokerAccount.objects.bulk_create(
        BrokerAccount(
            owner=user,
            name="Personal",
            platform=BrokerAccount.Platform.PAPER,
            external_id=f"fanout-{i:03}",
            kind=BrokerAccount.Kind.PERSONAL,
            starting_balance=Decimal(25_000),
            balance=Decimal(25_000),
        )
        for i, user in enumerate(users)
    )
    groups = CopyGroup.objects.bulk_create(
        CopyGroup(owner=user, name="Pilot Alice NQ", leader=route.leader) for user in users
    )
    Follower.objects.bulk_create(
        Follower(group=group, account=account, ratio=RATIOS[i % len(RATIOS)])
        for i, (group, account) in enumerate(zip(groups, accounts, strict=True))
    )
    Subscription.objects.bulk_create(
        Subscription(
            subscriber=user,
            pilot=pilot,
            status=Subscription.Status.MIRRORING,
            started_at=T0 - timedelta(days=20),
            watch_ends_at=T0 - timedelta(days=6),
            group=group,
        )
        for user, group in zip(users, groups, strict=True)
    )
    # bulk_create sends no post_save: tell the engine's route cache ourselves.
    route_config_bump()
    return {a.pk: RATIOS[i % len(RATIOS)] for i, a in enumerate(accounts)}


def _timed(route: Route, event_id: str, side: Side, minutes: int) -> tuple[float, list[CopyOrder]]:
    fill = LeaderFill(
        event_id, "lead", "MNQH6", side, 2, Decimal("21000.25"), T0 + timedelta(minutes=minutes)
    )
    start = time.perf_counter()
    result = leader_event_ingest(account=route.leader, fill=fill, source="test")
    return time.perf_counter() - start, result.orders


def test_one_pilot_trade_fans_out_to_500_subscribers_at_their_ratios(route: Route) -> None:
    # Arrange
    ratios = _subscribers(route)
    # Act: the pilot buys 2 MNQ, then sells them. The first event of the
    # session also loads the 500 routes into the route cache (two reads per
    # route) and opens every follower account's trading session (a constant
    # number of statements); the second shows the steady state.
    entry_seconds, entries = _timed(route, "fan-1", Side.BUY, 1)
    exit_seconds, exits = _timed(route, "fan-2", Side.SELL, 2)
    print(
        f"\nfan-out of one pilot fill to {SUBSCRIBERS} subscribers (+ the pilot's own route "
        f"of 2): first event {entry_seconds * 1000:.1f} ms (routes loaded, account sessions "
        f"opened), next event {exit_seconds * 1000:.1f} ms"
    )
    # Assert: one pending order per subscriber, 2 x ratio contracts each.
    for orders, side in ((entries, "buy"), (exits, "sell")):
        mine = [o for o in orders if o.account_id in ratios]
        assert len(mine) == SUBSCRIBERS
        assert {o.status for o in mine} == {CopyOrder.Status.PENDING}
        assert {o.side for o in mine} == {side}
        assert all(o.qty == 2 * ratios[o.account_id] for o in mine)
        assert len({o.group_id for o in mine}) == SUBSCRIBERS
    assert CopyOrder.objects.filter(account_id__in=list(ratios)).count() == 2 * SUBSCRIBERS
