"""The settings pages that cover what only the route file could set before
(issue 13): contract mappings, follower sizing (percent of balance) and the
daily profit target on the risk limits form. Good input is saved and
journaled, bad input answers 400 with the field's error and saves nothing,
another user's group or follower is 404."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import BrokerAccount, User
from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry
from routing.engine.types import LeaderFill, Side
from routing.models import ContractMapping, CopyOrder, Follower, RiskLimit
from routing.services.contract_mappings import contract_mappings_set
from routing.services.copy_groups import copy_group_create
from routing.services.leader_events import leader_event_ingest
from routing.services.route_state import route_config_key
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def alice_client(route: Route) -> Client:
    return reauthenticated_client(route.owner)


@pytest.fixture
def bob_client(bob: User) -> Client:
    return reauthenticated_client(bob)


def _entries(event_type: str) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type=event_type).order_by("pk"))


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _rows(*pairs: tuple[str, str], delete: tuple[int, ...] = (), initial: int = 0) -> dict:
    """The mappings formset as a browser posts it: ``pairs`` row by row."""
    data = {
        "mappings-TOTAL_FORMS": str(len(pairs)),
        "mappings-INITIAL_FORMS": str(initial),
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "50",
    }
    for i, (leader, follower) in enumerate(pairs):
        data[f"mappings-{i}-leader_root"] = leader
        data[f"mappings-{i}-follower_root"] = follower
        if i in delete:
            data[f"mappings-{i}-DELETE"] = "on"
    return data


# -- owners only ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("page", ["group_mappings", "follower_settings", "follower_limits"])
def test_another_users_group_or_follower_is_404(
    route: Route, bob_client: Client, method: str, page: str
) -> None:
    args = [route.group.pk]
    if page != "group_mappings":
        args.append(route.small_follower.pk)
    response = getattr(bob_client, method)(reverse(page, args=args), _rows(("NQ", "MNQ")))
    assert response.status_code == 404
    assert not ContractMapping.objects.exists()
    assert not _entries(EventType.CONTRACT_MAPPINGS_CHANGED)


def test_a_follower_of_another_group_is_404_under_this_one(
    route: Route, alice_client: Client
) -> None:
    # Alice's second group: its follower is not reachable through the first.
    other_leader = broker_account_create(owner=route.owner, name="Lead 2", balance=D(1000))
    other = copy_group_create(owner=route.owner, name="Other", leader=other_leader)
    url = reverse("follower_settings", args=[other.pk, route.small_follower.pk])
    assert alice_client.get(url).status_code == 404


# -- contract mappings --------------------------------------------------------------------


def test_mappings_page_lists_products_and_stored_pairs(route: Route, alice_client: Client) -> None:
    ContractMapping.objects.create(group=route.group, leader_root="ES", follower_root="MES")
    response = alice_client.get(reverse("group_mappings", args=[route.group.pk]))
    assert response.status_code == 200
    formset = response.context["formset"]
    # The stored row and two empty ones.
    assert [f.initial for f in formset.forms][:1] == [{"leader_root": "ES", "follower_root": "MES"}]
    assert len(formset.forms) == 3
    page = response.content.decode()
    assert "NQ · E-mini Nasdaq-100" in page and "ES &rarr; MES" in page


def test_adding_a_mapping_saves_journals_and_bumps_the_route_version(
    route: Route, alice_client: Client
) -> None:
    # Arrange
    version = route_config_key()
    # Act: NQ -> MNQ in the first row, lower case as typed by a script.
    response = alice_client.post(
        reverse("group_mappings", args=[route.group.pk]),
        _rows(("NQ", "MNQ"), ("", "")),
        follow=True,
    )
    # Assert
    assert response.redirect_chain[-1][0] == reverse("group_mappings", args=[route.group.pk])
    assert "Saved the contract mappings of Evals." in _messages(response)
    assert list(ContractMapping.objects.values_list("leader_root", "follower_root")) == [
        ("NQ", "MNQ")
    ]
    (entry,) = _entries(EventType.CONTRACT_MAPPINGS_CHANGED)
    assert (entry.before, entry.after, entry.group_id, entry.actor_label) == (
        {},
        {"NQ": "MNQ"},
        route.group.pk,
        "alice",
    )
    assert entry.message == "Contract mappings of 'Evals' changed: none \u2192 NQ \u2192 MNQ"
    assert route_config_key() != version


def test_editing_and_removing_rows_replaces_the_set(route: Route, alice_client: Client) -> None:
    for leader, follower in (("ES", "MES"), ("NQ", "MNQ")):
        ContractMapping.objects.create(
            group=route.group, leader_root=leader, follower_root=follower
        )
    url = reverse("group_mappings", args=[route.group.pk])
    # ES row removed, NQ now to ES (another underlying: allowed), CL -> MCL added.
    data = _rows(("ES", "MES"), ("NQ", "ES"), ("CL", "MCL"), delete=(0,), initial=2)
    assert alice_client.post(url, data).status_code == 302
    pairs = dict(ContractMapping.objects.values_list("leader_root", "follower_root"))
    assert pairs == {"CL": "MCL", "NQ": "ES"}
    (entry,) = _entries(EventType.CONTRACT_MAPPINGS_CHANGED)
    assert (entry.before, entry.after) == ({"ES": "MES", "NQ": "MNQ"}, {"CL": "MCL", "NQ": "ES"})
    # The same set again: nothing written, nothing journaled.
    same = _rows(("CL", "MCL"), ("NQ", "ES"), initial=2)
    response = alice_client.post(url, same, follow=True)
    assert "Nothing changed in the contract mappings of Evals." in _messages(response)
    assert len(_entries(EventType.CONTRACT_MAPPINGS_CHANGED)) == 1


@pytest.mark.parametrize(
    ("rows", "field", "error"),
    [
        ((("ZZZ", "MNQ"),), "leader_root", "Select a valid choice."),
        ((("NQ", "NQ"),), "follower_root", "NQ to NQ changes nothing"),
        ((("NQ", ""),), "follower_root", "Choose what followers trade"),
        ((("", "MNQ"),), "leader_root", "Choose what the leader trades"),
        ((("NQ", "MNQ"), ("NQ", "ES")), "leader_root", "NQ is already mapped to MNQ"),
    ],
)
def test_bad_rows_answer_400_with_the_rows_error_and_save_nothing(
    route: Route, alice_client: Client, rows: tuple, field: str, error: str
) -> None:
    response = alice_client.post(reverse("group_mappings", args=[route.group.pk]), _rows(*rows))
    assert response.status_code == 400
    errors = [e for form in response.context["formset"].forms for e in form.errors.get(field, [])]
    assert any(e.startswith(error) for e in errors), errors
    assert error.split(" (")[0] in response.content.decode()
    assert not ContractMapping.objects.exists()
    assert not _entries(EventType.CONTRACT_MAPPINGS_CHANGED)


def test_service_refuses_unknown_products_and_other_users(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="XYZ is not a product with a contract spec") as e:
        contract_mappings_set(group=route.group, actor=route.owner, pairs=[("xyz", "MNQ")])
    assert e.value.field == "mappings"
    with pytest.raises(ApplicationError, match="only the owner of a copy group"):
        contract_mappings_set(group=route.group, actor=bob, pairs=[("NQ", "MNQ")])
    assert not ContractMapping.objects.exists()


def test_a_saved_mapping_applies_to_the_next_leader_event(route: Route) -> None:
    # NQ -> MNQ, contracts sizing: a leader buy of 2 NQ is copied as MNQ,
    # 2 x 0.5 = 1 for Eval 25K and 2 x 3 = 6 for Funded 150K.
    contract_mappings_set(group=route.group, actor=route.owner, pairs=[("nq", "mnq")])
    at = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    fill = LeaderFill("m1", "lead", "NQH6", Side.BUY, 2, D("21000.25"), at)
    leader_event_ingest(account=route.leader, fill=fill, source="test")
    orders = {
        o.account.name: (o.symbol, o.qty) for o in CopyOrder.objects.select_related("account")
    }
    assert orders == {"Eval 25K": ("MNQH6", 1), "Funded 150K": ("MNQH6", 6)}


# -- follower sizing ----------------------------------------------------------------------


def test_sizing_page_shows_the_factor_now(route: Route, alice_client: Client) -> None:
    response = alice_client.get(
        reverse("follower_settings", args=[route.group.pk, route.small_follower.pk])
    )
    assert response.status_code == 200
    # 1 x 0.5 = 0.5.
    assert response.context["factor"] == (
        "copy value 1 x ratio 0.5 = 0.5 follower contracts per leader contract, before rounding"
    )


def test_percent_of_balance_saves_journals_and_sizes_by_balance(
    route: Route, alice_client: Client
) -> None:
    url = reverse("follower_settings", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(url, {"ratio": "1.5", "sizing_basis": "percent_of_balance"})
    assert response.status_code == 302
    follower = Follower.objects.get(pk=route.small_follower.pk)
    assert (follower.ratio, follower.sizing_basis) == (D("1.5"), "percent_of_balance")
    (entry,) = _entries(EventType.FOLLOWER_CHANGED)
    assert (entry.before, entry.after) == (
        {"ratio": "0.5000", "sizing_basis": "ratio"},
        {"ratio": "1.5", "sizing_basis": "percent_of_balance"},
    )
    # 1 x 1.5 x 25,000 / 150,000 = 0.25 per leader contract: a leader buy of
    # 8 MNQ gives 2 (the large follower, ratio 3, 24).
    fill = LeaderFill("b1", "lead", "MNQH6", Side.BUY, 8, D("21000.25"), datetime.now(UTC))
    leader_event_ingest(account=route.leader, fill=fill, source="test")
    orders = {o.account.name: o.qty for o in CopyOrder.objects.select_related("account")}
    assert orders == {"Eval 25K": 2, "Funded 150K": 24}
    page = alice_client.get(url).content.decode()
    assert "x balance 25000 / leader balance 150000 = 0.25 follower contracts" in page


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"ratio": "0", "sizing_basis": "ratio"}, "ratio", "Ensure this value is greater than"),
        ({"ratio": "1001", "sizing_basis": "ratio"}, "ratio", "Ensure this value is less than"),
        ({"ratio": "one", "sizing_basis": "ratio"}, "ratio", "Enter a number."),
        ({"ratio": "1", "sizing_basis": "halves"}, "sizing_basis", "Select a valid choice."),
    ],
)
def test_bad_sizing_answers_400_on_the_field(
    route: Route, alice_client: Client, data: dict, field: str, error: str
) -> None:
    url = reverse("follower_settings", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(url, data)
    assert response.status_code == 400
    assert response.context["form"].errors[field][0].startswith(error)
    assert Follower.objects.get(pk=route.small_follower.pk).ratio == D("0.5")
    assert not _entries(EventType.FOLLOWER_CHANGED)


def test_percent_of_balance_without_a_leader_balance_is_refused_on_the_field(
    route: Route, alice_client: Client
) -> None:
    BrokerAccount.objects.filter(pk=route.leader.pk).update(balance=D(0))
    url = reverse("follower_settings", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(url, {"ratio": "1", "sizing_basis": "percent_of_balance"})
    assert response.status_code == 400
    assert response.context["form"].errors["sizing_basis"] == [
        "percent of balance sizing needs the leader account's balance above 0 (Lead has $0)"
    ]
    assert Follower.objects.get(pk=route.small_follower.pk).sizing_basis == "ratio"


def test_adding_a_follower_on_percent_of_balance(route: Route, alice_client: Client) -> None:
    spare = broker_account_create(owner=route.owner, name="Funded 50K", balance=D(50_000))
    response = alice_client.post(
        reverse("group_follower_add", args=[route.group.pk]),
        {"account": spare.pk, "ratio": "1", "sizing_basis": "percent_of_balance"},
        follow=True,
    )
    assert "Funded 50K now follows Evals at ratio 1 x its balance / the leader's." in _messages(
        response
    )
    assert Follower.objects.get(account=spare).sizing_basis == "percent_of_balance"
    entry = _entries(EventType.FOLLOWER_ADDED)[-1]
    assert entry.after == {"ratio": "1", "sizing_basis": "percent_of_balance"}


# -- the daily profit target on the limits form --------------------------------------------


def test_daily_profit_target_saved_and_journaled_from_the_form(
    route: Route, alice_client: Client
) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    form = alice_client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"daily_profit_target": "750", "on_breach": "block"})
    response = alice_client.post(url, data)
    assert response.status_code == 302
    assert RiskLimit.objects.get(account=route.small).daily_profit_target == D(750)
    entry = _entries(EventType.RISK_LIMIT_CHANGED)[-1]
    assert (entry.before, entry.after) == (
        {"daily_profit_target": None},
        {"daily_profit_target": "750"},
    )
    assert "daily_profit_target not set \u2192 750.00" in entry.message


def test_daily_profit_target_of_zero_is_refused_on_the_field(
    route: Route, alice_client: Client
) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.post(
        url,
        {
            "daily_profit_target": "0",
            "consistency_pct": "30",
            "on_breach": "block",
            "direction": "both",
            "drawdown_mode": "static",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["daily_profit_target"] == [
        "Must be greater than 0 (leave empty for no limit)."
    ]
    assert RiskLimit.objects.get(account=route.small).daily_profit_target is None
