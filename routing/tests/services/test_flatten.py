"""Emergency flatten, the database half: the press (lock, request, journal)
and the worker's record of each account and of the request.

Route fixture: leader Lead; Eval 25K follows at ratio 0.5, Funded 150K at 3.
The broker side (cancels and closes at the paper exchange) is exercised in
``routing/tests/runtime/test_flatten_worker.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import EventType, JournalEntry, Position
from routing.brokers.base import BrokerFill, OrderResult, OrderStatus
from routing.engine.types import LeaderFill, Side
from routing.models import (
    AccountSession,
    CopyGroup,
    CopyOrder,
    ExpectedPosition,
    FlattenRequest,
)
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.flatten import (
    FlattenOutcome,
    account_session_flattened,
    flatten_account_record,
    flatten_finish,
    flatten_orders_open,
    flatten_pending,
    flatten_request,
    flatten_target,
)
from routing.services.leader_events import leader_event_ingest
from routing.services.orders import copy_order_claim, copy_order_record_result

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)


def _leader(route: Route, event_id: str, side: Side, qty: int, price: str = "21000") -> list[int]:
    fill = LeaderFill(event_id, "lead", "MNQH6", side, qty, Decimal(price), T0)
    return leader_event_ingest(account=route.leader, fill=fill, source="t").pending_order_ids


def _fill_all(order_ids: list[int]) -> None:
    """The broker fills each order at the leader's price."""
    for order_id in order_ids:
        assert copy_order_claim(order_id=order_id) is not None
        order = CopyOrder.objects.select_related("account", "leader_event").get(pk=order_id)
        fill = BrokerFill(
            f"fill-{order_id}",
            order.client_order_id,
            order.account.external_id,
            order.symbol,
            Side(order.side),
            order.qty,
            order.leader_event.price,
            T0,
        )
        result = OrderResult(
            order.client_order_id, "b", OrderStatus.FILLED, order.qty, fill.price, (fill,)
        )
        copy_order_record_result(order_id=order_id, result=result)


def _second_group(route: Route) -> CopyGroup:
    leader = broker_account_create(owner=route.owner, name="Lead 2", balance=Decimal(50_000))
    follower = broker_account_create(owner=route.owner, name="PA 50K", balance=Decimal(50_000))
    group = copy_group_create(owner=route.owner, name="PAs", leader=leader)
    follower_add(group=group, account=follower, ratio=Decimal(1))
    return group


def _levels() -> dict[str, tuple[int, str]]:
    return {g.name: (g.level, g.level_reason) for g in CopyGroup.objects.all()}


def test_press_locks_the_route_queues_one_request_and_journals_who(route: Route) -> None:
    request, created = flatten_request(user=route.owner, group=route.group)

    assert created is True
    assert (request.status, request.group, request.requested_by) == (
        "pending",
        route.group,
        "alice",
    )
    assert _levels() == {"Evals": (4, "emergency flatten by alice")}
    entry = JournalEntry.objects.get(event_type=EventType.FLATTEN_REQUESTED)
    assert (entry.actor_label, entry.actor_user_id, entry.group_id) == (
        "alice",
        route.owner.pk,
        route.group.pk,
    )
    assert entry.message.startswith("Emergency flatten of Evals requested by alice")
    lock = JournalEntry.objects.get(event_type=EventType.ROUTE_LEVEL_CHANGED)
    assert lock.message.endswith("emergency flatten by alice")


def test_pressing_twice_while_pending_queues_nothing_new_but_is_journaled(route: Route) -> None:
    first, _ = flatten_request(user=route.owner, group=route.group)
    second, created = flatten_request(user=route.owner, group=route.group)

    assert (second.pk, created) == (first.pk, False)
    assert FlattenRequest.objects.count() == 1
    presses = JournalEntry.objects.filter(event_type=EventType.FLATTEN_REQUESTED).order_by("id")
    assert [e.extra_data["created"] for e in presses] == [True, False]
    assert "pressed again by alice while request" in presses[1].message
    # The route was locked once.
    assert JournalEntry.objects.filter(event_type=EventType.ROUTE_LEVEL_CHANGED).count() == 1


