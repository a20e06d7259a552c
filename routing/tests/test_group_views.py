"""Group rules in the dashboard: create, settings, followers, pause / resume,
delete; owners only (everyone else gets 404)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from journal.models import ExportImport, JournalEntry
from routing.models import CopyGroup, CopyOrder, Follower, ReplayJob
from routing.services.copy_groups import copy_group_create
from routing.services.group_rules import copy_group_pause, follower_pause
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db

# The settings every create/edit form posts besides name, mode and value.
SETTINGS = {"sizing_mode": "contracts", "partial_exit": "proportional", "quarantine": "on"}


@pytest.fixture
def alice_client(route: Route) -> Client:
    # Recently re-authenticated: these tests are about the actions themselves
    # (accounts.reauth's tests cover the confirmation).
    return reauthenticated_client(route.owner)


@pytest.fixture
def bob_client(bob: User) -> Client:
    # Recently re-authenticated: these tests are about the actions themselves
    # (accounts.reauth's tests cover the confirmation).
    return reauthenticated_client(bob)


@pytest.fixture
def spare(route: Route) -> BrokerAccount:
    """An account of alice's that neither leads nor follows."""
    return broker_account_create(
        owner=route.owner, name="Funded 50K", balance=Decimal(50_000), kind="funded"
    )


def _errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# -- only the owner ------------------------------------------------------------------

OWNER_ONLY = [
    ("get", "group_edit", False),
    ("post", "group_edit", False),
    ("post", "group_pause", False),
    ("post", "group_resume", False),
    ("get", "group_delete", False),
    ("post", "group_delete", False),
    ("post", "group_follower_add", False),
    ("post", "group_follower_pause", True),
    ("post", "group_follower_resume", True),
]


@pytest.mark.parametrize(("method", "name", "per_follower"), OWNER_ONLY)
def test_view_when_other_user_then_404_and_nothing_changes(
    route: Route, bob_client: Client, method: str, name: str, per_follower: bool
) -> None:
    # Arrange: bob posts data that would be valid for alice
    follower_pause(follower=route.large_follower, actor=route.owner)
    entries = JournalEntry.objects.count()
    args = [route.group.pk, route.small_follower.pk] if per_follower else [route.group.pk]
    data = {
        "name": "Hijacked",
        "copy_mode": "fixed",
        "copy_value": "5",
        "rounding": "nearest",
        **SETTINGS,
    }
    # Act
    response = getattr(bob_client, method)(reverse(name, args=args), data)
    # Assert
    assert response.status_code == 404
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.name, group.enabled, group.copy_mode) == ("Evals", True, "multiplier")
    assert Follower.objects.filter(group=group, enabled=True).count() == 1
    assert JournalEntry.objects.count() == entries


@pytest.mark.parametrize(("method", "name", "per_follower"), OWNER_ONLY)
def test_view_when_owner_then_not_404(
    route: Route, alice_client: Client, method: str, name: str, per_follower: bool
) -> None:
    args = [route.group.pk, route.small_follower.pk] if per_follower else [route.group.pk]
    response = getattr(alice_client, method)(reverse(name, args=args))
    assert response.status_code in (200, 302)


