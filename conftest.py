"""Shared fixtures: personas (alice, bob, staff) and a small route owned by alice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from journal.fills import session_realized_add
from journal.models import Fill
from routing.models import CopyGroup, Follower
from routing.services.contracts import contract_specs_sync
from routing.services.copy_groups import copy_group_create, follower_add, risk_limit_set
from tests.second_factor import verified_client


def fill_stored(**fields: Any) -> Fill:
    """A fill row made from ``fields`` (the model's), counted in its
    session's running total as :func:`journal.fills.fills_record` counts the
    fills it stores; the account's positions are left as they are (tests
    arrange those themselves)."""
    fill = Fill.objects.create(**fields)
    session_realized_add([(fill.account_id, fill.filled_at, fill.realized_pnl)])
    return fill


@pytest.fixture
def shared_data() -> Path:
    """``shared/data`` beside the repository; a test needing it fails loudly without it."""
    path: Path = settings.SHARED_DATA_DIR
    if not path.is_dir():
        pytest.fail(f"{path} not found: the tests read real exports from shared/data")
    return path


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def staff(db: None) -> User:
    """A superuser, "staff"; the admin also needs a verified second factor."""
    return User.objects.create_superuser("staff", password="staff-password-1")


@pytest.fixture
def staff_client(staff: User) -> Client:
    """``staff`` logged in with a confirmed TOTP device that verified the
    session: what the admin (copytrade.admin_site) admits."""
    return verified_client(staff)


@dataclass
class Route:
    owner: User
    group: CopyGroup
    leader: BrokerAccount
    small: BrokerAccount  # ratio 0.5, daily loss 375, max 5 contracts
    large: BrokerAccount  # ratio 3, no limits
    small_follower: Follower
    large_follower: Follower


@pytest.fixture
def route(alice: User) -> Route:
    # Transactional tests flush the tables between tests, seeded rows included.
    contract_specs_sync()
    leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000))
    small = broker_account_create(
        owner=alice, name="Eval 25K", balance=Decimal(25_000), kind="evaluation"
    )
    large = broker_account_create(
        owner=alice, name="Funded 150K", balance=Decimal(150_000), kind="funded"
    )
    group = copy_group_create(owner=alice, name="Evals", leader=leader)
    small_follower = follower_add(group=group, account=small, ratio=Decimal("0.5"))
    large_follower = follower_add(group=group, account=large, ratio=Decimal(3))
    risk_limit_set(account=small, daily_loss=Decimal(375), max_contracts=5, actor_label="test")
    return Route(alice, group, leader, small, large, small_follower, large_follower)
