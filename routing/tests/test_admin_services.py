"""Changes made in the Django admin go through the services (issue 14):
each asks for a written reason, refuses without one (nothing changed), and
is journaled with the staff member's name and id and the reason. History
(journal, copy orders, leader events, fills) cannot be edited there."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from routing.engine.limits import RouteLevel
from routing.models import CopyGroup, Quarantine, RiskLimit
from routing.services.copy_groups import copy_group_create
from routing.services.route_levels import route_level_set, route_lock
from tests.admin_forms import change_form_post

pytestmark = pytest.mark.django_db
REASON_NEEDED = "This field is required."


def _rows(owner: User, event_type: str) -> list[JournalEntry]:
    return list(
        JournalEntry.objects.filter(owner_id=owner.pk, event_type=event_type).order_by("pk")
    )


def _locked(route: Route) -> CopyGroup:
    route_lock(group=route.group, reason="incident: rejected exit", actor_label="engine")
    route.group.refresh_from_db()
    assert route.group.level == RouteLevel.LOCKED
    return route.group


def test_admin_leaving_level_4_without_a_reason_is_refused(
    route: Route, staff_client: Client
) -> None:
    # Arrange
    group = _locked(route)
    url = reverse("admin:routing_copygroup_change", args=[group.pk])
    # Act
    response = change_form_post(staff_client, url, level=RouteLevel.ACTIVE.value, reason="")
    # Assert: the form again with the error; the level and the journal unchanged.
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"] == [REASON_NEEDED]
    group.refresh_from_db()
    assert group.level == RouteLevel.LOCKED
    assert len(_rows(route.owner, EventType.ROUTE_LEVEL_CHANGED)) == 1  # the lock only


def test_admin_leaving_level_4_with_a_reason_is_journaled_with_staff_and_reason(
    route: Route, staff: User, staff_client: Client
) -> None:
    # Arrange
    group = _locked(route)
    url = reverse("admin:routing_copygroup_change", args=[group.pk])
    # Act
    response = change_form_post(
        staff_client, url, level=RouteLevel.ACTIVE.value, reason="broker confirmed the fix"
    )
    # Assert
    assert response.status_code == 302, response.context["adminform"].form.errors
    group.refresh_from_db()
    assert group.level == RouteLevel.ACTIVE
    assert group.level_reason == "broker confirmed the fix"
    row = _rows(route.owner, EventType.ROUTE_LEVEL_CHANGED)[-1]
    assert row.actor_user_id == staff.pk
    assert row.actor_label == "staff"
    assert row.before == {"level": RouteLevel.LOCKED.value}
    assert row.after["level"] == RouteLevel.ACTIVE.value
    assert row.after["reason"] == "broker confirmed the fix"


def test_admin_group_setting_change_is_journaled_with_staff_and_reason(
    route: Route, staff: User, staff_client: Client
) -> None:
    url = reverse("admin:routing_copygroup_change", args=[route.group.pk])
    # Act
    response = change_form_post(staff_client, url, copy_value="2", reason="owner asked by mail")
    # Assert
    assert response.status_code == 302
    route.group.refresh_from_db()
    assert route.group.copy_value == Decimal(2)
    (row,) = _rows(route.owner, EventType.COPY_GROUP_CHANGED)
    assert (row.actor_user_id, row.actor_label) == (staff.pk, "staff")
    assert row.extra_data == {"reason": "owner asked by mail"}
    assert "owner asked by mail" in row.message


def test_admin_refusal_from_a_service_shows_on_the_form_and_changes_nothing(
    route: Route, staff_client: Client
) -> None:
    # Arrange: the owner has another group; the admin unlocks this one (the
    # level service accepts) and renames it to the other's name (the
    # settings service refuses, after the level changed).
    other_leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(1000))
    copy_group_create(owner=route.owner, name="Other", leader=other_leader)
    group = _locked(route)
    url = reverse("admin:routing_copygroup_change", args=[group.pk])
    # Act
    response = change_form_post(
        staff_client, url, name="Other", level=RouteLevel.ACTIVE.value, reason="fixed"
    )
    # Assert: the service's error on the form; the level change undone with it.
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["name"] == ["you already have a group named 'Other'"]
    group.refresh_from_db()
    assert (group.name, group.level) == ("Evals", RouteLevel.LOCKED)
    assert len(_rows(route.owner, EventType.ROUTE_LEVEL_CHANGED)) == 1  # the lock only
    assert _rows(route.owner, EventType.COPY_GROUP_CHANGED) == []


def test_admin_risk_limit_change_needs_a_reason_and_is_journaled(
    route: Route, staff: User, staff_client: Client
) -> None:
    limit = RiskLimit.objects.get(account=route.small)
    url = reverse("admin:routing_risklimit_change", args=[limit.pk])
    # Act 1: no reason.
    refused = change_form_post(staff_client, url, daily_loss="500", reason="")
    # Assert 1
    assert refused.status_code == 200
    limit.refresh_from_db()
    assert limit.daily_loss == Decimal(375)
    before = len(_rows(route.owner, EventType.RISK_LIMIT_CHANGED))
    # Act 2: with a reason.
    done = change_form_post(staff_client, url, daily_loss="500", reason="firm raised the limit")
    # Assert 2
    assert done.status_code == 302
    limit.refresh_from_db()
    assert limit.daily_loss == Decimal(500)
    rows = _rows(route.owner, EventType.RISK_LIMIT_CHANGED)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row.actor_user_id, row.actor_label) == (staff.pk, "staff")
    assert {k: Decimal(v) for k, v in row.before.items()} == {"daily_loss": Decimal(375)}
    assert {k: Decimal(v) for k, v in row.after.items()} == {"daily_loss": Decimal(500)}
    assert row.extra_data == {"reason": "firm raised the limit"}


def test_admin_risk_limit_refused_by_the_service_shows_its_error(
    route: Route, staff_client: Client
) -> None:
    limit = RiskLimit.objects.get(account=route.small)
    url = reverse("admin:routing_risklimit_change", args=[limit.pk])
    # Act: a root both allowed and denied (the service's consistency check).
    response = change_form_post(
        staff_client, url, allowed_roots="MNQ", denied_roots="MNQ", reason="test"
    )
    # Assert
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert any("MNQ" in e for e in form.errors.get("denied_roots", [])), form.errors
    limit.refresh_from_db()
    assert limit.allowed_roots == ""


def test_admin_follower_ratio_change_is_journaled_with_staff_and_reason(
    route: Route, staff: User, staff_client: Client
) -> None:
    follower = route.small_follower
    url = reverse("admin:routing_follower_change", args=[follower.pk])
    # Act 1: no reason; then out of range; then right.
    refused = change_form_post(staff_client, url, ratio="2", reason="")
    out_of_range = change_form_post(staff_client, url, ratio="5000", reason="typo")
    done = change_form_post(staff_client, url, ratio="2", reason="account doubled")
    # Assert
    assert refused.status_code == 200
    assert out_of_range.status_code == 200
    assert done.status_code == 302
    follower.refresh_from_db()
    assert follower.ratio == Decimal(2)
    (row,) = _rows(route.owner, EventType.FOLLOWER_CHANGED)
    assert (row.actor_user_id, row.actor_label) == (staff.pk, "staff")
    assert {k: Decimal(v) for k, v in row.before.items()} == {"ratio": Decimal("0.5")}
    assert {k: Decimal(v) for k, v in row.after.items()} == {"ratio": Decimal(2)}
    assert row.extra_data == {"reason": "account doubled"}


def test_admin_follower_pause_goes_through_the_service(
    route: Route, staff: User, staff_client: Client
) -> None:
    follower = route.small_follower
    url = reverse("admin:routing_follower_change", args=[follower.pk])
    # Act: the checkbox cleared.
    response = change_form_post(staff_client, url, enabled=None, reason="account breached")
    # Assert
    assert response.status_code == 302
    follower.refresh_from_db()
    assert follower.enabled is False
    (row,) = _rows(route.owner, EventType.FOLLOWER_PAUSED)
    assert row.actor_user_id == staff.pk
    assert row.extra_data == {"reason": "account breached"}


def test_a_staff_member_without_the_permission_is_refused_by_the_service(
    route: Route,
) -> None:
    clerk = User.objects.create_user("clerk", password="clerk-password-1", is_staff=True)
    # Act / Assert: staff alone is not enough; the model's change permission is.
    with pytest.raises(ApplicationError, match="only the owner"):
        route_level_set(group=route.group, level=RouteLevel.TEST, actor=clerk, reason="x")
    route.group.refresh_from_db()
    assert route.group.level == RouteLevel.ACTIVE


@pytest.mark.parametrize(
    "model",
    [
        "journal_journalentry",
        "journal_fill",
        "routing_copyorder",
        "routing_leaderevent",
        "routing_contractspec",
        "routing_quarantine",
        "accounts_brokeraccount",
        "accounts_brokerlogin",
    ],
)
def test_history_is_read_only_in_the_admin(model: str, staff_client: Client) -> None:
    # The list is viewable; adding is refused.
    assert staff_client.get(reverse(f"admin:{model}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"admin:{model}_add")).status_code == 403


def test_a_journal_entry_cannot_be_changed_or_deleted_in_the_admin(
    route: Route, staff_client: Client
) -> None:
    entry = JournalEntry.objects.filter(owner_id=route.owner.pk).order_by("pk").first()
    assert entry is not None
    change = reverse("admin:journal_journalentry_change", args=[entry.pk])
    delete = reverse("admin:journal_journalentry_delete", args=[entry.pk])
    # Act
    page = staff_client.get(change)
    posted = staff_client.post(change, {"message": "rewritten"})
    deleted = staff_client.post(delete, {"post": "yes"})
    # Assert: shown read-only; the post and the delete refused; the row intact.
    assert page.status_code == 200
    assert 'name="message"' not in page.text
    assert posted.status_code == 403
    assert deleted.status_code == 403
    entry.refresh_from_db()
    assert entry.message != "rewritten"


@pytest.mark.parametrize("model", ["routing_copygroup", "routing_follower", "routing_risklimit"])
def test_service_models_cannot_be_added_or_deleted_in_the_admin(
    model: str, route: Route, staff_client: Client
) -> None:
    pk = {
        "routing_copygroup": route.group.pk,
        "routing_follower": route.small_follower.pk,
        "routing_risklimit": RiskLimit.objects.get(account=route.small).pk,
    }[model]
    assert staff_client.get(reverse(f"admin:{model}_add")).status_code == 403
    assert (
        staff_client.post(reverse(f"admin:{model}_delete", args=[pk]), {"post": "yes"}).status_code
        == 403
    )


def test_admin_quarantine_release_needs_a_reason_and_is_journaled(
    route: Route, staff: User, staff_client: Client
) -> None:
    quarantine = Quarantine.objects.create(
        follower=route.small_follower,
        symbol="MNQ",
        reason="entry rejected: insufficient margin",
        trading_date=date(2026, 3, 2),
    )
    url = reverse("admin:routing_quarantine_change", args=[quarantine.pk])
    # The staff reason starts empty (never the quarantine's own reason).
    page = staff_client.get(url)
    assert page.context["adminform"].form["reason"].value() in (None, "")
    # Act 1: release without a reason.
    refused = change_form_post(staff_client, url, release="on", reason="")
    # Assert 1
    assert refused.status_code == 200
    quarantine.refresh_from_db()
    assert quarantine.released_at is None
    # Act 2
    done = change_form_post(staff_client, url, release="on", reason="margin topped up")
    # Assert 2: released, journaled with staff and why; its own reason kept.
    assert done.status_code == 302
    quarantine.refresh_from_db()
    assert quarantine.released_at is not None
    assert quarantine.released_by == "staff"
    assert quarantine.reason == "entry rejected: insufficient margin"
    (row,) = _rows(route.owner, EventType.QUARANTINE_RELEASED)
    assert (row.actor_user_id, row.actor_label) == (staff.pk, "staff")
    assert row.message.endswith("quarantine released: margin topped up")
