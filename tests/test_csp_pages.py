"""Every page of the site, and the admin's, under the Content Security
Policy (copytrade/settings/csp.py): the header on every response with the
request's nonce, no inline script without that nonce, no event-handler or
style attribute, and the other security headers Django sends.

The site's pages are found by walking the URL conf, so a page added later is
checked too: each named URL is requested with the ids of the fixtures'
objects, by a logged-in user with data and by a visitor, and every answer
that is an HTML page is checked. The admin's pages are one changelist, add
and change form per registered model, as staff with a verified second factor.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.logins import broker_login_create
from accounts.models import User
from accounts.services import broker_account_create
from accounts.tests.logins_data import PROJECTX
from conftest import Route
from pilots.models import Pilot, Subscription
from pilots.subscriptions import subscription_start
from pilots.tests.board_records import THIRTY_FIVE, pilot_made, plan_given, record_stored, user
from routing.services.copy_groups import copy_group_create
from tests.csp_checks import markup_problems, nonce_of, policy_of
from tests.second_factor import totp_device_for

pytestmark = pytest.mark.django_db

# The named pages the issue lists: each must answer 200 with a page.
REQUIRED_SIGNED_IN = {
    "dashboard",  # alice's group and her pilot's watch route: the list itself
    "group_detail",
    "broker_accounts",
    "pilot_board",
    "pilot_profile",
    "plans",
    "subscriptions",
    "profile",
    "two_factor",
    "journal",
}
REQUIRED_VISITOR = {"login", "account_signup"}

# Exact sources per directive; script-src and style-src are 'self' plus the
# request's nonce, checked apart.
STRICT = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts requests per IP in the cache; every test client is 127.0.0.1.
    cache.clear()


@pytest.fixture
def followed(alice: User) -> tuple[Pilot, Subscription]:
    """A listed pilot of sam's with a record, which alice follows."""
    pilot = pilot_made(user("sam"), "Steady", markets=["NQ"])
    record_stored(pilot, THIRTY_FIVE)
    plan_given(alice)
    subscription = subscription_start(subscriber=alice, pilot=pilot, at=pilot.published_at)
    return pilot, subscription


def _named_patterns(resolver: URLResolver | None = None) -> Iterator[URLPattern]:
    """The site's named URL patterns, the admin's left out (checked apart)."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name != "admin":
                yield from _named_patterns(pattern)
        elif pattern.name:
            yield pattern


def _url(pattern: URLPattern, ids: dict[str, object]) -> str | None:
    """``pattern`` reversed with the ids it takes, or ``None`` when it takes
    one no fixture has (a token from an e-mail, an action word)."""
    params = set(pattern.pattern.regex.groupindex)
    if not params <= ids.keys():
        return None
    return reverse(pattern.name, kwargs={name: ids[name] for name in params})


def _assert_page_passes(url: str, response) -> str | None:
    """Check one HTML response; return its nonce."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{url}: no Content-Security-Policy header"
    policy = policy_of(header)
    for directive, sources in STRICT.items():
        assert policy.get(directive) == sources, f"{url}: {directive} wrong in {header}"
    nonce = nonce_of(policy)
    for directive in ("script-src", "style-src"):
        allowed = {"'self'"} | ({f"'nonce-{nonce}'"} if nonce else set())
        assert set(policy[directive]) == allowed, f"{url}: {directive} is {policy[directive]}"
    markup = markup_problems(response.text, nonce)
    assert markup.problems == [], f"{url}: {markup.problems}"
    # The other headers Django provides (settings/security.py).
    assert response.headers["X-Content-Type-Options"] == "nosniff", url
    assert response.headers["X-Frame-Options"] == "DENY", url
    assert response.headers["Referrer-Policy"] == "same-origin", url
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", url
    return nonce


def _check_every_page(client: Client, ids: dict[str, object]) -> set[str]:
    """GET every named page with ``client``; check the HTML ones; return their names."""
    checked = set()
    for pattern in _named_patterns():
        url = _url(pattern, ids)
        if url is None:
            continue
        response = client.get(url)
        assert response.status_code != 500, url
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        nonce = _assert_page_passes(url, response)
        # The site's frame (base.html) always uses the nonce, so the header carries it.
        assert nonce is not None, f"{url}: no nonce in the policy"
        assert f'nonce="{nonce}"' in response.text, url
        checked.add(pattern.name)
    return checked