def test_follower_of_another_group_under_this_group_then_404(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    # Arrange: a second group of alice's with the spare account following it
    lead2 = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    other = copy_group_create(owner=route.owner, name="Other", leader=lead2)
    follower = Follower.objects.create(group=other, account=spare)
    # Act
    url = reverse("group_follower_pause", args=[route.group.pk, follower.pk])
    response = alice_client.post(url)
    # Assert
    assert response.status_code == 404
    assert Follower.objects.get(pk=follower.pk).enabled is True


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", reverse("group_create")),
        ("get", "/groups/1/delete/"),
        ("post", "/groups/1/pause/"),
    ],
)
def test_views_require_login(db: None, method: str, url: str) -> None:
    response = getattr(Client(), method)(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_pause_without_csrf_token_then_403(route: Route) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(route.owner)
    response = client.post(reverse("group_pause", args=[route.group.pk]))
    assert response.status_code == 403
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is True


def test_pause_is_post_only(route: Route, alice_client: Client) -> None:
    response = alice_client.get(reverse("group_pause", args=[route.group.pk]))
    assert response.status_code == 405
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is True


# -- create ----------------------------------------------------------------------------


def test_create_page_offers_only_accounts_that_follow_no_group(
    route: Route, alice_client: Client, spare: BrokerAccount, bob: User
) -> None:
    broker_account_create(owner=bob, name="Bob's", balance=Decimal(1))
    response = alice_client.get(reverse("group_create"))
    choices = response.context["form"].fields["leader"].widget.choices
    # The current leader may lead a second group; followers and bob's may not.
    assert choices[0][0] == ""
    assert [label for _, label in choices[1:]] == ["Funded 50K (funded)", "Lead (personal)"]
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_create_then_group_journaled_and_redirects_to_it(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    data = {
        "name": "Funded route",
        "leader": spare.pk,
        "copy_mode": "fixed",
        "copy_value": "2",
        "rounding": "nearest",
        **SETTINGS,
        "sizing_mode": "notional",
    }
    # Act
    response = alice_client.post(reverse("group_create"), data)
    # Assert
    group = CopyGroup.objects.get(name="Funded route")
    assert (group.sizing_mode, group.partial_exit, group.quarantine) == (
        "notional",
        "proportional",
        True,
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("group_detail", args=[group.pk])
    assert (group.owner, group.leader, group.copy_mode, group.copy_value, group.rounding) == (
        route.owner,
        spare,
        "fixed",
        Decimal(2),
        "nearest",
    )
    entry = JournalEntry.objects.get(event_type="copy_group.created", group_id=group.pk)
    assert entry.actor_label == "alice"
    # A route made on the dashboard starts at level 1 Test, journaled.
    assert (group.level, group.level_reason) == (1, "a new route starts at level 1 Test")
    assert entry.after["level"] == 1


def test_create_when_leader_follows_a_group_then_error_on_leader(
    route: Route, alice_client: Client
) -> None:
    data = {"name": "X", "leader": route.small.pk, "copy_mode": "multiplier", **SETTINGS}
    data |= {"copy_value": "1", "rounding": "entry_down_exit_up"}
    # Act
    response = alice_client.post(reverse("group_create"), data)
    # Assert
    assert response.status_code == 200
    assert _errors(response, "leader") == ["Eval 25K follows a group, so it cannot lead one"]
    assert "Eval 25K follows a group, so it cannot lead one" in response.content.decode()
    assert not CopyGroup.objects.filter(name="X").exists()


def test_create_when_leader_is_another_users_then_refused(
    route: Route, alice_client: Client, bob: User
) -> None:
    bobs = broker_account_create(owner=bob, name="Bob's", balance=Decimal(1))
    data = {"name": "X", "leader": bobs.pk, "copy_mode": "multiplier", **SETTINGS}
    data |= {"copy_value": "1", "rounding": "entry_down_exit_up"}
    response = alice_client.post(reverse("group_create"), data)
    assert _errors(response, "leader") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not CopyGroup.objects.filter(name="X").exists()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "Evals", "You already have a group named 'Evals'."),
        ("copy_value", "0", "Copy value must be greater than 0."),
        ("copy_mode", "martingale", "Select a valid choice. martingale is not one of"),
    ],
)
def test_create_when_invalid_then_error_on_field(
    route: Route, alice_client: Client, spare: BrokerAccount, field: str, value: str, error: str
) -> None:
    data = {"name": "New", "leader": spare.pk, "copy_mode": "multiplier", **SETTINGS}
    data |= {"copy_value": "1", "rounding": "entry_down_exit_up", field: value}
    response = alice_client.post(reverse("group_create"), data)
    assert response.status_code == 200
    assert _errors(response, field)[0].startswith(error)
    assert CopyGroup.objects.filter(owner=route.owner).count() == 1


# -- settings: the leader is fixed ----------------------------------------------------


