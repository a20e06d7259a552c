"""A change saved in the dashboard or the admin applies to the next leader event.

The engine keeps each leader's routes in memory (``routing.services.route_state``)
and reloads them only when the route configuration version moved. Every test
here first ingests a leader event so the leader's routes are cached, makes one
kind of change the way the dashboard (its service or page) or the Django admin
makes it, then ingests the next event and checks its decisions against
quantities computed by hand.

The route fixture: leader "Lead" (150K) copied into "Eval 25K" (ratio 0.5,
max 5 contracts per order, daily loss 375) and "Funded 150K" (ratio 3, no
limits), multiplier 1, entries round down and exits up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.forms import CheckboxInput, SplitDateTimeWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route, fill_stored
from routing.brokers.base import OrderResult
from routing.engine.limits import RouteLevel
from routing.engine.types import LeaderFill, Side
from routing.models import ContractMapping, ContractSpec, CopyOrder, Follower, Quarantine
from routing.services import route_state
from routing.services.account_sessions import account_session_current
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.group_rules import copy_group_update, follower_pause, follower_resume
from routing.services.leader_events import leader_event_ingest
from routing.services.order_results import copy_order_record_result
from routing.services.risk_limits import risk_limit_update
from routing.services.route_levels import route_level_set, route_review
from tests.reauth import reauthenticated_client

pytestmark = pytest.mark.django_db

# Tuesday 28 January 2025, 10:59:52 in Chicago: inside the session of the 28th.
T0 = datetime(2025, 1, 28, 16, 59, 52, tzinfo=UTC)
# 17:30 in Chicago: the session of the 29th.
T1 = datetime(2025, 1, 28, 23, 30, tzinfo=UTC)
PRICE = "21539.50"
# Tables the cached routes are built from (accounts_brokeraccount is left out:
# the leader's own row is locked by every event).
CACHED_TABLES = (
    "routing_copygroup",
    "routing_follower",
    "routing_risklimit",
    "routing_contractmapping",
    "routing_contractspec",
)

_event_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    # The cache is per process: start and leave every test with none.
    route_state.route_cache_clear()
    yield
    route_state.route_cache_clear()


def event(
    route: Route, side: Side, qty: int, symbol: str = "MNQH5", at: datetime = T0
) -> dict[str, CopyOrder]:
    """Ingest one leader fill; its copy orders by follower account name."""
    fill = LeaderFill(f"e{next(_event_ids)}", "lead", symbol, side, qty, Decimal(PRICE), at)
    result = leader_event_ingest(account=route.leader, fill=fill, source="test")
    assert result.created
    return {o.account.name: o for o in result.orders}


def sent(order: CopyOrder) -> tuple[str, str, int, str]:
    """``(status, side, qty, symbol)`` of a copy order."""
    return (order.status, order.side, order.qty, order.symbol)


def assert_cached(route: Route) -> route_state.LeaderRoutes:
    """The leader's routes are in memory, built on the current version."""
    cached = route_state._cache.get(route.leader.pk)
    assert cached is not None
    assert cached.key == route_state.route_config_key()
    return cached


def owner_client(route: Route) -> Client:
    # Recently re-authenticated: these tests are about the actions themselves
    # (accounts.reauth's tests cover the confirmation).
    return reauthenticated_client(route.owner)


