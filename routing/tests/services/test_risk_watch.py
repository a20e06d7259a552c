"""Layer 2's figures and writes for a batch of accounts (routing.services.risk_watch).

Session rows are read as values (``SessionRow``); what the pass writes must
be what it wrote with model instances: the raised high-water mark (never
lowered below a mark stored meanwhile), the halt with its journal and the
flatten it makes due. Friday 2026-03-06's session opened Thu 03-05 23:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import BrokerAccount
from conftest import Route, fill_stored
from journal.models import EventType, JournalEntry, Position
from routing.models import AccountSession, RiskLimit
from routing.services.account_sessions import SessionRow, account_session_current
from routing.services.copy_groups import risk_limit_set
from routing.services.risk_watch import account_breaches_apply, accounts_risk

FRIDAY = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
FRIDAY_DATE = FRIDAY.date()

pytestmark = pytest.mark.django_db


def _accounts(route: Route) -> list[BrokerAccount]:
    # Fresh rows: the pass reads each account's risk limit through it.
    ids = [route.small.pk, route.large.pk]
    return list(BrokerAccount.objects.filter(pk__in=ids).order_by("pk"))


def test_session_rows_are_the_models_columns_in_order() -> None:
    assert SessionRow._fields == tuple(f.attname for f in AccountSession._meta.concrete_fields)


def test_risk_reads_current_rows_as_values_and_resets_a_missing_one(route: Route) -> None:
    # Arrange: the small account's session is current; the large one's is not
    # reset yet. Small: -100.00 realized since the open, +40.00 unrealized of
    # which 15.00 was carried in -> -100 + 40 - 15 = -75.00.
    small_row = account_session_current(account=route.small, at=FRIDAY)
    AccountSession.objects.filter(pk=small_row.pk).update(opening_unrealized=Decimal(15))
    fill_stored(
        account=route.small,
        broker_fill_id="s1",
        symbol="MNQH6",
        side="SELL",
        qty=1,
        price=Decimal(21000),
        realized_pnl=Decimal("-100.00"),
        filled_at=datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
    )
    Position.objects.create(account=route.small, symbol="MNQH6", qty=1, unrealized_pnl=Decimal(40))
    # Act
    risks = accounts_risk(_accounts(route), at=FRIDAY)
    # Assert
    small, large = risks[route.small.pk], risks[route.large.pk]
    stored = AccountSession.objects.get(pk=small_row.pk)
    assert small.row == SessionRow.of(stored)
    assert small.session_pnl == Decimal("-75.00")
    assert small.state.realized == Decimal("-100.00")
    assert large.row == SessionRow.of(
        AccountSession.objects.get(account=route.large, trading_date=FRIDAY_DATE)
    )
    assert large.session_pnl == Decimal(0)
    assert JournalEntry.objects.filter(event_type=EventType.SESSION_RESET).count() == 2


def test_breaches_raise_marks_halt_journal_and_make_the_flatten_due(route: Route) -> None:
    # Arrange: large is +1,000.00 open (equity 151,000.00 over its 150,000.00
    # mark); small lost 400.00 realized, past its 375.00 daily loss, with
    # flatten on breach on. Both sessions are current (reset before the trades).
    for account in _accounts(route):
        account_session_current(account=account, at=FRIDAY)
    RiskLimit.objects.filter(account=route.small).update(flatten_on_breach=True)
    Position.objects.create(
        account=route.large, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("1000.00")
    )
    fill_stored(
        account=route.small,
        broker_fill_id="s1",
        symbol="MNQH6",
        side="SELL",
        qty=1,
        price=Decimal(21000),
        realized_pnl=Decimal("-400.00"),
        filled_at=datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
    )
    risks = accounts_risk(_accounts(route), at=FRIDAY)
    group_of = {route.small.pk: route.group.pk, route.large.pk: route.group.pk}
    # Act
    applied = account_breaches_apply(risks, at=FRIDAY, group_of=group_of)
    # Assert: the mark is raised in the row returned and stored.
    large = AccountSession.objects.get(account=route.large, trading_date=FRIDAY_DATE)
    assert applied[route.large.pk].row.high_water == large.high_water == Decimal("151000.00")
    assert applied[route.large.pk].state.halt is None
    # The halt: stored, returned, journaled once with its reason and code.
    small = AccountSession.objects.get(account=route.small, trading_date=FRIDAY_DATE)
    reason = "daily loss 400.00 ≥ limit 375.00"
    assert (small.halted_at, small.halt_reason, small.flatten_due) == (FRIDAY, reason, True)
    assert applied[route.small.pk].row == SessionRow.of(small)
    assert applied[route.small.pk].state.halt == reason
    (halt,) = JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED)
    assert (halt.account_id, halt.group_id, halt.actor_label) == (
        route.small.pk,
        route.group.pk,
        "risk",
    )
    assert halt.message == (
        "Eval 25K: new entries halted until the next session "
        f"(open positions stay open unless flatten on breach is on): {reason}"
    )
    assert halt.extra_data == {
        "trading_date": "2026-03-06",
        "reason": reason,
        "code": "daily_loss",
    }


def test_a_mark_stored_higher_meanwhile_is_never_lowered_and_a_halt_is_not_repeated(
    route: Route,
) -> None:
    # Arrange: the pass reads large's mark at 150,000.00; a concurrent pass
    # stores 160,000.00 before this one writes its 151,000.00. Small was
    # halted by a concurrent pass too.
    for account in _accounts(route):
        account_session_current(account=account, at=FRIDAY)
    Position.objects.create(
        account=route.large, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("1000.00")
    )
    fill_stored(
        account=route.small,
        broker_fill_id="s1",
        symbol="MNQH6",
        side="SELL",
        qty=1,
        price=Decimal(21000),
        realized_pnl=Decimal("-400.00"),
        filled_at=datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
    )
    risks = accounts_risk(_accounts(route), at=FRIDAY)
    AccountSession.objects.filter(account=route.large).update(high_water=Decimal(160_000))
    earlier = datetime(2026, 3, 6, 14, 30, tzinfo=UTC)
    AccountSession.objects.filter(account=route.small).update(
        halted_at=earlier, halt_reason="halted elsewhere"
    )
    # Act
    applied = account_breaches_apply(risks, at=FRIDAY, group_of={})
    # Assert
    large = AccountSession.objects.get(account=route.large, trading_date=FRIDAY_DATE)
    assert large.high_water == Decimal("160000.00")
    assert applied[route.large.pk].row.high_water == Decimal("151000.00")
    small = AccountSession.objects.get(account=route.small, trading_date=FRIDAY_DATE)
    assert (small.halted_at, small.halt_reason, small.flatten_due) == (
        earlier,
        "halted elsewhere",
        False,
    )
    # Halted all the same; this pass's reason (its row predates the halt).
    assert applied[route.small.pk].state.halt == "daily loss 400.00 ≥ limit 375.00"
    assert not JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED).exists()


def test_breaches_when_two_accounts_halt_then_halted_in_as_many_statements_as_one(
    route: Route, django_capture_on_commit_callbacks: Any
) -> None:
    # Arrange: small lost 400.00 past its 375.00 daily loss, large 1,200.00
    # past a 1,000.00 daily loss set here; flatten on breach on large only.
    for account in _accounts(route):
        account_session_current(account=account, at=FRIDAY)
    risk_limit_set(
        account=route.large, daily_loss=Decimal(1000), max_contracts=10, actor_label="test"
    )
    RiskLimit.objects.filter(account=route.large).update(flatten_on_breach=True)
    for account, loss, fill_id in ((route.small, "-400.00", "s1"), (route.large, "-1200.00", "l1")):
        fill_stored(
            account=account,
            broker_fill_id=fill_id,
            symbol="MNQH6",
            side="SELL",
            qty=1,
            price=Decimal(21000),
            realized_pnl=Decimal(loss),
            filled_at=datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
        )
    risks = accounts_risk(_accounts(route), at=FRIDAY)
    group_of = {route.small.pk: route.group.pk, route.large.pk: route.group.pk}
    # Act
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as on_commit,
    ):
        applied = account_breaches_apply(risks, at=FRIDAY, group_of=group_of)
    # Assert: the sessions read locked, both halts in one statement, the
    # flatten made due, both journal rows in one (three statements per halt
    # before); one message to the owner's pages (one per halt before).
    assert len(queries) == 4, [q["sql"] for q in queries]
    assert len(on_commit) == 1
    reasons = {
        route.small.pk: "daily loss 400.00 ≥ limit 375.00",
        route.large.pk: "daily loss 1,200.00 ≥ limit 1,000.00",
    }
    for account_id, reason in reasons.items():
        stored = AccountSession.objects.get(account_id=account_id, trading_date=FRIDAY_DATE)
        assert (stored.halted_at, stored.halt_reason) == (FRIDAY, reason)
        assert stored.flatten_due is (account_id == route.large.pk)
        assert applied[account_id].row == SessionRow.of(stored)
        assert applied[account_id].state.halt == reason
    journaled = JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED)
    assert sorted((j.account_id, j.group_id, j.extra_data["reason"]) for j in journaled) == sorted(
        (account_id, route.group.pk, reason) for account_id, reason in reasons.items()
    )


def test_first_event_of_a_session_counts_the_pnl_carried_in_once(route: Route) -> None:
    # Arrange: no session row for Friday yet. Large carries +1,000.00 open
    # (equity 151,000.00), small carries -400.00 open: more than its 375.00
    # daily loss, but lost before this session opened, so not today's loss.
    Position.objects.create(
        account=route.large, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("1000.00")
    )
    Position.objects.create(
        account=route.small, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("-400.00")
    )
    RiskLimit.objects.filter(account=route.small).update(flatten_on_breach=True)
    # Act: the first event of the session resets both rows and checks them.
    risks = accounts_risk(_accounts(route), at=FRIDAY)
    group_of = {route.small.pk: route.group.pk, route.large.pk: route.group.pk}
    applied = account_breaches_apply(risks, at=FRIDAY, group_of=group_of)
    # Assert: nothing happened since the open, so no session PnL; the
    # carried-in PnL is in the opening equity once.
    large = AccountSession.objects.get(account=route.large, trading_date=FRIDAY_DATE)
    small = AccountSession.objects.get(account=route.small, trading_date=FRIDAY_DATE)
    assert (large.opening_unrealized, small.opening_unrealized) == (
        Decimal("1000.00"),
        Decimal("-400.00"),
    )
    assert (risks[route.large.pk].session_pnl, risks[route.small.pk].session_pnl) == (0, 0)
    assert applied[route.large.pk].row.high_water == large.high_water == Decimal("151000.00")
    assert (small.halted_at, applied[route.small.pk].state.halt) == (None, None)
    assert not JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED).exists()
