"""Forms refuse impossible quantities and amounts on the field (issue 10, defect 8)."""

from __future__ import annotations

import pytest

from accounts.models import User
from routing.forms import CopyGroupForm, RiskLimitForm

pytestmark = pytest.mark.django_db
TOO_MANY = "must be 1 to 10,000 contracts"


@pytest.mark.parametrize("name", ["max_contracts", "max_position"])
def test_risk_limit_contracts_above_ten_thousand_are_refused_on_the_field(name: str) -> None:
    form = RiskLimitForm(data={name: "10001"})

    assert not form.is_valid()
    assert any(TOO_MANY in message for message in form.errors[name])


def test_risk_limit_ten_thousand_contracts_is_accepted_on_the_field() -> None:
    form = RiskLimitForm(data={"max_contracts": "10000", "max_position": "10000"})

    form.is_valid()

    assert "max_contracts" not in form.errors
    assert "max_position" not in form.errors
    assert form.fields["max_contracts"].widget.attrs["max"] == "10000"


def test_risk_limit_money_beyond_its_column_is_refused_on_the_field() -> None:
    form = RiskLimitForm(data={"daily_loss": "1" + "0" * 16})

    assert not form.is_valid()
    assert "daily_loss" in form.errors


@pytest.mark.parametrize("name", ["max_contracts_per_account", "max_total_contracts"])
def test_route_contracts_above_ten_thousand_are_refused_on_the_field(
    alice: User, name: str
) -> None:
    form = CopyGroupForm(data={name: "10001"}, owner=alice)

    assert not form.is_valid()
    assert any(TOO_MANY in message for message in form.errors[name])