def admin_form_data(response: Any) -> dict[str, Any]:
    """The POST an unchanged save of the admin change form rendered in
    ``response`` would send: the main form's values and every inline formset
    (management form included)."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(field.widget, SplitDateTimeWidget):
                data[f"{key}_0"] = value.date().isoformat() if value else ""
                data[f"{key}_1"] = value.time().isoformat() if value else ""
            elif value is None:
                data[key] = ""
            elif hasattr(value, "pk"):
                data[key] = value.pk
            else:
                data[key] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.initial_forms:
            add(form)
    return data


def admin_save(client: Client, url: str, **changes: Any) -> None:
    """GET the admin change form at ``url``, apply ``changes`` to its data, POST it
    (with the reason every admin change needs, issue 14)."""
    data = admin_form_data(client.get(url))
    data["reason"] = "test: admin change"
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors or [
        f.errors for i in response.context["inline_admin_formsets"] for f in i.formset
    ]


# -- in memory -------------------------------------------------------------------


def test_second_event_without_a_change_reads_no_route_configuration(route: Route) -> None:
    # Arrange: the first event loads the routes.
    event(route, Side.BUY, 2)
    cached = assert_cached(route)
    # Act
    with CaptureQueriesContext(connection) as queries:
        orders = event(route, Side.BUY, 2, "MNQM5")
    # Assert: decided from memory: no statement reads or joins a cached table
    # (quarantines of an earlier session, which name their follower in the
    # journal, are loaded with their rows only when there are some).
    sql = [q["sql"] for q in queries]
    assert [s for s in sql if any(f'FROM "{t}"' in s for t in CACHED_TABLES)] == []
    assert [s for s in sql if any(f'JOIN "{t}"' in s for t in CACHED_TABLES)] == []
    assert route_state._cache[route.leader.pk] is cached
    assert sent(orders["Eval 25K"]) == ("pending", "buy", 1, "MNQM5")
    assert sent(orders["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")


def test_first_event_loads_the_routes_and_caches_them(route: Route) -> None:
    with CaptureQueriesContext(connection) as queries:
        event(route, Side.BUY, 2)
    assert any('"routing_follower"' in q["sql"] for q in queries)
    assert_cached(route)


# -- dashboard changes --------------------------------------------------------------


def test_group_pause_and_resume_apply_to_the_next_event(route: Route) -> None:
    # Arrange: both followers copy the leader's buy 2 (1 and 6).
    first = event(route, Side.BUY, 2)
    assert sent(first["Eval 25K"]) == ("pending", "buy", 1, "MNQH5")
    assert sent(first["Funded 150K"]) == ("pending", "buy", 6, "MNQH5")
    assert_cached(route)
    client = owner_client(route)
    # Act: pause on the group page; the leader adds 2, then closes all 4.
    assert client.post(reverse("group_pause", args=[route.group.pk])).status_code == 302
    entry = event(route, Side.BUY, 2)
    exit_ = event(route, Side.SELL, 4)
    # Assert: the entry is skipped for both, the exit still flattens both.
    for order in entry.values():
        assert (order.status, order.qty) == ("skipped", 0)
        assert "route paused: entries are not copied, exits are" in order.reason
    assert sent(exit_["Eval 25K"]) == ("pending", "sell", 1, "MNQH5")
    assert sent(exit_["Funded 150K"]) == ("pending", "sell", 6, "MNQH5")
    # Act: resume on the page; the leader buys 2 again.
    assert client.post(reverse("group_resume", args=[route.group.pk])).status_code == 302
    again = event(route, Side.BUY, 2)
    # Assert
    assert sent(again["Eval 25K"]) == ("pending", "buy", 1, "MNQH5")
    assert sent(again["Funded 150K"]) == ("pending", "buy", 6, "MNQH5")


def test_follower_pause_and_resume_apply_to_the_next_event(route: Route) -> None:
    event(route, Side.BUY, 2)
    assert_cached(route)
    # Act: pause Eval 25K only.
    assert follower_pause(follower=route.small_follower, actor=route.owner)
    paused = event(route, Side.BUY, 2, "MNQM5")
    # Assert: Eval 25K skipped, Funded 150K still 2 x 3 = 6.
    assert (paused["Eval 25K"].status, paused["Eval 25K"].qty) == ("skipped", 0)
    assert "follower paused: entries are not copied, exits are" in paused["Eval 25K"].reason
    assert sent(paused["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")
    # Act: resume it.
    assert follower_resume(follower=route.small_follower, actor=route.owner)
    resumed = event(route, Side.BUY, 2, "MNQU5")
    # Assert: 2 x 0.5 = 1 again.
    assert sent(resumed["Eval 25K"]) == ("pending", "buy", 1, "MNQU5")


def test_route_level_changes_apply_to_the_next_event(route: Route) -> None:
    event(route, Side.BUY, 2)
    assert_cached(route)
    owner = route.owner
    # 0 Off: no entry copied.
    route_level_set(group=route.group, level=RouteLevel.OFF, actor=owner, reason="quiet day")
    off = event(route, Side.BUY, 2, "MNQM5")
    for order in off.values():
        assert (order.status, order.qty) == ("skipped", 0)
        assert "route level 0 Off: entries are not copied, exits are" in order.reason
    # 1 Test: every follower forced to 1 contract (2 x 0.5 = 1 stays 1; 4 x 3 = 12 -> 1).
    route_level_set(group=route.group, level=RouteLevel.TEST, actor=owner, reason="trial")
    test = event(route, Side.BUY, 4, "MNQU5")
    assert sent(test["Eval 25K"]) == ("pending", "buy", 1, "MNQU5")
    assert sent(test["Funded 150K"]) == ("pending", "buy", 1, "MNQU5")
    assert "route level 1 Test: size forced to 1 contract (not 12)" in test["Funded 150K"].reason
    # 4 Locked: entries blocked.
    route_level_set(group=route.group, level=RouteLevel.LOCKED, actor=owner, reason="check")
    locked = event(route, Side.BUY, 2, "MNQZ5")
    for order in locked.values():
        assert (order.status, order.qty) == ("blocked", 0)
        assert "blocked: route level 4 Locked: entries are not copied until it is unlocked" in (
            order.reason
        )
    # Back to 3 Active with a reason, on the budget page.
    response = owner_client(route).post(
        reverse("group_level", args=[route.group.pk]), {"level": 3, "reason": "checked"}
    )
    assert response.status_code == 302
    active = event(route, Side.BUY, 2, "MNQH6")
    assert sent(active["Eval 25K"]) == ("pending", "buy", 1, "MNQH6")
    assert sent(active["Funded 150K"]) == ("pending", "buy", 6, "MNQH6")


def test_route_review_applies_to_the_next_event(route: Route) -> None:
    # Arrange: level 2 Reduced with at most 10 contracts across followers.
    copy_group_update(group=route.group, actor=route.owner, data={"max_total_contracts": 10})
    route_level_set(group=route.group, level=RouteLevel.REDUCED, actor=route.owner, reason="new")
    unreviewed = event(route, Side.BUY, 2)
    for order in unreviewed.values():
        assert (order.status, order.qty) == ("blocked", 0)
        assert "route level 2 Reduced: not marked reviewed this session" in order.reason
    assert_cached(route)
    # Act: marked reviewed for the session of the 28th.
    assert route_review(group=route.group, actor=route.owner, at=T0)
    reviewed = event(route, Side.BUY, 2, "MNQM5")
    # Assert: 1 + 6 = 7 contracts, within the 10.
    assert sent(reviewed["Eval 25K"]) == ("pending", "buy", 1, "MNQM5")
    assert sent(reviewed["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")


def test_risk_limit_change_applies_to_the_next_event(route: Route) -> None:
    before = event(route, Side.BUY, 2)
    assert sent(before["Funded 150K"]) == ("pending", "buy", 6, "MNQH5")
    assert_cached(route)
    # Act: Funded 150K gets max 4 contracts per order (the limits page's service).
    assert risk_limit_update(account=route.large, actor=route.owner, max_contracts=4)
    after = event(route, Side.BUY, 2, "MNQM5")
    # Assert: 2 x 3 = 6 > 4: blocked with the limit named.
    order = after["Funded 150K"]
    assert (order.status, order.qty) == ("blocked", 0)
    assert "entry 6 contracts > 4 allowed by max contracts per order 4" in order.reason
    # Act: the limit removed on the follower limits page.
    assert risk_limit_update(account=route.large, actor=route.owner, max_contracts=None)
    again = event(route, Side.BUY, 2, "MNQU5")
    assert sent(again["Funded 150K"]) == ("pending", "buy", 6, "MNQU5")


def test_group_sizing_settings_apply_to_the_next_event(route: Route) -> None:
    event(route, Side.BUY, 3)
    assert_cached(route)
    owner, group = route.owner, route.group
    # Copy value 1 -> 2: Eval 1 x 2 x 0.5 = 1, Funded 1 x 2 x 3 = 6.
    copy_group_update(group=group, actor=owner, data={"copy_value": Decimal(2)})
    doubled = event(route, Side.BUY, 1, "MNQM5")
    assert sent(doubled["Eval 25K"]) == ("pending", "buy", 1, "MNQM5")
    assert sent(doubled["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")
    # Copy value back to 1, rounding nearest: Eval 3 x 0.5 = 1.5 -> 2 (was 1
    # rounding down), Funded 9.
    copy_group_update(
        group=group, actor=owner, data={"copy_value": Decimal(1), "rounding": "nearest"}
    )
    nearest = event(route, Side.BUY, 3, "MNQU5")
    assert sent(nearest["Eval 25K"]) == ("pending", "buy", 2, "MNQU5")
    assert sent(nearest["Funded 150K"]) == ("pending", "buy", 9, "MNQU5")
    # Fixed mode, copy value 2: the leader's 3 is ignored, Eval 2 x 0.5 = 1,
    # Funded 2 x 3 = 6.
    copy_group_update(group=group, actor=owner, data={"copy_mode": "fixed", "copy_value": 2})
    fixed = event(route, Side.BUY, 3, "MNQZ5")
    assert sent(fixed["Eval 25K"]) == ("pending", "buy", 1, "MNQZ5")
    assert sent(fixed["Funded 150K"]) == ("pending", "buy", 6, "MNQZ5")
    # A mapping MNQ -> MES: the same sizes, on the mapped product.
    ContractMapping.objects.create(group=group, leader_root="MNQ", follower_root="MES")
    mapped = event(route, Side.BUY, 3, "MNQH6")
    assert sent(mapped["Eval 25K"]) == ("pending", "buy", 1, "MESH6")
    assert sent(mapped["Funded 150K"]) == ("pending", "buy", 6, "MESH6")


def test_account_balance_change_applies_to_the_next_event(route: Route) -> None:
    # Arrange: Funded 150K sized on percent of balance: 2 x 3 x 150K/150K = 6.
    route.large_follower.sizing_basis = "percent_of_balance"
    route.large_follower.save(update_fields=["sizing_basis", "updated_at"])
    first = event(route, Side.BUY, 2)
    assert sent(first["Funded 150K"]) == ("pending", "buy", 6, "MNQH5")
    assert_cached(route)
    # Act: its balance goes to 200K: 2 x 3 x 200K/150K = 8.
    route.large.balance = Decimal(200_000)
    route.large.save(update_fields=["balance"])
    richer = event(route, Side.BUY, 2, "MNQM5")
    assert sent(richer["Funded 150K"]) == ("pending", "buy", 8, "MNQM5")
    # Act: the leader's balance goes to 300K: 2 x 3 x 200K/300K = 4.
    route.leader.balance = Decimal(300_000)
    route.leader.save(update_fields=["balance"])
    leader_richer = event(route, Side.BUY, 2, "MNQU5")
    assert sent(leader_richer["Funded 150K"]) == ("pending", "buy", 4, "MNQU5")


def test_session_reset_balance_applies_to_the_next_event(route: Route) -> None:
    """The reset writes the balance with a queryset update (no signal): the
    session job resets the account before the next event, which must size on
    the new balance."""
    route.large_follower.sizing_basis = "percent_of_balance"
    route.large_follower.save(update_fields=["sizing_basis", "updated_at"])
    # Arrange: the session of the 28th opens at 150K; Funded 150K realizes
    # +50K in it, so the session of the 29th opens at 200K.
    first = event(route, Side.BUY, 2)
    assert sent(first["Funded 150K"]) == ("pending", "buy", 6, "MNQH5")
    fill_stored(
        account=route.large,
        broker_fill_id="x1",
        symbol="MNQH5",
        side="sell",
        qty=1,
        price=Decimal(PRICE),
        realized_pnl=Decimal(50_000),
        filled_at=T0,
    )
    assert_cached(route)
    # Act: the session job resets Funded 150K, then the leader buys 2.
    session = account_session_current(account=route.large, at=T1)
    assert session.opening_balance == Decimal(200_000)
    orders = event(route, Side.BUY, 2, "MNQM5", at=T1)
    # Assert: 2 x 3 x 200K/150K = 8.
    assert sent(orders["Funded 150K"]) == ("pending", "buy", 8, "MNQM5")


def test_emergency_flatten_applies_to_the_next_event(route: Route) -> None:
    event(route, Side.BUY, 2)
    assert_cached(route)
    # Act: flatten pressed on the group page: the route goes to level 4.
    response = owner_client(route).post(reverse("group_flatten", args=[route.group.pk]))
    assert response.status_code == 302
    entry = event(route, Side.BUY, 2)
    exit_ = event(route, Side.SELL, 4)
    # Assert: the entry is blocked with the level-4 reason; the exit is copied.
    route.group.refresh_from_db()
    assert (route.group.level, route.group.level_reason) == (4, "emergency flatten by alice")
    for order in entry.values():
        assert (order.status, order.qty) == ("blocked", 0)
        assert "route level 4 Locked" in order.reason
    assert sent(exit_["Eval 25K"]) == ("pending", "sell", 1, "MNQH5")
    assert sent(exit_["Funded 150K"]) == ("pending", "sell", 6, "MNQH5")


def test_quarantine_release_applies_to_the_next_event(route: Route) -> None:
    # Arrange: Funded 150K's entry of 2 x 3 = 6 is rejected by its broker:
    # MNQH5 is quarantined for it, and the rejection (an incident) locks the
    # route; the owner unlocks it with a reason.
    first = event(route, Side.BUY, 2)
    rejected = first["Funded 150K"]
    with time_machine.travel(T0, tick=False):
        copy_order_record_result(
            order_id=rejected.pk,
            result=OrderResult.rejected(rejected.client_order_id, "RISK_REJECT: margin"),
        )
    quarantine = Quarantine.objects.get(follower=route.large_follower, symbol="MNQH5")
    route.group.refresh_from_db()
    assert route.group.level == RouteLevel.LOCKED
    route_level_set(group=route.group, level=RouteLevel.ACTIVE, actor=route.owner, reason="ok")
    blocked = event(route, Side.BUY, 2)
    assert sent(blocked["Eval 25K"]) == ("pending", "buy", 1, "MNQH5")
    assert (blocked["Funded 150K"].status, blocked["Funded 150K"].qty) == ("blocked", 0)
    assert "MNQH5 quarantined after a rejected entry" in blocked["Funded 150K"].reason
    assert_cached(route)
    # Act: released on the group page.
    url = reverse("quarantine_release", args=[route.group.pk, quarantine.pk])
    assert owner_client(route).post(url).status_code == 302
    released = event(route, Side.BUY, 2)
    # Assert: sent again, and sized on the target: the leader went 4 -> 6, so
    # Funded 150K (holding 0 after the rejection) buys 6 x 3 = 18.
    order = released["Funded 150K"]
    assert sent(order) == ("pending", "buy", 18, "MNQH5")
    assert "target 6 x 1 x 3 = 18" in order.reason


def test_follower_ratio_change_applies_to_the_next_event(route: Route) -> None:
    before = event(route, Side.BUY, 2)
    assert sent(before["Eval 25K"]) == ("pending", "buy", 1, "MNQH5")
    assert_cached(route)
    # Act: Eval 25K's ratio 0.5 -> 2, saved on the row alone (no service
    # changes a ratio; the admin below also re-saves the group).
    route.small_follower.ratio = Decimal(2)
    route.small_follower.save(update_fields=["ratio", "updated_at"])
    after = event(route, Side.BUY, 2, "MNQM5")
    # Assert: 2 x 1 x 2 = 4 (within its max 5).
    assert sent(after["Eval 25K"]) == ("pending", "buy", 4, "MNQM5")
    assert "target 2 x 1 x 2 = 4" in after["Eval 25K"].reason


def test_follower_added_and_removed_apply_to_the_next_event(
    route: Route, staff_client: Client
) -> None:
    newcomer = broker_account_create(owner=route.owner, name="Eval 50K", balance=Decimal(50_000))
    event(route, Side.BUY, 2)
    assert_cached(route)
    # Act: the new account added on the group page, at ratio 2.
    response = owner_client(route).post(
        reverse("group_follower_add", args=[route.group.pk]),
        {"account": newcomer.pk, "ratio": "2"},
    )
    assert response.status_code == 302
    added = event(route, Side.BUY, 2, "MNQM5")
    # Assert: 2 x 2 = 4 for the newcomer, the others unchanged.
    assert sent(added["Eval 50K"]) == ("pending", "buy", 4, "MNQM5")
    assert sent(added["Eval 25K"]) == ("pending", "buy", 1, "MNQM5")
    assert sent(added["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")
    # Act: Funded 150K's membership deleted (as a shell or a data fix would).
    route.large_follower.delete()
    removed = event(route, Side.BUY, 2, "MNQU5")
    # Assert: no order for it any more.
    assert sorted(removed) == ["Eval 25K", "Eval 50K"]
    # Act: the newcomer paused on its admin page (memberships are not
    # deleted in the admin: they end on the dashboard, journaled).
    newcomer_follower = Follower.objects.get(account=newcomer)
    url = reverse("admin:routing_follower_change", args=[newcomer_follower.pk])
    admin_save(staff_client, url, enabled=None)
    last = event(route, Side.BUY, 2, "MNQZ5")
    assert sorted(last) == ["Eval 25K", "Eval 50K"]
    assert (last["Eval 50K"].status, last["Eval 50K"].qty) == ("skipped", 0)


def test_follower_ratio_changed_in_the_admin_applies_to_the_next_event(
    route: Route, staff_client: Client
) -> None:
    before = event(route, Side.BUY, 2)
    assert sent(before["Eval 25K"]) == ("pending", "buy", 1, "MNQH5")
    assert_cached(route)
    # Act: Eval 25K's ratio 0.5 -> 2 on its admin page.
    url = reverse("admin:routing_follower_change", args=[route.small_follower.pk])
    admin_save(staff_client, url, ratio="2")
    after = event(route, Side.BUY, 2, "MNQM5")
    # Assert: 2 x 1 x 2 = 4 (within its max 5).
    assert sent(after["Eval 25K"]) == ("pending", "buy", 4, "MNQM5")
    assert "2 x 1 x 2 = 4" in after["Eval 25K"].reason
    assert sent(after["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")


def test_group_changed_in_the_admin_applies_to_the_next_event(
    route: Route, staff_client: Client
) -> None:
    event(route, Side.BUY, 2)
    assert_cached(route)
    url = reverse("admin:routing_copygroup_change", args=[route.group.pk])
    # Act: copy value 1 -> 2 in the admin.
    admin_save(staff_client, url, copy_value="2")
    doubled = event(route, Side.BUY, 2, "MNQM5")
    # Assert: Eval 2 x 2 x 0.5 = 2, Funded 2 x 2 x 3 = 12.
    assert sent(doubled["Eval 25K"]) == ("pending", "buy", 2, "MNQM5")
    assert sent(doubled["Funded 150K"]) == ("pending", "buy", 12, "MNQM5")
    # Act: the group unticked "enabled" in the admin.
    admin_save(staff_client, url, enabled=None)
    paused = event(route, Side.BUY, 2, "MNQU5")
    for order in paused.values():
        assert (order.status, order.qty) == ("skipped", 0)
        assert "route paused" in order.reason


def test_risk_limit_changed_in_the_admin_applies_to_the_next_event(
    route: Route, staff_client: Client
) -> None:
    event(route, Side.BUY, 2)
    assert_cached(route)
    # Act: Eval 25K's max contracts 5 -> 1 in the admin.
    limit = route.small.risk_limit
    url = reverse("admin:routing_risklimit_change", args=[limit.pk])
    admin_save(staff_client, url, max_contracts="1")
    orders = event(route, Side.BUY, 4, "MNQM5")
    # Assert: 4 x 0.5 = 2 > 1.
    order = orders["Eval 25K"]
    assert (order.status, order.qty) == ("blocked", 0)
    assert "entry 2 contracts > 1 allowed by max contracts per order 1" in order.reason


def test_contract_spec_edit_applies_to_the_next_event(route: Route) -> None:
    # Arrange: MNQ mapped to NQ, sized on notional: MNQ $2/pt -> NQ $20/pt is
    # x 0.1, so 20 MNQ -> Eval 20 x 0.5 x 0.1 = 1 NQ, Funded 20 x 3 x 0.1 = 6 NQ.
    copy_group_update(group=route.group, actor=route.owner, data={"sizing_mode": "notional"})
    ContractMapping.objects.create(group=route.group, leader_root="MNQ", follower_root="NQ")
    first = event(route, Side.BUY, 20)
    assert sent(first["Eval 25K"]) == ("pending", "buy", 1, "NQH5")
    assert sent(first["Funded 150K"]) == ("pending", "buy", 6, "NQH5")
    assert_cached(route)
    # Act: NQ's point value edited to $10 (tick value with it).
    spec = ContractSpec.objects.get(root="NQ")
    spec.point_value, spec.tick_value = Decimal(10), Decimal("2.50")
    spec.save()
    after = event(route, Side.BUY, 20, "MNQM5")
    # Assert: x 0.2 now: Eval 20 x 0.5 x 0.2 = 2, Funded 20 x 3 x 0.2 = 12.
    assert sent(after["Eval 25K"]) == ("pending", "buy", 2, "NQM5")
    assert sent(after["Funded 150K"]) == ("pending", "buy", 12, "NQM5")
    assert "MNQ $2/pt -> NQ $10/pt" in after["Funded 150K"].reason


# -- another process ---------------------------------------------------------------


def test_change_committed_by_another_process_is_seen_through_the_version(route: Route) -> None:
    event(route, Side.BUY, 2)
    cached = assert_cached(route)
    # Arrange: another process changes Funded 150K's ratio 3 -> 1 with SQL;
    # until its version bump commits, this process keeps its routes.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE routing_follower SET ratio = 1 WHERE id = %s", [route.large_follower.pk]
        )
    stale = event(route, Side.BUY, 2, "MNQM5")
    assert route_state._cache[route.leader.pk] is cached
    assert sent(stale["Funded 150K"]) == ("pending", "buy", 6, "MNQM5")
    # Act: the other process's commit bumps the version.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE routing_routeconfigversion SET version = version + 1")
    fresh = event(route, Side.BUY, 2, "MNQU5")
    # Assert: reloaded, 2 x 1 = 2.
    assert route_state._cache[route.leader.pk] is not cached
    assert sent(fresh["Funded 150K"]) == ("pending", "buy", 2, "MNQU5")


def test_recreated_version_row_is_seen_through_its_token(route: Route) -> None:
    """A flushed and recreated version row may start at the same number: the
    token tells it from the one the cache was built on."""
    event(route, Side.BUY, 2)
    cached = assert_cached(route)
    _, number = cached.key
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE routing_follower SET ratio = 1 WHERE id = %s", [route.large_follower.pk]
        )
        cursor.execute(
            "UPDATE routing_routeconfigversion SET token = gen_random_uuid(), version = %s",
            [number],
        )
    fresh = event(route, Side.BUY, 2, "MNQM5")
    assert sent(fresh["Funded 150K"]) == ("pending", "buy", 2, "MNQM5")


def test_loading_a_leaders_routes_costs_the_same_for_3_groups_as_for_30(alice: User) -> None:
    # A pilot's account leads one route per subscriber: loading them must not
    # read each group's followers and mappings one group at a time.
    def statements(groups: int) -> int:
        leader = broker_account_create(owner=alice, name=f"Lead{groups}", balance=Decimal(1))
        for i in range(groups):
            group = copy_group_create(owner=alice, name=f"G{groups}-{i}", leader=leader)
            follower_add(
                group=group,
                account=broker_account_create(
                    owner=alice, name=f"F{groups}-{i}", balance=Decimal(1000)
                ),
            )
            ContractMapping.objects.create(group=group, leader_root="MNQ", follower_root="NQ")
        route_state.route_cache_clear()
        with CaptureQueriesContext(connection) as queries:
            routes = route_state.leader_routes(leader_id=leader.pk, key=None)
        assert len(routes.groups) == groups
        assert all(r.config.mappings == (("MNQ", "NQ"),) for r in routes.groups)
        assert all(len(r.followers) == 1 for r in routes.groups)
        return len(queries)

    assert statements(3) == statements(30)
