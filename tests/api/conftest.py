"""Fixtures of the REST API tests: alice's route (the root conftest's) with
a row of every kind the API reads, the same for bob, and API clients."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.logins import broker_login_create
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.services import broker_account_create
from accounts.tests.logins_data import PROJECTX
from conftest import Route
from journal.models import EventType, ExportImport, Fill, JournalEntry, Position, Trade
from routing.models import CopyGroup, CopyOrder, Follower, LeaderEvent, RiskLimit
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set


@dataclass
class Rows:
    """One row of each kind the API lists, all of one user's."""

    user: User
    group: CopyGroup
    follower: Follower
    account: BrokerAccount
    login: BrokerLogin
    risk_limit: RiskLimit
    copy_order: CopyOrder
    fill: Fill
    position: Position
    entry: JournalEntry
    trade: Trade


def rows_made(
    user: User, group: CopyGroup, follower: Follower, tag: str, *, login: BrokerLogin
) -> Rows:
    """A copy order, fill, position, journal entry and imported trade on
    ``follower``'s account; ``tag`` keeps external ids apart between users."""
    account = follower.account
    account.login = login
    account.save(update_fields=["login"])
    now = timezone.now()
    event = LeaderEvent.objects.create(
        account=group.leader,
        external_id=f"lf-{tag}",
        symbol="MNQH6",
        side="buy",
        qty=1,
        price=Decimal("21500"),
        occurred_at=now,
        source="test",
    )
    order = CopyOrder.objects.create(
        leader_event=event,
        group=group,
        follower=follower,
        account=account,
        client_order_id=f"ct-{tag}",
        symbol="MNQH6",
        side="buy",
        qty=1,
        intent="entry",
        status="filled",
        filled_qty=1,
        avg_fill_price=Decimal("21500.25"),
    )
    fill = Fill.objects.create(
        account=account,
        copy_order=order,
        broker_fill_id=f"bf-{tag}",
        symbol="MNQH6",
        side="buy",
        qty=1,
        price=Decimal("21500.25"),
        filled_at=now,
    )
    position = Position.objects.create(
        account=account, symbol="MNQH6", qty=1, avg_price=Decimal("21500.25")
    )
    entry = JournalEntry.objects.create(
        occurred_at=now,
        owner_id=user.pk,
        actor_label="engine",
        event_type=EventType.COPY_ORDER_FILLED,
        group_id=group.pk,
        account_id=account.pk,
        message=f"filled {tag}",
    )
    export = ExportImport.objects.create(
        owner=user,
        file_name=f"{tag}.csv",
        format="topstepx",
        timezone="UTC",
        replayable=False,
        fill_count=2,
        trade_count=1,
    )
    trade = Trade.objects.create(
        owner=user,
        export_import=export,
        source_format="topstepx",
        account_name=account.name,
        external_id=f"t-{tag}",
        symbol="MNQH6",
        side="long",
        qty=1,
        entry_price=Decimal("21500"),
        exit_price=Decimal("21510"),
        pnl=Decimal("20"),
        closed_at=now,
    )
    risk_limit = RiskLimit.objects.get(account=account)
    return Rows(
        user, group, follower, account, login, risk_limit, order, fill, position, entry, trade
    )


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    # DRF's throttles count in the (local-memory) cache, which outlives a
    # test's database rollback.
    cache.clear()


@pytest.fixture
def alice_rows(route: Route) -> Rows:
    login = broker_login_create(
        owner=route.owner,
        platform="projectx",
        label="PX main",
        environment="demo",
        credentials=PROJECTX,
    )
    return rows_made(route.owner, route.group, route.small_follower, "a", login=login)


@pytest.fixture
def bob_rows(bob: User) -> Rows:
    leader = broker_account_create(owner=bob, name="Bob lead", balance=Decimal(50_000))
    follower_account = broker_account_create(owner=bob, name="Bob eval", balance=Decimal(50_000))
    group = copy_group_create(owner=bob, name="Bob's", leader=leader)
    follower = follower_add(group=group, account=follower_account, ratio=Decimal(1))
    risk_limit_set(
        account=follower_account, daily_loss=Decimal(500), max_contracts=3, actor_label="test"
    )
    login = broker_login_create(
        owner=bob,
        platform="projectx",
        label="Bob PX",
        environment="demo",
        credentials={**PROJECTX, "username": "bob-px"},
    )
    return rows_made(bob, group, follower, "b", login=login)


def token_client(user: User) -> APIClient:
    """An API client sending ``user``'s token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(alice_rows: Rows) -> APIClient:
    """alice's token client (alice owns the conftest route and ``alice_rows``)."""
    return token_client(alice_rows.user)