def test_every_page_of_a_user_with_data_passes_the_policy(
    route: Route, followed: tuple[Pilot, Subscription]
) -> None:
    # Arrange: alice has a group, a broker login, a pilot she follows and a
    # second factor half set up (the two-factor page shows the QR code).
    alice = route.owner
    login = broker_login_create(
        owner=alice, platform="projectx", label="PX", environment="demo", credentials=PROJECTX
    )
    totp_device_for(alice, confirmed=False)
    pilot, subscription = followed
    ids = {
        "group_id": route.group.pk,
        "follower_id": route.small_follower.pk,
        "account_id": route.small.pk,
        "login_id": login.pk,
        "platform": "projectx",
        "pilot_id": pilot.pk,
        "subscription_id": subscription.pk,
    }
    client = Client()
    client.force_login(alice)
    # Act
    checked = _check_every_page(client, ids)
    # Assert: the walk reached the pages the issue names (and more).
    assert checked >= REQUIRED_SIGNED_IN, REQUIRED_SIGNED_IN - checked
    two_factor = client.get(reverse("two_factor")).text
    assert "<svg" in two_factor  # the QR code, inline SVG under img-src 'self' data:
    assert len(checked) >= 25, sorted(checked)


def test_the_dashboard_with_several_groups_passes_the_policy(route: Route) -> None:
    # One group opens the group page directly; two show the dashboard itself.
    other = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    copy_group_create(owner=route.owner, name="Funded", leader=other)
    client = Client()
    client.force_login(route.owner)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert _assert_page_passes("/", response) is not None


def test_every_page_a_visitor_sees_passes_the_policy(db: None) -> None:
    checked = _check_every_page(Client(), {})
    assert checked >= REQUIRED_VISITOR, REQUIRED_VISITOR - checked


def test_each_request_gets_its_own_nonce(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    nonces = {nonce_of(policy_of(client.get("/profile/")["Content-Security-Policy"])) for _ in "ab"}
    assert len(nonces) == 2 and None not in nonces


def test_the_admin_pages_pass_the_policy(staff_client: Client, route: Route) -> None:
    # Arrange: one object of each registered model where the fixtures made one.
    admin_site = admin.site
    urls = [reverse("admin:index")]
    for model in admin_site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            )
    # Act / Assert: the admin's templates add the nonce only once something
    # else used it ({% csp_nonce_attr %}); their scripts are files, which
    # script-src 'self' allows, and they have no inline script at all.
    pages = 0
    for url in urls:
        response = staff_client.get(url)
        if response.status_code == 403:  # a model that refuses adds in the admin
            continue
        assert response.status_code == 200, f"{url}: {response.status_code}"
        _assert_page_passes(url, response)
        pages += 1
    assert pages >= 10, urls


def test_the_admin_login_passes_the_policy(staff: User) -> None:
    response = Client().get(reverse("admin:login"))
    assert response.status_code == 200
    _assert_page_passes("/admin/login/", response)


def test_a_page_without_html_still_gets_the_header(db: None) -> None:
    response = Client().get(reverse("healthz"))
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_a_plain_http_install_does_not_upgrade_requests(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    assert "upgrade-insecure-requests" not in client.get("/profile/")["Content-Security-Policy"]


def test_the_policy_settings_upgrade_requests_behind_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import copytrade.settings.csp
    import copytrade.settings.security

    monkeypatch.setenv("HTTPS", "true")
    try:
        importlib.reload(copytrade.settings.security)
        policy = importlib.reload(copytrade.settings.csp).SECURE_CSP
        assert policy["upgrade-insecure-requests"] is True
    finally:
        monkeypatch.delenv("HTTPS")
        importlib.reload(copytrade.settings.security)
        importlib.reload(copytrade.settings.csp)


def test_the_strict_policy_has_no_unsafe_source() -> None:
    from django.conf import settings

    sources = [s for v in settings.SECURE_CSP.values() if isinstance(v, list) for s in v]
    assert sources and not [s for s in sources if "unsafe" in s]