def test_flatten_all_locks_every_group_of_the_user_only(route: Route, bob: User) -> None:
    _second_group(route)
    bob_leader = broker_account_create(owner=bob, name="Bob lead", balance=Decimal(10_000))
    copy_group_create(owner=bob, name="Bob's", leader=bob_leader)

    request, created = flatten_request(user=route.owner)

    assert (request.group, created) == (None, True)
    levels = _levels()
    assert levels["Evals"][0] == levels["PAs"][0] == 4
    assert levels["Bob's"][0] == 3
    (job,) = flatten_pending()
    assert sorted(t.name for t in job.targets) == ["Eval 25K", "Funded 150K", "PA 50K"]
    assert job.reason == "emergency flatten by alice"


def test_only_the_owner_may_flatten(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="only the owner"):
        flatten_request(user=bob, group=route.group)
    with pytest.raises(ApplicationError, match="no copy groups"):
        flatten_request(user=bob)
    assert FlattenRequest.objects.count() == 0
    assert _levels()["Evals"][0] == 3


def test_after_the_press_entries_are_blocked_and_exits_still_copied(route: Route) -> None:
    _fill_all(_leader(route, "f1", Side.BUY, 4))
    flatten_request(user=route.owner, group=route.group)

    # The leader adds 2 (entry): refused at level 4.
    _leader(route, "f2", Side.BUY, 2)
    added = CopyOrder.objects.filter(leader_event__external_id="f2")
    assert set(added.values_list("status", flat=True)) == {"blocked"}
    assert "route level 4 Locked" in added.first().reason
    # The leader sells 6 (exit to flat): copied, 2 and 12.
    exits = CopyOrder.objects.filter(leader_event__external_id="f3")
    _leader(route, "f3", Side.SELL, 6)
    assert sorted(exits.values_list("status", "qty")) == [("pending", 2), ("pending", 12)]


def test_unsent_orders_are_cancelled_and_their_size_leaves_the_expected_position(
    route: Route,
) -> None:
    _fill_all(_leader(route, "f1", Side.BUY, 4))  # Eval 25K holds 2
    pending = _leader(route, "f2", Side.BUY, 2)  # decided (+1), never sent
    sent = _leader(route, "f3", Side.BUY, 2)  # +1 more, claimed: the broker may have it
    small_sent = CopyOrder.objects.get(pk__in=sent, account=route.small)
    assert copy_order_claim(order_id=small_sent.pk) is not None
    assert ExpectedPosition.objects.get(account=route.small).qty == 4

    opened = flatten_orders_open(account_id=route.small.pk, reason="emergency flatten by alice")

    assert (opened.cancelled, opened.live) == (1, (small_sent.pk,))
    small_pending = CopyOrder.objects.get(pk__in=pending, account=route.small)
    assert small_pending.status == "cancelled"
    assert small_pending.reason.endswith("cancelled: emergency flatten by alice")
    assert ExpectedPosition.objects.get(account=route.small).qty == 3  # 4 - the unsent 1
    assert CopyOrder.objects.filter(account=route.large, status="pending").count() == 2


def _close(account_ext: str, n: int, side: Side, qty: int, price: str) -> OrderResult:
    fill = BrokerFill(
        f"close-fill-{n}", f"flatten-{n}", account_ext, "MNQH6", side, qty, Decimal(price), T0
    )
    return OrderResult(f"flatten-{n}", f"b{n}", OrderStatus.FILLED, qty, Decimal(price), (fill,))


def test_account_record_stores_closes_zeroes_expected_and_journals(route: Route) -> None:
    _fill_all(_leader(route, "f1", Side.BUY, 4))  # Eval 25K +2 @ 21000
    target = flatten_target(account_id=route.small.pk)

    # Closed 2 @ 21010.50: 10.50 points x 2 contracts x $2 = $42.00.
    outcome = flatten_account_record(
        target=target,
        closes=[_close(route.small.external_id, 1, Side.SELL, 2, "21010.50")],
        actual={},
        cancelled=1,
        problems=[],
        reason="emergency flatten by alice",
        actor_label="alice",
    )

    assert outcome.ok is True
    assert outcome.closes == ("sell 2 MNQH6 @ 21010.50",)
    position = Position.objects.get(account=route.small, symbol="MNQH6")
    assert (position.qty, position.realized_pnl) == (0, Decimal("42.00"))
    assert ExpectedPosition.objects.get(account=route.small).qty == 0
    assert ExpectedPosition.objects.get(account=route.large).qty == 12  # not this account
    entry = JournalEntry.objects.get(event_type=EventType.ACCOUNT_FLATTENED)
    assert entry.message == (
        "Eval 25K flattened (emergency flatten by alice): closed sell 2 MNQH6 @ 21010.50 "
        "(realized 42.00); 1 open order cancelled"
    )
    assert (entry.group_id, entry.account_id, entry.actor_label) == (
        route.group.pk,
        route.small.pk,
        "alice",
    )


