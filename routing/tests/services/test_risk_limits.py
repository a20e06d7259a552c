"""Risk limits from the dashboard: every field, validated together, journaled
with who and before / after; nothing changed, nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from conftest import Route
from copytrade.core.errors import ApplicationError
from journal.models import JournalEntry
from routing.models import RiskLimit
from routing.services.risk_limits import risk_limit_update

pytestmark = pytest.mark.django_db
D = Decimal


def _changes() -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(event_type="risk_limit.changed").order_by("pk"))


def test_create_for_an_account_without_limits_then_row_and_journal(route: Route) -> None:
    before = len(_changes())
    changed = risk_limit_update(
        account=route.large,
        actor=route.owner,
        daily_loss=D(2000),
        max_drawdown=D(4500),
        drawdown_mode="trailing_eod",
        allowed_roots=" mnq, es ,MNQ",
        on_breach="scale_down",
    )
    assert changed
    limit = RiskLimit.objects.get(account=route.large)
    assert (limit.daily_loss, limit.max_drawdown, limit.drawdown_mode) == (
        D(2000),
        D(4500),
        "trailing_eod",
    )
    assert limit.allowed_roots == "MNQ,ES"
    assert limit.to_engine().allowed_roots == frozenset({"MNQ", "ES"})
    entries = _changes()
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.actor_label, entry.actor_user_id, entry.account_id) == (
        "alice",
        route.owner.pk,
        route.large.pk,
    )
    assert entry.group_id == route.group.pk
    assert entry.before == {
        "daily_loss": None,
        "max_drawdown": None,
        "drawdown_mode": "static",
        "allowed_roots": "",
        "on_breach": "block",
    }
    assert entry.after == {
        "daily_loss": "2000",
        "max_drawdown": "4500",
        "drawdown_mode": "trailing_eod",
        "allowed_roots": "MNQ,ES",
        "on_breach": "scale_down",
    }
    assert entry.message == (
        "Risk limits of Funded 150K changed by alice: daily_loss not set \u2192 2,000.00, "
        "max_drawdown not set \u2192 4,500.00, drawdown_mode static \u2192 trailing_eod, "
        "allowed_roots not set \u2192 MNQ,ES, on_breach block \u2192 scale_down"
    )


def test_update_journals_only_the_changed_fields(route: Route) -> None:
    # The fixture set Eval 25K: daily loss 375, max 5 contracts per order.
    changed = risk_limit_update(
        account=route.small,
        actor=route.owner,
        daily_loss=D("375.00"),
        max_contracts=3,
        max_position=None,
    )
    assert changed
    entry = _changes()[-1]
    assert entry.before == {"max_contracts": 5}
    assert entry.after == {"max_contracts": 3}
    assert RiskLimit.objects.get(account=route.small).max_contracts == 3


def test_nothing_changed_then_nothing_journaled_and_no_row_created(route: Route) -> None:
    entries = JournalEntry.objects.count()
    assert not risk_limit_update(account=route.small, actor=route.owner, daily_loss=D(375))
    # A new account's defaults posted as is: no row either.
    assert not risk_limit_update(
        account=route.large, actor=route.owner, daily_loss=None, consistency_pct=D(30)
    )
    assert not RiskLimit.objects.filter(account=route.large).exists()
    assert JournalEntry.objects.count() == entries


def test_removing_a_limit_with_none(route: Route) -> None:
    assert risk_limit_update(account=route.small, actor=route.owner, daily_loss=None)
    assert RiskLimit.objects.get(account=route.small).daily_loss is None
    assert "daily_loss 375.00 \u2192 not set" in _changes()[-1].message


def test_not_the_owner_then_refused(route: Route, bob: User) -> None:
    with pytest.raises(ApplicationError, match="only the owner"):
        risk_limit_update(account=route.small, actor=bob, daily_loss=D(1))
    assert RiskLimit.objects.get(account=route.small).daily_loss == D(375)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"daily_loss": D(0)}, "daily_loss", "must be greater than 0"),
        ({"max_position": 0}, "max_position", "must be greater than 0"),
        ({"exposure_cap": D(-5)}, "exposure_cap", "must be greater than 0"),
        ({"position_cap_pct": D(150)}, "position_cap_pct", "position_cap_pct must be in (0, 100]"),
        ({"consistency_pct": D(0)}, "consistency_pct", "consistency_pct must be in (0, 100]"),
        (
            {"allowed_roots": "MNQ,ES", "denied_roots": "es"},
            "denied_roots",
            "roots both allowed and denied: ES",
        ),
        ({"denied_roots": "MNQ, E-S"}, "denied_roots", "'E-S' is not a product root"),
    ],
)
def test_invalid_limits_then_application_error_on_the_field_and_nothing_saved(
    route: Route, fields: dict[str, object], field: str, message: str
) -> None:
    entries = JournalEntry.objects.count()
    with pytest.raises(ApplicationError) as caught:
        risk_limit_update(account=route.small, actor=route.owner, **fields)
    assert caught.value.field == field
    assert message in caught.value.message
    stored = RiskLimit.objects.get(account=route.small)
    assert (stored.daily_loss, stored.allowed_roots, stored.denied_roots) == (D(375), "", "")
    assert JournalEntry.objects.count() == entries


def test_unknown_field_then_refused(route: Route) -> None:
    with pytest.raises(ApplicationError, match="owner is not a risk limit"):
        risk_limit_update(account=route.small, actor=route.owner, owner=route.owner)
