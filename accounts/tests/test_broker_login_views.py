"""The broker accounts page and its forms: logins with their connection
state and request budget, accounts with today's PnL and limit bars; no
secret ever on a page or in a log; another user's rows are 404; CSRF."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.broker_accounts import broker_account_add
from accounts.credentials import credentials_decrypt, login_configs
from accounts.logins import broker_login_create, login_states_record
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.services import broker_account_create
from accounts.tests.logins_data import IB, PROJECTX, RITHMIC, SECRETS, TRADOVATE
from conftest import Route, fill_stored
from routing.brokers.logins import ConnectionState, LoginState
from routing.models import RiskLimit
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db

FORMS = {"projectx": PROJECTX, "tradovate": TRADOVATE, "rithmic": RITHMIC, "ib": IB}


@pytest.fixture
def alice_client(alice: User) -> Client:
    # Recently re-authenticated: these tests are about the actions themselves
    # (accounts.reauth's tests cover the confirmation).
    return reauthenticated_client(alice)


@pytest.fixture
def tv(alice: User) -> BrokerLogin:
    return broker_login_create(
        owner=alice, platform="tradovate", label="TV", environment="demo", credentials=TRADOVATE
    )


def _no_secret(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html


def test_new_pages_require_login(tv: BrokerLogin) -> None:
    for url in (
        reverse("login_platform"),
        reverse("login_create", args=["projectx"]),
        reverse("login_edit", args=[tv.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_platform_page_offers_every_real_platform(alice_client: Client) -> None:
    html = alice_client.get(reverse("login_platform")).content.decode()
    for platform in FORMS:
        assert reverse("login_create", args=[platform]) in html
    assert reverse("login_create", args=["paper"]) not in html
    assert alice_client.get(reverse("login_create", args=["paper"])).status_code == 404


@pytest.mark.parametrize("platform", sorted(FORMS))
def test_connect_each_platform_stores_its_fields(
    alice: User, alice_client: Client, platform: str
) -> None:
    response = alice_client.post(
        reverse("login_create", args=[platform]),
        {"label": "Main", "environment": "live", **FORMS[platform]},
    )
    assert response.status_code == 302 and response["Location"] == reverse("broker_accounts")
    login = BrokerLogin.objects.get(owner=alice)
    assert (login.platform, login.environment) == (platform, "live")
    assert credentials_decrypt(login.secret) == FORMS[platform]
    page = alice_client.get(reverse("broker_accounts")).content.decode()
    assert "Main" in page and login.identity in page
    _no_secret(page)


def test_connect_form_renders_secrets_as_empty_password_inputs(alice_client: Client) -> None:
    html = alice_client.get(reverse("login_create", args=["tradovate"])).content.decode()
    for name in ("password", "secret"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert tag is not None and 'type="password"' in tag.group(0)
        assert "value=" not in tag.group(0)


@pytest.mark.parametrize(
    ("platform", "data", "field", "message"),
    [
        ("projectx", {"username": "u"}, "api_key", "This field is required."),
        ("ib", {**IB, "port": "abc"}, "port", "Enter a whole number."),
        ("ib", {**IB, "port": "70000"}, "port", "less than or equal to 65535"),
        ("ib", {**IB, "client_id": "-1"}, "client_id", "greater than or equal to 0"),
        ("rithmic", {**RITHMIC, "system": ""}, "system", "This field is required."),
        ("tradovate", {**TRADOVATE, "label": ""}, "label", "This field is required."),
    ],
)
def test_connect_form_errors_are_per_field_and_never_echo_a_secret(
    alice_client: Client, platform: str, data: dict[str, str], field: str, message: str
) -> None:
    response = alice_client.post(
        reverse("login_create", args=[platform]), {"label": "Main", "environment": "demo", **data}
    )
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    _no_secret(response.content.decode())
    assert not BrokerLogin.objects.exists()


def test_taken_label_is_a_label_error(alice_client: Client, tv: BrokerLogin) -> None:
    response = alice_client.post(
        reverse("login_create", args=["projectx"]),
        {"label": "TV", "environment": "demo", **PROJECTX},
    )
    assert response.status_code == 400
    assert "already have a login" in response.context["form"].errors["label"][0]
    _no_secret(response.content.decode())


def test_edit_form_never_shows_a_secret_and_blank_keeps_it(
    alice_client: Client, tv: BrokerLogin
) -> None:
    # Arrange / Act: the form
    html = alice_client.get(reverse("login_edit", args=[tv.pk])).content.decode()
    # Assert
    _no_secret(html)
    assert TRADOVATE["username"] in html  # not a secret: shown to edit
    assert "Leave blank to keep the stored value." in html
    # Act: save with the secrets blank
    data = {**TRADOVATE, "password": "", "secret": "", "label": "TV 2", "environment": "demo"}
    response = alice_client.post(reverse("login_edit", args=[tv.pk]), data)
    # Assert
    assert response.status_code == 302
    tv.refresh_from_db()
    assert tv.label == "TV 2" and credentials_decrypt(tv.secret) == TRADOVATE


def test_page_shows_states_budget_and_connections(
    alice: User, alice_client: Client, tv: BrokerLogin
) -> None:
    # Arrange
    since = datetime(2026, 12, 3, 14, 30, 5, tzinfo=UTC)
    login_states_record(
        [LoginState(tv.pk, ConnectionState.DOWN, since, "Connection lost; retrying.", 12, 200)]
    )
    broker_account_add(
        owner=alice,
        login=tv,
        name="TV Eval",
        external_id="DEMO123",
        kind="evaluation",
        firm="Apex",
        starting_balance=Decimal(50_000),
    )
    broker_account_create(owner=alice, name="Paper One", balance=Decimal(10_000))
    # Act
    html = alice_client.get(reverse("broker_accounts")).content.decode()
    # Assert
    assert 'class="badge conn down"' in html and "Connection lost; retrying." in html
    assert "since 2026-12-03 14:30:05 UTC" in html
    assert "12 / 200" in html
    assert re.search(r'data-account="\d+".*?TV Eval.*?badge conn down', html, re.S)
    assert re.search(r"Paper One.*?badge conn simulated", html, re.S)
    assert "DEMO123" in html and "Apex" in html
    _no_secret(html)


def test_page_shows_pnl_and_limit_bars_without_writing(alice: User, alice_client: Client) -> None:
    # Arrange: $1,000 daily loss, $2,000 static drawdown, -$300 realized today
    account = broker_account_create(owner=alice, name="Eval", balance=Decimal(50_000))
    RiskLimit.objects.create(account=account, daily_loss=Decimal(1000), max_drawdown=Decimal(2000))
    fill_stored(
        account=account,
        broker_fill_id="f1",
        symbol="MNQZ6",
        side="sell",
        qty=1,
        price=Decimal(21000),
        realized_pnl=Decimal(-300),
        filled_at=timezone.now(),
    )
    # Act
    html = alice_client.get(reverse("broker_accounts")).content.decode()
    # Assert
    assert account.sessions.count() == 0  # a page read opens no session row
    assert 'data-testid="session-pnl">-$300.00<' in html
    assert "$700.00 of $1,000.00 left" in html
    assert 'value="700.0000"' in html
    assert "$1,700.00 of $2,000.00 above the floor" in html


def test_other_users_rows_are_404(
    bob: User, alice_client: Client, tv: BrokerLogin, alice: User
) -> None:
    # Arrange: bob's login and account; alice is logged in
    bobs = broker_login_create(
        owner=bob, platform="projectx", label="B", environment="demo", credentials=PROJECTX
    )
    account = broker_account_create(owner=bob, name="Bob paper", balance=Decimal(1))
    # Act / Assert
    for method, url in (
        ("get", reverse("login_edit", args=[bobs.pk])),
        ("post", reverse("login_edit", args=[bobs.pk])),
        ("post", reverse("login_enabled", args=[bobs.pk])),
        ("post", reverse("login_remove", args=[bobs.pk])),
        ("get", reverse("login_account_add", args=[bobs.pk])),
        ("get", reverse("account_edit", args=[account.pk])),
        ("post", reverse("account_enabled", args=[account.pk])),
        ("post", reverse("account_remove", args=[account.pk])),
    ):
        data = {"enabled": "0"} if method == "post" else None
        assert getattr(alice_client, method)(url, data).status_code == 404, url
    assert BrokerLogin.objects.filter(pk=bobs.pk, enabled=True).exists()
    assert BrokerAccount.objects.filter(pk=account.pk, enabled=True).exists()
    html = alice_client.get(reverse("broker_accounts")).content.decode()
    assert "Bob paper" not in html and ">B<" not in html


def test_posts_need_the_csrf_token(alice: User, tv: BrokerLogin) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url, data in (
        (reverse("login_create", args=["projectx"]), {"label": "X", "environment": "demo"}),
        (reverse("login_enabled", args=[tv.pk]), {"enabled": "0"}),
        (reverse("login_remove", args=[tv.pk]), {}),
    ):
        assert client.post(url, data).status_code == 403
    assert BrokerLogin.objects.filter(pk=tv.pk, enabled=True).exists()


def test_disable_and_enable_buttons(alice_client: Client, tv: BrokerLogin) -> None:
    alice_client.post(reverse("login_enabled", args=[tv.pk]), {"enabled": "0"})
    assert not BrokerLogin.objects.get(pk=tv.pk).enabled
    assert (
        alice_client.post(reverse("login_enabled", args=[tv.pk]), {"enabled": "x"}).status_code
        == 400
    )
    alice_client.post(reverse("login_enabled", args=[tv.pk]), {"enabled": "1"})
    assert BrokerLogin.objects.get(pk=tv.pk).enabled


def test_add_account_under_login_and_remove_it(
    alice: User, alice_client: Client, tv: BrokerLogin
) -> None:
    url = reverse("login_account_add", args=[tv.pk])
    data = {
        "name": "TV 1",
        "external_id": "ACC-1",
        "kind": "funded",
        "firm": "",
        "starting_balance": "100000",
    }
    assert alice_client.post(url, data).status_code == 302
    account = BrokerAccount.objects.get(owner=alice)
    assert (account.login_id, account.platform) == (tv.pk, "tradovate")
    bad = alice_client.post(url, {**data, "name": "TV 2", "starting_balance": "-1"})
    assert bad.status_code == 400 and "starting_balance" in bad.context["form"].errors
    # The login cannot go while the account uses it.
    page = alice_client.post(reverse("login_remove", args=[tv.pk]), follow=True)
    assert "still serves 1 account(s) (TV 1)" in page.content.decode()
    alice_client.post(reverse("account_remove", args=[account.pk]))
    alice_client.post(reverse("login_remove", args=[tv.pk]))
    assert not BrokerLogin.objects.exists()


def test_remove_refused_on_page_says_why(alice_client: Client, route: Route) -> None:
    page = alice_client.post(reverse("account_remove", args=[route.leader.pk]), follow=True)
    assert "leads copy group Evals" in page.content.decode()
    assert "Disable it instead." in page.content.decode()
    assert BrokerAccount.objects.filter(pk=route.leader.pk).exists()


def test_account_edit_page(alice_client: Client, route: Route) -> None:
    url = reverse("account_edit", args=[route.small.pk])
    html = alice_client.get(url).content.decode()
    assert "Eval 25K" in html and 'name="external_id"' not in html  # paper: no platform id
    data = {"name": "Eval 25K b", "kind": "evaluation", "firm": "X", "starting_balance": "25000"}
    assert alice_client.post(url, data).status_code == 302
    route.small.refresh_from_db()
    assert (route.small.name, route.small.firm) == ("Eval 25K b", "X")


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQL included (the backend logs each query
    while ``force_debug_cursor`` is on), all captured."""
    names = [None, *logging.root.manager.loggerDict, "django", "django.db.backends"]
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    debug_cursor = connection.force_debug_cursor
    connection.force_debug_cursor = True
    try:
        yield caplog
    finally:
        connection.force_debug_cursor = debug_cursor
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_connect_never_writes_a_secret_to_the_logs(
    alice_client: Client, every_logger_at_debug: pytest.LogCaptureFixture
) -> None:
    # Act: connect, a refused form, an edit, and the worker's read
    alice_client.post(
        reverse("login_create", args=["tradovate"]),
        {"label": "TV", "environment": "demo", **TRADOVATE},
    )
    alice_client.post(
        reverse("login_create", args=["rithmic"]),
        {"label": "", "environment": "demo", **RITHMIC},
    )
    login = BrokerLogin.objects.get(label="TV")
    alice_client.post(
        reverse("login_edit", args=[login.pk]),
        {**TRADOVATE, "label": "TV", "environment": "live", "password": ""},
    )
    configs = login_configs()
    logging.getLogger("copytrade.test").debug("configs %r", configs)
    # Assert
    records = every_logger_at_debug.records
    sql = [r for r in records if r.name == "django.db.backends"]
    assert any("accounts_brokerlogin" in r.getMessage() for r in sql)  # SQL was logged
    assert dict(configs[0].credentials) == TRADOVATE  # the secrets did travel
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in records)
    _no_secret(text)