def test_account_record_with_a_reused_close_fill_id_says_so_and_stores_nothing(
    route: Route,
) -> None:
    _fill_all(_leader(route, "f1", Side.BUY, 4))  # Eval 25K +2 @ 21000
    target = flatten_target(account_id=route.small.pk)
    first = _close(route.small.external_id, 1, Side.SELL, 2, "21010.50")
    common = {"actual": {}, "cancelled": 0, "problems": [], "reason": "r", "actor_label": "alice"}
    flatten_account_record(target=target, closes=[first], **common)  # type: ignore[arg-type]

    # The broker numbers another close (buy 1 @ 21020) "close-fill-1" again.
    outcome = flatten_account_record(
        target=target,
        closes=[_close(route.small.external_id, 1, Side.BUY, 1, "21020")],
        **common,  # type: ignore[arg-type]
    )

    assert outcome.ok is False
    assert (
        "close fill close-fill-1: stored sell 2 MNQH6 @ 21010.5 at 2026-03-03T15:30:00+00:00, "
        "received buy 1 MNQH6 @ 21020 at 2026-03-03T15:30:00+00:00: the broker re-used the "
        "fill id, not journaled; check this account's fills at the broker"
    ) in outcome.detail
    assert Position.objects.get(account=route.small, symbol="MNQH6").qty == 0


def test_account_record_with_a_refused_close_is_not_flat_and_keeps_expected(route: Route) -> None:
    _fill_all(_leader(route, "f1", Side.BUY, 4))  # Funded 150K +12
    refused = OrderResult.rejected("flatten-1", "NO_PRICE: symbol=MNQH6 has no mark")

    outcome = flatten_account_record(
        target=flatten_target(account_id=route.large.pk),
        closes=[refused],
        actual={"MNQH6": 12},
        cancelled=0,
        problems=[],
        reason="emergency flatten by alice",
        actor_label="alice",
    )

    assert outcome.ok is False
    assert outcome.detail == (
        "Funded 150K NOT flat (emergency flatten by alice): close flatten-1 rejected: "
        "NO_PRICE: symbol=MNQH6 has no mark; still holds +12 MNQH6; nothing to close"
    )
    assert ExpectedPosition.objects.get(account=route.large).qty == 12


def test_finish_marks_done_or_failed_once(route: Route) -> None:
    request, _ = flatten_request(user=route.owner, group=route.group)
    ok = FlattenOutcome(route.small.pk, "Eval 25K", True, "Eval 25K flattened", ("sell 2",))
    bad = FlattenOutcome(route.large.pk, "Funded 150K", False, "Funded 150K NOT flat: x")

    finished = flatten_finish(request_id=request.pk, outcomes=[ok, bad])
    assert finished is not None
    assert (finished.status, finished.detail) == ("failed", "Funded 150K NOT flat: x")
    assert finished.finished_at is not None
    assert flatten_finish(request_id=request.pk, outcomes=[ok]) is None  # already finished
    entry = JournalEntry.objects.get(event_type=EventType.FLATTEN_DONE)
    assert entry.message == (
        f"Emergency flatten #{request.pk} of Evals FAILED for 1 of 2 accounts: "
        "Funded 150K NOT flat: x"
    )
    # Failed is not pending: the next press queues a new request.
    again, created = flatten_request(user=route.owner, group=route.group)
    assert created and again.pk != request.pk
    done = flatten_finish(request_id=again.pk, outcomes=[ok])
    assert done is not None
    assert (done.status, done.detail) == ("done", "1 follower account flat, 1 position closed")


def test_session_marked_flattened_once(route: Route) -> None:
    at = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    row = account_session_flattened(account_id=route.small.pk, at=at)
    later = account_session_flattened(account_id=route.small.pk, at=at.replace(minute=5))
    assert row.pk == later.pk
    assert AccountSession.objects.get(pk=row.pk).flattened_at == at


def test_target_of_an_account_that_follows_nothing_is_refused(route: Route) -> None:
    with pytest.raises(ApplicationError, match="follows no copy group"):
        flatten_target(account_id=route.leader.pk)
