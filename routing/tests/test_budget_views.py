"""Route budget in the dashboard: the pre-session check page, level changes,
the session review, route limits on the group form, per-follower risk limits
and the journal's filters. Owners only (everyone else gets 404)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route, fill_stored
from journal.models import EventType, JournalEntry
from journal.services import journal_record
from routing.engine.limits import RouteLevel
from routing.engine.sessions import trading_date
from routing.models import CopyGroup, LeaderEvent, RiskLimit
from routing.services.route_levels import route_lock
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db
D = Decimal

# Every field of the risk limits form, as a browser posts it (checkbox off).
LIMITS = {
    "daily_loss": "1000",
    "daily_profit_target": "",
    "max_contracts": "4",
    "max_position": "3",
    "max_open_positions": "2",
    "position_cap_pct": "",
    "exposure_cap": "",
    "on_breach": "scale_down",
    "allowed_roots": "mnq, mes",
    "denied_roots": "",
    "direction": "long_only",
    "max_drawdown": "2500",
    "drawdown_mode": "trailing_intraday",
    "profit_target": "3000",
    "consistency_pct": "40",
}
# The group settings form's fields besides the route limits.
SETTINGS = {
    "name": "Evals",
    "copy_mode": "multiplier",
    "copy_value": "1",
    "sizing_mode": "contracts",
    "rounding": "entry_down_exit_up",
    "partial_exit": "proportional",
    "quarantine": "on",
}


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


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _entries(event_type: str) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=event_type).order_by("pk"))


# -- only the owner ------------------------------------------------------------------------

OWNER_ONLY = [
    ("get", "group_budget", False),
    ("post", "group_level", False),
    ("post", "group_review", False),
    ("get", "follower_limits", True),
    ("post", "follower_limits", True),
]


@pytest.mark.parametrize(("method", "name", "per_follower"), OWNER_ONLY)
def test_other_user_then_404_and_nothing_changes(
    route: Route, bob_client: Client, method: str, name: str, per_follower: bool
) -> None:
    entries = JournalEntry.objects.count()
    args = [route.group.pk, route.small_follower.pk] if per_follower else [route.group.pk]
    data = {"level": "0", "reason": "hijack", **LIMITS}
    response = getattr(bob_client, method)(reverse(name, args=args), data)
    assert response.status_code == 404
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.level, group.reviewed_on) == (RouteLevel.ACTIVE.value, None)
    assert RiskLimit.objects.get(account=route.small).daily_loss == D(375)
    assert JournalEntry.objects.count() == entries


@pytest.mark.parametrize(("method", "name", "per_follower"), OWNER_ONLY)
def test_anonymous_then_login_redirect(
    route: Route, method: str, name: str, per_follower: bool
) -> None:
    args = [route.group.pk, route.small_follower.pk] if per_follower else [route.group.pk]
    response = getattr(Client(), method)(reverse(name, args=args))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_limits_of_a_follower_of_another_group_then_404(route: Route, alice_client: Client) -> None:
    from routing.services.copy_groups import copy_group_create, follower_add

    lead2 = broker_account_create(owner=route.owner, name="Lead 2", balance=D(1000))
    other_account = broker_account_create(owner=route.owner, name="Other", balance=D(1000))
    other = copy_group_create(owner=route.owner, name="Other", leader=lead2)
    follower = follower_add(group=other, account=other_account)
    url = reverse("follower_limits", args=[route.group.pk, follower.pk])
    assert alice_client.get(url).status_code == 404


# -- the pre-session check page ----------------------------------------------------------------


def test_budget_page_answers_each_question(route: Route, alice_client: Client) -> None:
    # Arrange: Eval 25K (daily loss 375) lost 275 this session: cushion 100.
    # Route: MNQ, stop 40 + 4 slippage ticks, 10 contracts max: 22.00 x 10 = 220.00.
    now = timezone.now()
    fill_stored(
        account=route.small,
        broker_fill_id="x1",
        symbol="MNQH5",
        side="sell",
        qty=1,
        price=D(20000),
        realized_pnl=D(-275),
        filled_at=now,  # always within the session holding now
    )
    LeaderEvent.objects.create(
        account=route.leader,
        external_id="e1",
        symbol="MNQH5",
        side="buy",
        qty=1,
        price=D(20000),
        occurred_at=now,
        source="test",
    )
    CopyGroup.objects.filter(pk=route.group.pk).update(
        stop_ticks=40, slippage_ticks=4, max_total_contracts=10, max_session_loss=D(1500)
    )
    # Act
    response = alice_client.get(reverse("group_budget", args=[route.group.pk]))
    # Assert
    assert response.status_code == 200
    budget = response.context["budget"]
    assert budget.exposure == D("220.00")
    assert budget.weakest.account_name == "Eval 25K" and budget.weakest.cushion == D(100)
    page = response.content.decode()
    assert "Which accounts receive orders this session?" in page
    assert "<strong>Eval 25K</strong>, <strong>Funded 150K</strong>" in page
    assert "$22.00" in page and "(40 stop + 4 slippage ticks) x 0.50 tick value of MNQ" in page
    assert "$220.00" in page
    assert "<strong>10</strong>" in page  # max total
    assert "$1,500.00" in page  # max route loss
    assert "Eval 25K</strong>: $100.00 to its" in page
    assert "still eligible" in page
    assert "exposure $220.00 &gt; cushion $100.00" in page
    assert "Mark reviewed for this session" in page
    assert trading_date(timezone.now()).isoformat() in page


def test_budget_page_says_unknown_never_zero(route: Route, alice_client: Client) -> None:
    # No leader fill, no stop distance, no total cap: nothing to compute with.
    response = alice_client.get(reverse("group_budget", args=[route.group.pk]))
    page = response.content.decode()
    assert "contract unknown" in page
    assert "unbounded" in page
    assert "cannot be computed" in page
    # Unknown figures are said to be unknown, never shown as $0.00.
    for row in ("answer-risk", "answer-exposure", "answer-total", "answer-exceeds"):
        text = page.split(f'data-testid="{row}"')[1].split("</tr>")[0]
        assert "$0.00" not in text
        assert "unknown" in text.lower() or "unbounded" in text


def test_group_page_links_budget_and_limits_and_shows_risk_state(
    route: Route, alice_client: Client
) -> None:
    route_lock(group=route.group, reason="slippage 9 ticks > max 4", actor_label="risk")
    response = alice_client.get(reverse("group_detail", args=[route.group.pk]))
    page = response.content.decode()
    assert f'href="{reverse("group_budget", args=[route.group.pk])}"' in page
    assert reverse("follower_limits", args=[route.group.pk, route.small_follower.pk]) in page
    assert page.count('data-testid="risk-state"') == 2
    assert "Eligible" in page
    assert "4 Locked" in page


# -- level changes ---------------------------------------------------------------------------


def test_level_change_then_journaled_with_who_and_why(route: Route, alice_client: Client) -> None:
    url = reverse("group_level", args=[route.group.pk])
    response = alice_client.post(url, {"level": "1", "reason": "first day on this route"})
    assert response.status_code == 302
    assert response["Location"] == reverse("group_budget", args=[route.group.pk])
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.level, group.level_reason) == (1, "first day on this route")
    (entry,) = _entries(EventType.ROUTE_LEVEL_CHANGED)
    assert (entry.actor_label, entry.actor_user_id) == ("alice", route.owner.pk)
    assert entry.message == "Evals: level 3 Active \u2192 1 Test: first day on this route"
    assert (entry.before, entry.after) == (
        {"level": 3},
        {"level": 1, "reason": "first day on this route"},
    )
    # The same level again: said so, nothing journaled.
    response = alice_client.post(url, {"level": "1", "reason": ""}, follow=True)
    assert "Evals was already at level 1 Test." in _messages(response)
    assert len(_entries(EventType.ROUTE_LEVEL_CHANGED)) == 1


def test_leaving_locked_without_reason_refused_on_the_form(
    route: Route, alice_client: Client
) -> None:
    route_lock(group=route.group, reason="rejected order", actor_label="risk")
    entries = JournalEntry.objects.count()
    url = reverse("group_level", args=[route.group.pk])
    response = alice_client.post(url, {"level": "3", "reason": "   "})
    assert response.status_code == 200
    form = response.context["level_form"]
    assert form.non_field_errors() == ["leaving level 4 Locked needs a written reason"]
    assert "leaving level 4 Locked needs a written reason" in response.content.decode()
    assert CopyGroup.objects.get(pk=route.group.pk).level == 4
    assert JournalEntry.objects.count() == entries
    # With a reason it unlocks, journaled.
    response = alice_client.post(url, {"level": "3", "reason": "broker confirmed the reject"})
    assert response.status_code == 302
    assert CopyGroup.objects.get(pk=route.group.pk).level == 3
    assert _entries(EventType.ROUTE_LEVEL_CHANGED)[-1].message.endswith(
        "4 Locked \u2192 3 Active: broker confirmed the reject"
    )


def test_level_out_of_range_then_form_error(route: Route, alice_client: Client) -> None:
    response = alice_client.post(reverse("group_level", args=[route.group.pk]), {"level": "7"})
    assert response.status_code == 200
    assert response.context["level_form"].errors["level"][0].startswith("Select a valid choice")
    assert CopyGroup.objects.get(pk=route.group.pk).level == 3


# -- the session review ------------------------------------------------------------------------


def test_review_marks_the_current_trading_date_once(route: Route, alice_client: Client) -> None:
    url = reverse("group_review", args=[route.group.pk])
    response = alice_client.post(url, follow=True)
    day = trading_date(timezone.now())
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.reviewed_on, group.reviewed_by) == (day, "alice")
    assert f"Evals marked reviewed for session {day}." in _messages(response)
    assert response.context["budget"].reviewed
    (entry,) = _entries(EventType.ROUTE_REVIEWED)
    assert entry.message == f"Evals: marked reviewed for session {day}"
    response = alice_client.post(url, follow=True)
    assert "Evals was already reviewed for this session." in _messages(response)
    assert len(_entries(EventType.ROUTE_REVIEWED)) == 1


def test_review_is_post_only(route: Route, alice_client: Client) -> None:
    response = alice_client.get(reverse("group_review", args=[route.group.pk]))
    assert response.status_code == 405


# -- route limits on the group forms -------------------------------------------------------------


def test_edit_route_limits_then_saved_and_journaled(route: Route, alice_client: Client) -> None:
    data = {**SETTINGS, "max_accounts": "2", "max_total_contracts": "6", "stop_ticks": "40"}
    data |= {"slippage_ticks": "4", "max_session_loss": "1500"}
    response = alice_client.post(reverse("group_edit", args=[route.group.pk]), data)
    assert response.status_code == 302
    group = CopyGroup.objects.get(pk=route.group.pk)
    assert (group.max_accounts, group.max_total_contracts, group.stop_ticks) == (2, 6, 40)
    assert (group.slippage_ticks, group.max_session_loss) == (4, D(1500))
    (entry,) = _entries(EventType.COPY_GROUP_CHANGED)
    assert entry.after == {
        "max_accounts": 2,
        "max_total_contracts": 6,
        "max_session_loss": "1500",
        "stop_ticks": 40,
        "slippage_ticks": 4,
    }
    assert entry.before["max_accounts"] is None


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_accounts", "0", "Must be greater than 0 (leave empty for no limit)."),
        ("stop_ticks", "0", "Must be greater than 0 (leave empty for no limit)."),
        ("max_session_loss", "-10", "Must be greater than 0 (leave empty for no limit)."),
        ("slippage_ticks", "-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_edit_route_limits_invalid_then_error_on_field(
    route: Route, alice_client: Client, field: str, value: str, error: str
) -> None:
    response = alice_client.post(
        reverse("group_edit", args=[route.group.pk]), {**SETTINGS, field: value}
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    assert not _entries(EventType.COPY_GROUP_CHANGED)


def test_create_with_route_limits_then_set_and_journaled(
    route: Route, alice_client: Client
) -> None:
    spare = broker_account_create(owner=route.owner, name="Spare", balance=D(50_000))
    data = {**SETTINGS, "name": "Capped", "leader": spare.pk, "max_total_contracts": "4"}
    response = alice_client.post(reverse("group_create"), data)
    group = CopyGroup.objects.get(name="Capped")
    assert response["Location"] == reverse("group_detail", args=[group.pk])
    assert (group.max_total_contracts, group.slippage_ticks) == (4, 0)
    (entry,) = JournalEntry.objects.filter(event_type="copy_group.changed", group_id=group.pk)
    assert entry.after == {"max_total_contracts": 4}


# -- risk limits of a follower ------------------------------------------------------------------


def test_limits_page_shows_every_field_with_stored_values(
    route: Route, alice_client: Client
) -> None:
    response = alice_client.get(
        reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    )
    form = response.context["form"]
    assert set(form.fields) == set(LIMITS) | {"flatten_on_breach"}
    assert form.initial["daily_loss"] == D(375)
    assert "Risk limits of Eval 25K" in response.content.decode()


def test_limits_form_saves_every_field_and_journals(route: Route, alice_client: Client) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(url, {**LIMITS, "flatten_on_breach": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("group_detail", args=[route.group.pk])
    limit = RiskLimit.objects.get(account=route.small)
    assert (limit.daily_loss, limit.max_contracts, limit.max_position) == (D(1000), 4, 3)
    assert (limit.max_open_positions, limit.on_breach, limit.direction) == (
        2,
        "scale_down",
        "long_only",
    )
    assert (limit.allowed_roots, limit.max_drawdown, limit.drawdown_mode) == (
        "MNQ,MES",
        D(2500),
        "trailing_intraday",
    )
    assert (limit.profit_target, limit.consistency_pct, limit.flatten_on_breach) == (
        D(3000),
        D(40),
        True,
    )
    entry = _entries(EventType.RISK_LIMIT_CHANGED)[-1]
    assert entry.actor_label == "alice"
    assert D(entry.before["daily_loss"]) == D(375)
    assert D(entry.after["daily_loss"]) == D(1000)
    # Posting the same values again changes nothing.
    count = JournalEntry.objects.count()
    response = alice_client.post(url, {**LIMITS, "flatten_on_breach": "on"}, follow=True)
    assert "Nothing changed in the risk limits of Eval 25K." in _messages(response)
    assert JournalEntry.objects.count() == count


def test_limits_form_for_an_account_without_limits_creates_them(
    route: Route, alice_client: Client
) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.large_follower.pk])
    response = alice_client.post(url, {**LIMITS, "daily_loss": "4500"})
    assert response.status_code == 302
    assert RiskLimit.objects.get(account=route.large).daily_loss == D(4500)


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"daily_loss": "0"}, "daily_loss", "Must be greater than 0 (leave empty for no limit)."),
        ({"max_position": "0"}, "max_position", "Must be greater than 0"),
        ({"position_cap_pct": "150"}, "position_cap_pct", "A percent greater than 0, at most 100."),
        ({"consistency_pct": "0"}, "consistency_pct", "A percent greater than 0, at most 100."),
        ({"max_contracts": "two"}, "max_contracts", "Enter a whole number."),
        ({"direction": "sideways"}, "direction", "Select a valid choice."),
        # Checked by the service with the limits together.
        ({"denied_roots": "MES"}, "denied_roots", "roots both allowed and denied: MES"),
        ({"allowed_roots": "MNQ, E$"}, "allowed_roots", "'E$' is not a product root"),
    ],
)
def test_limits_form_invalid_then_error_on_field_and_nothing_saved(
    route: Route, alice_client: Client, changes: dict[str, str], field: str, error: str
) -> None:
    entries = JournalEntry.objects.count()
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(url, {**LIMITS, **changes})
    assert response.status_code == 400
    assert response.context["form"].errors[field][0].startswith(error)
    assert error.split(" (")[0] in response.content.decode().replace("&#x27;", "'")
    limit = RiskLimit.objects.get(account=route.small)
    assert (limit.daily_loss, limit.max_contracts) == (D(375), 5)
    assert JournalEntry.objects.count() == entries


# -- the journal page ---------------------------------------------------------------------------

NEW_EVENTS = [
    EventType.COPY_ORDER_SCALED,
    EventType.ROUTE_LEVEL_CHANGED,
    EventType.ROUTE_REVIEWED,
    EventType.INCIDENT,
    EventType.ACCOUNT_HALTED,
    EventType.ACCOUNT_FLATTENED,
    EventType.FLATTEN_REQUESTED,
    EventType.FLATTEN_DONE,
    EventType.SESSION_RESET,
]


def test_journal_shows_the_risk_events_with_their_message(
    route: Route, alice_client: Client
) -> None:
    for event in NEW_EVENTS:
        journal_record(
            owner_id=route.owner.pk,
            event_type=event,
            group_id=route.group.pk,
            actor_label="risk",
            message=f"message of {event.value}: why it happened",
        )
    page = alice_client.get(reverse("journal")).content.decode()
    for event in NEW_EVENTS:
        assert f'<code title="{event.label}">{event.value}</code>' in page
        assert f"message of {event.value}: why it happened" in page


def test_journal_filters_by_event_type_and_group(
    route: Route, alice_client: Client, bob: User
) -> None:
    journal_record(
        owner_id=route.owner.pk,
        event_type=EventType.ROUTE_REVIEWED,
        group_id=route.group.pk,
        actor_label="alice",
        message="reviewed Evals",
    )
    journal_record(
        owner_id=route.owner.pk,
        event_type=EventType.ROUTE_REVIEWED,
        group_id=route.group.pk + 1000,
        actor_label="alice",
        message="reviewed a deleted group",
    )
    journal_record(
        owner_id=bob.pk,
        event_type=EventType.ROUTE_REVIEWED,
        group_id=route.group.pk,
        actor_label="bob",
        message="bob's review",
    )
    url = reverse("journal")
    response = alice_client.get(url, {"event_type": "route.reviewed"})
    assert [e.message for e in response.context["entries"]] == [
        "reviewed a deleted group",
        "reviewed Evals",
    ]
    response = alice_client.get(url, {"event_type": "route.reviewed", "group": route.group.pk})
    assert [e.message for e in response.context["entries"]] == ["reviewed Evals"]
    response = alice_client.get(url, {"group": route.group.pk})
    assert "follower.added" in {e.event_type for e in response.context["entries"]}
    assert "bob's review" not in response.content.decode()
    # An unknown event type: the form says so and nothing is filtered.
    response = alice_client.get(url, {"event_type": "nope"})
    assert response.context["filter_form"].errors["event_type"]
    assert (
        len(response.context["entries"])
        == JournalEntry.objects.filter(owner_id=route.owner.pk).count()
    )
