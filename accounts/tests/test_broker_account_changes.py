"""Broker account services of the accounts page: add (paper or under a
login), edit, disable, remove (refused with the reason while in use or with
history), each journaled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.broker_accounts import (
    broker_account_add,
    broker_account_enabled_set,
    broker_account_remove,
    broker_account_update,
)
from accounts.logins import broker_login_create
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.tests.logins_data import PROJECTX
from conftest import Route, fill_stored
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def px(alice: User) -> BrokerLogin:
    return broker_login_create(
        owner=alice, platform="projectx", label="PX", environment="demo", credentials=PROJECTX
    )


def _add(
    owner: User, login: BrokerLogin | None, name: str, ext: str | None = None
) -> BrokerAccount:
    return broker_account_add(
        owner=owner,
        login=login,
        name=name,
        external_id=ext,
        kind="evaluation",
        firm="Topstep",
        starting_balance=Decimal(50_000),
    )


def test_add_under_login_takes_its_platform_and_journals(alice: User, px: BrokerLogin) -> None:
    account = _add(alice, px, "Eval 1", " 12345 ")
    assert (account.platform, account.external_id, account.login_id) == ("projectx", "12345", px.pk)
    assert account.starting_balance == account.balance == Decimal(50_000)
    entry = JournalEntry.objects.get(event_type=EventType.BROKER_ACCOUNT_ADDED)
    assert entry.account_id == account.pk and entry.actor_label == "alice"
    assert "under PX" in entry.message


def test_add_paper_gets_generated_id(alice: User) -> None:
    account = _add(alice, None, "Paper 1")
    assert account.platform == "paper" and account.external_id.startswith("paper-")
    assert account.login_id is None


def test_add_refuses_another_users_login_missing_id_and_taken_id(
    alice: User, bob: User, px: BrokerLogin
) -> None:
    with pytest.raises(ApplicationError, match="No such login"):
        _add(bob, px, "Mine", "1")
    with pytest.raises(ApplicationError) as missing:
        _add(alice, px, "No id", "  ")
    assert missing.value.field == "external_id"
    _add(alice, px, "First", "777")
    with pytest.raises(ApplicationError, match="already registered") as taken:
        _add(alice, px, "Second", "777")
    assert taken.value.field == "external_id"
    with pytest.raises(ApplicationError, match="already have an account") as named:
        _add(alice, px, "First", "778")
    assert named.value.field == "name"
    assert BrokerAccount.objects.filter(owner=alice).count() == 1


def test_edit_changes_fields_and_journals_before_and_after(alice: User, px: BrokerLogin) -> None:
    account = _add(alice, px, "Eval 1", "1")
    broker_account_update(
        account=account,
        name="Eval A",
        kind="funded",
        firm="Apex",
        starting_balance=Decimal(100_000),
        external_id="2",
    )
    account.refresh_from_db()
    assert (account.name, account.kind, account.firm, account.external_id) == (
        "Eval A",
        "funded",
        "Apex",
        "2",
    )
    assert account.starting_balance == Decimal(100_000)
    assert account.balance == Decimal(50_000)  # the platform reports a real account's balance
    entry = JournalEntry.objects.get(event_type=EventType.BROKER_ACCOUNT_CHANGED)
    assert (entry.before["name"], entry.after["name"]) == ("Eval 1", "Eval A")
    assert (entry.before["external_id"], entry.after["external_id"]) == ("1", "2")


def test_edit_refuses_id_and_starting_balance_once_it_has_fills(
    alice: User, px: BrokerLogin
) -> None:
    account = _add(alice, px, "Eval 1", "1")
    fill_stored(
        account=account,
        broker_fill_id="f1",
        symbol="MNQZ6",
        side="buy",
        qty=1,
        price=Decimal(21000),
        filled_at=datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    common = {"name": "Eval 1", "kind": "evaluation", "firm": "Topstep"}
    with pytest.raises(ApplicationError) as caught:
        broker_account_update(
            account=account, starting_balance=Decimal(50_000), external_id="9", **common
        )
    assert caught.value.field == "external_id"
    with pytest.raises(ApplicationError) as caught:
        broker_account_update(
            account=account, starting_balance=Decimal(1), external_id="1", **common
        )
    assert caught.value.field == "starting_balance"
    broker_account_update(account=account, starting_balance=Decimal(50_000), **common)  # fine


def test_paper_balance_follows_a_new_starting_balance(alice: User) -> None:
    account = _add(alice, None, "Paper")
    broker_account_update(
        account=account, name="Paper", kind="personal", firm="", starting_balance=Decimal(25_000)
    )
    account.refresh_from_db()
    assert account.starting_balance == account.balance == Decimal(25_000)


def test_disable_enable_journaled(alice: User, px: BrokerLogin) -> None:
    account = _add(alice, px, "Eval 1", "1")
    broker_account_enabled_set(account=account, enabled=False)
    assert not BrokerAccount.objects.get(pk=account.pk).enabled
    broker_account_enabled_set(account=account, enabled=True)
    assert list(
        JournalEntry.objects.filter(account_id=account.pk)
        .order_by("pk")
        .values_list("event_type", flat=True)
    ) == ["broker_account.added", "broker_account.disabled", "broker_account.enabled"]


def test_remove_refused_for_leader_and_follower(route: Route) -> None:
    with pytest.raises(ApplicationError, match=r"leads copy group Evals.*Disable it instead"):
        broker_account_remove(account=route.leader)
    with pytest.raises(ApplicationError, match="follows copy group Evals"):
        broker_account_remove(account=route.small)
    assert BrokerAccount.objects.filter(pk__in=[route.leader.pk, route.small.pk]).count() == 2
    assert not JournalEntry.objects.filter(event_type=EventType.BROKER_ACCOUNT_REMOVED).exists()


def test_remove_refused_with_history(alice: User) -> None:
    account = _add(alice, None, "Old")
    fill_stored(
        account=account,
        broker_fill_id="f1",
        symbol="MNQZ6",
        side="buy",
        qty=1,
        price=Decimal(21000),
        filled_at=datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    with pytest.raises(ApplicationError, match=r"it has fills\. Disable it instead\."):
        broker_account_remove(account=account)
    assert BrokerAccount.objects.filter(pk=account.pk).exists()


def test_remove_unused_account_deletes_and_journals(alice: User, px: BrokerLogin) -> None:
    account = _add(alice, px, "Spare", "5")
    broker_account_remove(account=account)
    assert not BrokerAccount.objects.filter(pk=account.pk).exists()
    entry = JournalEntry.objects.get(event_type=EventType.BROKER_ACCOUNT_REMOVED)
    assert entry.account_id == account.pk and entry.before["name"] == "Spare"
    assert entry.after is None
