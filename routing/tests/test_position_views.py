"""The positions panel's Close and Untrack buttons (routing.position_views):
POST only, CSRF-checked, owner only (404 otherwise), thin over the services.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import JournalEntry, Position
from routing.models import ExpectedPosition, PositionClose
from routing.services.copy_groups import copy_group_create, follower_add

pytestmark = pytest.mark.django_db
SYMBOL = "MNQH6"


@pytest.fixture
def held(route: Route) -> Route:
    """Funded 150K holds +12 MNQH6, all of it managed by copying."""
    Position.objects.create(account=route.large, symbol=SYMBOL, qty=12, avg_price=Decimal(21000))
    ExpectedPosition.objects.create(account=route.large, symbol=SYMBOL, qty=12)
    return route


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, route: Route, follower_id: int | None = None) -> str:
    return reverse(name, args=[route.group.pk, follower_id or route.large_follower.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("name", ["position_close", "position_untrack"])
def test_other_users_group_or_follower_is_404_and_nothing_changes(
    held: Route, bob: User, name: str
) -> None:
    data = {"symbol": SYMBOL, "qty": "12"}
    # Bob on alice's group.
    assert _client(bob).post(_url(name, held), data).status_code == 404
    # Alice with a follower of another group (bob's) under her group's address.
    lead = broker_account_create(owner=bob, name="Bob lead", balance=Decimal(50_000))
    other = broker_account_create(owner=bob, name="Bob eval", balance=Decimal(50_000))
    bobs = copy_group_create(owner=bob, name="Bob's", leader=lead)
    bobs_follower = follower_add(group=bobs, account=other, ratio=Decimal(1))
    assert _client(held.owner).post(_url(name, held, bobs_follower.pk), data).status_code == 404
    assert not PositionClose.objects.exists()
    assert ExpectedPosition.objects.get(account=held.large).qty == 12
    assert not JournalEntry.objects.filter(event_type__startswith="position.").exists()


@pytest.mark.parametrize("name", ["position_close", "position_untrack"])
def test_get_is_not_allowed_and_post_needs_the_csrf_token(held: Route, name: str) -> None:
    assert _client(held.owner).get(_url(name, held)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(held.owner)
    assert strict.post(_url(name, held), {"symbol": SYMBOL, "qty": "12"}).status_code == 403
    assert not PositionClose.objects.exists()
    assert ExpectedPosition.objects.get(account=held.large).qty == 12


def test_close_queues_the_close_and_says_so(held: Route) -> None:
    response = _client(held.owner).post(
        _url("position_close", held), {"symbol": SYMBOL, "qty": "12"}, follow=True
    )
    assert (
        response.redirect_chain[-1][0]
        == reverse("group_detail", args=[held.group.pk]) + "#positions"
    )
    close = PositionClose.objects.get()
    assert (close.account_id, close.symbol, close.seen_qty, close.status) == (
        held.large.pk,
        SYMBOL,
        12,
        "pending",
    )
    # No engine worker runs in this test: the page says the close waits for one.
    assert _messages(response) == [
        "Funded 150K: closing +12 MNQH6 at market: pending — the copy engine is not running "
        "(down); the position closes only when the engine runs."
    ]


def test_close_of_a_stale_page_shows_why_and_queues_nothing(held: Route) -> None:
    response = _client(held.owner).post(
        _url("position_close", held), {"symbol": SYMBOL, "qty": "-3"}, follow=True
    )
    assert _messages(response) == [
        "Funded 150K: MNQH6 is now +12, not the -3 your page showed; no order sent. Check the "
        "position and press Close again"
    ]
    assert not PositionClose.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"symbol": SYMBOL, "qty": "0"}, "qty: The page showed this position flat"),
        ({"symbol": "mnq h6;", "qty": "12"}, "symbol: Enter a valid value."),
        ({"symbol": SYMBOL, "qty": "1e3"}, "qty: Enter a whole number."),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    held: Route, data: dict[str, str], message: str
) -> None:
    response = _client(held.owner).post(_url("position_untrack", held), data, follow=True)
    [text] = _messages(response)
    assert text.startswith(f"Funded 150K: {message}")
    assert ExpectedPosition.objects.get(account=held.large).qty == 12


def test_untrack_moves_the_tracked_contracts_to_the_user(held: Route) -> None:
    response = _client(held.owner).post(
        _url("position_untrack", held), {"symbol": SYMBOL, "qty": "12"}, follow=True
    )
    assert _messages(response) == [
        "Funded 150K: +12 MNQH6 untracked: left to you; copying no longer exits or resizes it."
    ]
    row = ExpectedPosition.objects.get(account=held.large)
    assert (row.qty, row.untracked) == (0, 12)
    entry = JournalEntry.objects.get(event_type="position.untracked")
    assert (entry.actor_label, entry.actor_user_id, entry.account_id) == (
        "alice",
        held.owner.pk,
        held.large.pk,
    )
