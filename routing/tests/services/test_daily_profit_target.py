"""The daily profit target in live copying's layer 2 and in the pre-session
check: the same engine rule (routing.engine.watch.breaches), persisted once.

Friday 2026-03-06's session opened Thu 03-05 23:00 UTC (17:00 CT).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from conftest import Route, fill_stored
from journal.models import EventType, JournalEntry, Position
from routing.models import AccountSession
from routing.route_budget import route_budget
from routing.services.account_sessions import account_session_current
from routing.services.risk_limits import risk_limit_update
from routing.services.risk_watch import risk_watch

FRIDAY = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
TEXT = "daily profit target reached: session PnL 1,100.00 \u2265 target 1,000.00"

pytestmark = pytest.mark.django_db


def _arrange(route: Route) -> None:
    """Large: target 1,000.00 with flatten on breach on; +600.00 realized and
    +500.00 open this session: 1,100.00 >= 1,000.00."""
    for account in (route.small, route.large):
        account_session_current(account=account, at=FRIDAY)
    risk_limit_update(
        account=route.large,
        actor=route.owner,
        daily_profit_target=Decimal(1000),
        daily_loss=Decimal(2000),
        flatten_on_breach=True,
    )
    fill_stored(
        account=route.large,
        broker_fill_id="l1",
        symbol="MNQH6",
        side="SELL",
        qty=1,
        price=Decimal(21000),
        realized_pnl=Decimal("600.00"),
        filled_at=datetime(2026, 3, 6, 14, 0, tzinfo=UTC),
    )
    Position.objects.create(
        account=route.large, symbol="MNQH6", qty=1, unrealized_pnl=Decimal("500.00")
    )


def test_layer_two_halts_once_with_the_code_and_never_flattens(route: Route) -> None:
    # Arrange
    _arrange(route)
    # Act: two passes (the second finds it halted already).
    due = risk_watch(at=FRIDAY)
    again = risk_watch(at=FRIDAY)
    # Assert: halted with the reason, no flatten due (a profit rule), one journal row.
    row = AccountSession.objects.get(account=route.large, trading_date=FRIDAY.date())
    assert (row.halted_at, row.halt_reason, row.flatten_due) == (FRIDAY, TEXT, False)
    assert due == again == {}
    (halt,) = JournalEntry.objects.filter(event_type=EventType.ACCOUNT_HALTED)
    assert (halt.account_id, halt.group_id) == (route.large.pk, route.group.pk)
    assert halt.extra_data == {
        "trading_date": "2026-03-06",
        "reason": TEXT,
        "code": ("daily_profit_target"),
    }
    # The other follower trades on.
    small = AccountSession.objects.get(account=route.small, trading_date=FRIDAY.date())
    assert small.halted_at is None


def test_pre_session_check_shows_the_account_not_eligible_with_the_reason(route: Route) -> None:
    # Arrange: before layer 2 ran (nothing halted yet), the check previews it.
    _arrange(route)
    # Act
    budget = route_budget(group=route.group, at=FRIDAY)
    # Assert
    large = next(f for f in budget.followers if f.account_id == route.large.pk)
    assert (large.eligible, large.session_pnl) == (False, Decimal("1100.00"))
    assert TEXT in large.reasons
    assert [f.account_id for f in budget.receiving] == [route.small.pk]