def test_edit_form_does_not_offer_the_leader(route: Route, alice_client: Client) -> None:
    response = alice_client.get(reverse("group_edit", args=[route.group.pk]))
    form = response.context["form"]
    assert "leader" not in form.fields
    assert list(form.fields) == [
        "name",
        "copy_mode",
        "copy_value",
        "sizing_mode",
        "rounding",
        "auto_micro",
        "quarantine",
        "partial_exit",
        # route limits (issue "The risk engine", Route budget)
        "max_accounts",
        "max_contracts_per_account",
        "max_total_contracts",
        "max_session_loss",
        "stop_ticks",
        "slippage_ticks",
        "max_slippage_ticks",
    ]
    page = response.content.decode()
    assert 'name="leader"' not in page
    assert "the leader cannot change" in page


def test_edit_when_leader_posted_then_ignored_and_settings_saved(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    data = {"name": "Evals", "copy_mode": "multiplier", "copy_value": "2", **SETTINGS}
    data |= {"rounding": "always_down", "leader": spare.pk}
    # Act
    response = alice_client.post(reverse("group_edit", args=[route.group.pk]), data)
    # Assert
    assert response.status_code == 302
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert group.leader_id == route.leader.pk
    assert (group.copy_value, group.rounding) == (Decimal(2), "always_down")
    entry = JournalEntry.objects.get(event_type="copy_group.changed")
    assert entry.after == {"copy_value": "2", "rounding": "always_down"}
    assert "leader" not in entry.before


def test_edit_when_invalid_then_errors_and_heading_keeps_stored_name(
    route: Route, alice_client: Client
) -> None:
    data = {"name": "Renamed", "copy_mode": "multiplier", "copy_value": "-1", **SETTINGS}
    data |= {"rounding": "nearest"}
    response = alice_client.post(reverse("group_edit", args=[route.group.pk]), data)
    assert _errors(response, "copy_value") == ["Copy value must be greater than 0."]
    assert "<h1>Settings of Evals</h1>" in response.content.decode()
    assert CopyGroup.objects.get(pk=route.group.pk).name == "Evals"


# -- followers ------------------------------------------------------------------------------


def test_group_page_offers_only_free_accounts_as_followers(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    response = alice_client.get(reverse("group_detail", args=[route.group.pk]))
    choices = response.context["follower_form"].fields["account"].widget.choices
    assert choices[0][0] == ""
    assert [label for _, label in choices[1:]] == ["Funded 50K (funded)"]


def test_add_follower_then_follows_with_ratio(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    url = reverse("group_follower_add", args=[route.group.pk])
    response = alice_client.post(url, {"account": spare.pk, "ratio": "2.5"}, follow=True)
    follower = Follower.objects.get(account=spare)
    assert (follower.group_id, follower.ratio) == (route.group.pk, Decimal("2.5"))
    assert "Funded 50K now follows Evals at ratio 2.5." in _messages(response)


@pytest.mark.parametrize(
    ("ratio", "error"),
    [
        ("0.05", "Ensure this value is greater than or equal to 0.1."),
        ("1000.5", "Ensure this value is less than or equal to 1000."),
        ("abc", "Enter a number."),
    ],
)
def test_add_follower_when_ratio_out_of_range_then_error_on_ratio(
    route: Route, alice_client: Client, spare: BrokerAccount, ratio: str, error: str
) -> None:
    url = reverse("group_follower_add", args=[route.group.pk])
    response = alice_client.post(url, {"account": spare.pk, "ratio": ratio})
    assert response.status_code == 200
    assert response.context["follower_form"].errors["ratio"] == [error]
    page = response.content.decode()
    assert error in page
    assert not Follower.objects.filter(account=spare).exists()
    # The page's buttons come back to the group page, not to this POST-only URL.
    assert f'name="next" value="{url}"' not in page
    assert f'name="next" value="{reverse("group_detail", args=[route.group.pk])}"' in page


@pytest.mark.parametrize(
    ("account", "error"),
    [
        ("small", "Eval 25K already follows 'Evals'"),
        ("leader", "Lead leads a group, so it cannot follow one"),
    ],
)
def test_add_follower_when_account_leads_or_follows_then_error_on_account(
    route: Route, alice_client: Client, account: str, error: str
) -> None:
    url = reverse("group_follower_add", args=[route.group.pk])
    response = alice_client.post(url, {"account": getattr(route, account).pk, "ratio": "1"})
    assert response.status_code == 200
    assert response.context["follower_form"].errors["account"] == [error]
    assert error.replace("'", "&#x27;") in response.content.decode()
    assert Follower.objects.filter(group=route.group).count() == 2


def test_add_follower_when_already_following_another_group_then_names_it(
    route: Route, alice_client: Client, spare: BrokerAccount
) -> None:
    lead2 = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    other = copy_group_create(owner=route.owner, name="Other", leader=lead2)
    url = reverse("group_follower_add", args=[other.pk])
    response = alice_client.post(url, {"account": route.large.pk, "ratio": "1"})
    assert response.context["follower_form"].errors["account"] == [
        "Funded 150K already follows 'Evals'"
    ]
    assert not other.followers.exists()


# -- pause / resume ----------------------------------------------------------------------


def test_pause_group_then_paused_badge_resume_button_and_journal(
    route: Route, alice_client: Client
) -> None:
    url = reverse("group_pause", args=[route.group.pk])
    # Act
    response = alice_client.post(url, follow=True)
    # Assert
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is False
    page = response.content.decode()
    assert 'data-testid="group-paused">Paused</span>' in page
    assert reverse("group_resume", args=[route.group.pk]) in page
    assert reverse("group_pause", args=[route.group.pk]) not in page
    assert any(m.startswith("Paused Evals: the leader's new entries") for m in _messages(response))
    entry = JournalEntry.objects.get(event_type="copy_group.paused")
    assert (entry.actor_user_id, entry.actor_label) == (route.owner.pk, "alice")


def test_pause_group_twice_then_says_so_and_journals_once(
    route: Route, alice_client: Client
) -> None:
    url = reverse("group_pause", args=[route.group.pk])
    alice_client.post(url)
    response = alice_client.post(url, follow=True)
    assert "Evals was already paused." in _messages(response)
    assert JournalEntry.objects.filter(event_type="copy_group.paused").count() == 1


def test_resume_group_then_running_and_journaled(route: Route, alice_client: Client) -> None:
    copy_group_pause(group=route.group, actor=route.owner)
    response = alice_client.post(reverse("group_resume", args=[route.group.pk]), follow=True)
    assert CopyGroup.objects.get(pk=route.group.pk).enabled is True
    assert 'data-testid="group-paused"' not in response.content.decode()
    assert JournalEntry.objects.filter(event_type="copy_group.resumed").count() == 1


def test_pause_follower_then_badge_and_journal(route: Route, alice_client: Client) -> None:
    url = reverse("group_follower_pause", args=[route.group.pk, route.small_follower.pk])
    # Act
    response = alice_client.post(url, follow=True)
    # Assert
    assert Follower.objects.get(pk=route.small_follower.pk).enabled is False
    assert Follower.objects.get(pk=route.large_follower.pk).enabled is True
    page = response.content.decode()
    assert page.count('data-testid="follower-paused"') == 1
    assert reverse("group_follower_resume", args=[route.group.pk, route.small_follower.pk]) in page
    entry = JournalEntry.objects.get(event_type="follower.paused")
    assert (entry.account_id, entry.actor_user_id) == (route.small.pk, route.owner.pk)


def test_resume_follower_twice_then_journals_once(route: Route, alice_client: Client) -> None:
    follower_pause(follower=route.small_follower, actor=route.owner)
    url = reverse("group_follower_resume", args=[route.group.pk, route.small_follower.pk])
    alice_client.post(url)
    response = alice_client.post(url, follow=True)
    assert "Eval 25K was already running." in _messages(response)
    assert Follower.objects.get(pk=route.small_follower.pk).enabled is True
    assert JournalEntry.objects.filter(event_type="follower.resumed").count() == 1


def test_pause_from_dashboard_then_back_to_dashboard_with_badge(
    route: Route, alice_client: Client
) -> None:
    # Arrange: a second group, so the dashboard lists groups instead of redirecting
    lead2 = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    other = copy_group_create(owner=route.owner, name="Other", leader=lead2)
    url = reverse("group_pause", args=[other.pk])
    # Act
    response = alice_client.post(url, {"next": reverse("dashboard")})
    page = alice_client.get(response["Location"]).content.decode()
    # Assert
    assert response["Location"] == reverse("dashboard")
    assert page.count('<span class="badge paused">Paused</span>') == 1
    assert reverse("group_resume", args=[other.pk]) in page
    assert reverse("group_pause", args=[route.group.pk]) in page


def test_pause_when_next_is_another_site_then_back_to_group(
    route: Route, alice_client: Client
) -> None:
    url = reverse("group_pause", args=[route.group.pk])
    response = alice_client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == reverse("group_detail", args=[route.group.pk])


# -- delete -------------------------------------------------------------------------------


def _running_replay(route: Route) -> ReplayJob:
    record = ExportImport.objects.create(
        owner=route.owner,
        file_name="grid.csv",
        format="ninjatrader_executions",
        timezone="UTC",
        replayable=True,
        fills=[{"event_id": "e1"}],
        fill_count=1,
    )
    return ReplayJob.objects.create(
        owner=route.owner,
        group=route.group,
        export_import=record,
        label="grid.csv",
        status=ReplayJob.Status.RUNNING,
    )


def test_delete_page_names_group_leader_followers_and_keeps_journal(
    route: Route, alice_client: Client
) -> None:
    response = alice_client.get(reverse("group_delete", args=[route.group.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Delete copy group Evals?</h1>" in page
    assert "Leader <strong>Lead</strong>" in page
    assert "Eval 25K" in page
    assert "ratio 0.5" in page
    assert "Funded 150K" in page
    assert "ratio 3" in page
    assert "The journal is kept:</strong> its 3 entries" in page
    assert 'name="csrfmiddlewaretoken"' in page
    # GET deletes nothing.
    assert CopyGroup.objects.filter(pk=route.group.pk).exists()


def test_delete_then_dashboard_message_followers_orders_gone_journal_kept(
    route: Route, alice_client: Client
) -> None:
    from datetime import UTC, datetime

    from routing.engine.types import LeaderFill, Side
    from routing.services.leader_events import leader_event_ingest

    fill = LeaderFill("f1", "lead", "MNQH5", Side.BUY, 2, Decimal("21539.50"), datetime.now(UTC))
    leader_event_ingest(account=route.leader, fill=fill, source="test")
    group_id = route.group.pk
    journal_ids = set(JournalEntry.objects.filter(group_id=group_id).values_list("pk", flat=True))
    assert CopyOrder.objects.filter(group_id=group_id).count() == 2
    # Act
    response = alice_client.post(reverse("group_delete", args=[group_id]))
    # Assert
    assert response["Location"] == reverse("dashboard")
    page = alice_client.get(reverse("dashboard")).content.decode()
    assert "Deleted Evals. Its journal entries are kept." in page
    assert not CopyGroup.objects.filter(pk=group_id).exists()
    assert not Follower.objects.filter(group_id=group_id).exists()
    assert not CopyOrder.objects.filter(group_id=group_id).exists()
    remaining = set(JournalEntry.objects.filter(group_id=group_id).values_list("pk", flat=True))
    assert journal_ids < remaining
    deleted = JournalEntry.objects.get(event_type="copy_group.deleted")
    assert [f["account"] for f in deleted.before["followers"]] == ["Eval 25K", "Funded 150K"]
    journal_page = alice_client.get(reverse("journal")).content.decode()
    assert "Copy group &#x27;Evals&#x27; deleted by alice" in journal_page


def test_delete_when_replay_running_then_refused_with_message(
    route: Route, alice_client: Client
) -> None:
    _running_replay(route)
    url = reverse("group_delete", args=[route.group.pk])
    # Act
    response = alice_client.post(url, follow=True)
    # Assert
    assert CopyGroup.objects.filter(pk=route.group.pk).exists()
    assert Follower.objects.filter(group=route.group).count() == 2
    assert not JournalEntry.objects.filter(event_type="copy_group.deleted").exists()
    assert response.redirect_chain == [(url, 302)]
    assert any("while a replay is streaming into it" in m for m in _messages(response))
    page = response.content.decode()
    assert 'data-testid="replay-running"' in page
    assert "Delete Evals</button>" not in page


def test_dashboard_when_no_groups_then_links_to_create(db: None) -> None:
    user = User.objects.create_user("carol", password="carol-password-1")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("group_create")}"' in page
    assert "admin" not in page.split("<main>")[1]
