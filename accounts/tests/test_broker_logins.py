"""Broker login services: connect, edit (a blank secret keeps the stored
one), disable, remove, the journal of each, the engine worker's
``login_configs`` and ``login_states_record``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.broker_accounts import (
    broker_account_add,
    broker_account_enabled_set,
    broker_account_remove,
)
from accounts.credentials import credentials_decrypt, login_configs, login_configs_version
from accounts.logins import (
    broker_login_create,
    broker_login_enabled_set,
    broker_login_remove,
    broker_login_update,
    login_states_record,
)
from accounts.models import BrokerLogin, User
from accounts.tests.logins_data import IB, PROJECTX, RITHMIC, SECRETS, TRADOVATE
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from routing.brokers.logins import ConnectionState, Environment, LoginState

pytestmark = pytest.mark.django_db


def _login(owner: User, label: str = "PX", **kwargs: object) -> BrokerLogin:
    fields = {"platform": "projectx", "environment": "demo", "credentials": PROJECTX} | kwargs
    return broker_login_create(owner=owner, label=label, **fields)  # type: ignore[arg-type]


def _journal_text() -> str:
    return " ".join(
        f"{e.message} {e.before} {e.after} {e.extra_data}" for e in JournalEntry.objects.all()
    )


def test_create_stores_identity_and_journals_without_secret(alice: User) -> None:
    # Act
    login = _login(alice)
    ib = broker_login_create(
        owner=alice, platform="ib", label="IB", environment="live", credentials=IB
    )
    # Assert
    assert (login.identity, ib.identity) == ("trader-px", "127.0.0.1:4002/7")
    assert login.connection_state == "unknown" and login.enabled
    entries = JournalEntry.objects.filter(event_type=EventType.BROKER_LOGIN_ADDED)
    assert entries.count() == 2
    entry = entries.get(extra_data__login_id=login.pk)
    assert (entry.owner_id, entry.actor_user_id, entry.actor_label) == (alice.pk, alice.pk, "alice")
    assert PROJECTX["api_key"] not in _journal_text()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({**PROJECTX, "api_key": " "}, "api_key", "API key is required"),
        ({"username": "u", "api_key": "k", "extra": "x"}, "extra", "no field"),
    ],
)
def test_create_refuses_bad_credentials(
    alice: User, fields: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(ApplicationError, match=message) as caught:
        _login(alice, credentials=fields)
    assert caught.value.field == field
    assert not BrokerLogin.objects.exists()


def test_create_refuses_ib_port_out_of_range_and_paper(alice: User) -> None:
    with pytest.raises(ApplicationError, match="between 1 and 65535") as caught:
        broker_login_create(
            owner=alice,
            platform="ib",
            label="IB",
            environment="demo",
            credentials={**IB, "port": "70000"},
        )
    assert caught.value.field == "port"
    with pytest.raises(ApplicationError, match="Paper"):
        _login(alice, platform="paper")


def test_create_refuses_a_taken_label_per_owner(alice: User, bob: User) -> None:
    _login(alice, "Main")
    with pytest.raises(ApplicationError, match="already have a login") as caught:
        _login(alice, "Main")
    assert caught.value.field == "label"
    _login(bob, "Main")  # another user's label is theirs


def test_update_with_blank_secret_keeps_it_and_journals_field_names(alice: User) -> None:
    # Arrange
    login = broker_login_create(
        owner=alice, platform="tradovate", label="TV", environment="demo", credentials=TRADOVATE
    )
    login_states_record(
        [LoginState(login.pk, ConnectionState.CONNECTED, datetime(2026, 12, 1, tzinfo=UTC))]
    )
    # Act: a new user name, the password left blank, the API secret changed
    updated = broker_login_update(
        login=login,
        label="TV main",
        environment="live",
        credentials={**TRADOVATE, "username": "trader-2", "password": "", "secret": "NEW-SEC-1"},
    )
    # Assert
    stored = credentials_decrypt(BrokerLogin.objects.get(pk=login.pk).secret)
    assert stored["password"] == TRADOVATE["password"]
    assert (stored["username"], stored["secret"]) == ("trader-2", "NEW-SEC-1")
    assert (updated.label, updated.environment, updated.identity) == ("TV main", "live", "trader-2")
    assert updated.connection_state == "unknown"  # the worker reconnects with the new ones
    entry = JournalEntry.objects.get(event_type=EventType.BROKER_LOGIN_CHANGED)
    assert entry.extra_data["credential_fields_changed"] == ["secret", "username"]
    assert entry.before["label"] == "TV" and entry.after["label"] == "TV main"
    text = _journal_text()
    for secret in [*SECRETS, "NEW-SEC-1"]:
        assert secret not in text


def test_update_blank_required_text_field_is_refused(alice: User) -> None:
    login = _login(alice)
    with pytest.raises(ApplicationError) as caught:
        broker_login_update(
            login=login, label="PX", environment="demo", credentials={"username": "", "api_key": ""}
        )
    assert caught.value.field == "username"


def test_disable_enable_journal_once_each(alice: User) -> None:
    login = _login(alice)
    broker_login_enabled_set(login=login, enabled=False)
    broker_login_enabled_set(login=login, enabled=False)  # no change: nothing written
    broker_login_enabled_set(login=login, enabled=True)
    types = list(
        JournalEntry.objects.filter(event_type__startswith="broker_login.")
        .order_by("pk")
        .values_list("event_type", flat=True)
    )
    assert types == ["broker_login.added", "broker_login.disabled", "broker_login.enabled"]


def test_remove_refused_while_accounts_use_it_then_allowed(alice: User) -> None:
    # Arrange
    login = _login(alice)
    account = broker_account_add(
        owner=alice,
        login=login,
        name="PA-1",
        external_id="PA1",
        kind="evaluation",
        firm="Topstep",
        starting_balance=Decimal(50_000),
    )
    # Act / Assert
    with pytest.raises(ApplicationError, match=r"still serves 1 account\(s\) \(PA-1\)"):
        broker_login_remove(login=login)
    assert BrokerLogin.objects.filter(pk=login.pk).exists()
    broker_account_remove(account=account)
    broker_login_remove(login=login)
    assert not BrokerLogin.objects.filter(pk=login.pk).exists()
    entry = JournalEntry.objects.get(event_type=EventType.BROKER_LOGIN_REMOVED)
    assert entry.extra_data["login_id"] == login.pk and entry.before["label"] == "PX"


def test_login_configs_gives_decrypted_fields_and_enabled_accounts_only(
    alice: User, bob: User
) -> None:
    # Arrange
    px = _login(alice)
    rt = broker_login_create(
        owner=bob, platform="rithmic", label="RT", environment="live", credentials=RITHMIC
    )
    off = _login(alice, "Off")
    broker_login_enabled_set(login=off, enabled=False)

    def add(login: BrokerLogin, owner: User, name: str, ext: str) -> object:
        return broker_account_add(
            owner=owner,
            login=login,
            name=name,
            external_id=ext,
            kind="funded",
            firm="",
            starting_balance=Decimal(1),
        )

    add(px, alice, "A2", "PX-2")
    add(px, alice, "A1", "PX-1")
    disabled = add(px, alice, "A3", "PX-3")
    broker_account_enabled_set(account=disabled, enabled=False)  # type: ignore[arg-type]
    add(rt, bob, "B1", "RT-1")
    add(off, alice, "A4", "OFF-1")
    # Act
    every = login_configs()
    projectx = login_configs(platform="projectx")
    # Assert
    assert [(c.login_id, c.platform, c.environment, c.accounts) for c in every] == [
        (px.pk, "projectx", Environment.DEMO, ("PX-1", "PX-2")),
        (rt.pk, "rithmic", Environment.LIVE, ("RT-1",)),
    ]
    assert dict(every[0].credentials) == PROJECTX
    assert dict(every[1].credentials) == RITHMIC
    assert [c.login_id for c in projectx] == [px.pk]
    assert RITHMIC["password"] not in repr(every)


def test_login_states_record_writes_every_state_in_one_statement(
    alice: User, django_assert_num_queries: object
) -> None:
    # Arrange
    a, b = _login(alice, "A"), _login(alice, "B")
    since = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    states = [
        LoginState(a.pk, ConnectionState.CONNECTED, since, "", 12, 200),
        LoginState(b.pk, ConnectionState.FAILED, since, "Refused: wrong API key.", None, None),
        LoginState(999_999, ConnectionState.DOWN, since),  # removed meanwhile
    ]
    # Act
    with django_assert_num_queries(1):  # type: ignore[operator]
        written = login_states_record(states)
    # Assert
    assert written == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.connection_state, a.connection_since, a.budget_used, a.budget_limit) == (
        "connected",
        since,
        12,
        200,
    )
    assert (b.connection_state, b.connection_detail, b.budget_used) == (
        "failed",
        "Refused: wrong API key.",
        None,
    )


def test_login_states_record_refuses_naive_since(alice: User) -> None:
    login = _login(alice)
    with pytest.raises(ValueError, match="aware"):
        login_states_record([LoginState(login.pk, ConnectionState.DOWN, datetime(2026, 12, 3))])


def test_secret_is_kept_as_typed_other_fields_trimmed(alice: User) -> None:
    login = _login(alice, credentials={"username": "  trader-px ", "api_key": " k e y "})
    assert credentials_decrypt(login.secret) == {"username": "trader-px", "api_key": " k e y "}
    assert login.identity == "trader-px"


def test_configs_version_changes_with_configuration_not_with_state_reports(
    alice: User,
) -> None:
    # Arrange
    empty = login_configs_version()
    login = _login(alice)
    added = login_configs_version()
    # Act: a state report, then an account added, then the login disabled
    login_states_record([LoginState(login.pk, ConnectionState.CONNECTED, datetime.now(UTC))])
    after_report = login_configs_version()
    account = broker_account_add(
        owner=alice,
        login=login,
        name="A",
        external_id="1",
        kind="funded",
        firm="",
        starting_balance=Decimal(1),
    )
    after_account = login_configs_version()
    broker_account_enabled_set(account=account, enabled=False)
    after_disable = login_configs_version()
    # Assert
    assert empty == (0, "", 0, "")
    assert after_report == added
    assert len({added, after_account, after_disable}) == 3
