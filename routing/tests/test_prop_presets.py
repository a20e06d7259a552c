"""Prop-firm presets (routing.prop_presets): each fills exactly the figures
its docstring documents, the limits page offers them and fills the form
without saving, and the figures save as the limits they map to.

Expected figures, written out here from the module docstring's sources (not
read from the module): Topstep Trading Combine 50K / 100K / 150K: daily loss
1,000 / 2,000 / 3,000, Maximum Loss Limit 2,000 / 3,000 / 4,500 trailing end
of day, 5 / 10 / 15 contracts, target 3,000 / 6,000 / 9,000 with the 50%
consistency target. Apex intraday trailing evaluation 50K / 100K / 150K:
no daily loss limit, drawdown 2,500 / 3,000 / 5,000, 10 / 14 / 17
contracts, no consistency rule (target emptied).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Route
from journal.models import EventType, JournalEntry
from routing.models import RiskLimit
from routing.prop_presets import (
    PRESET_FIELDS,
    PRESETS,
    PropPreset,
    preset_form_values,
    preset_get,
)
from tests.reauth import reauthenticated_client

D = Decimal

EXPECTED = {
    "topstep-50k": {
        "daily_loss": D(1000),
        "max_drawdown": D(2000),
        "drawdown_mode": "trailing_eod",
        "max_position": 5,
        "profit_target": D(3000),
        "consistency_pct": D(50),
    },
    "topstep-100k": {
        "daily_loss": D(2000),
        "max_drawdown": D(3000),
        "drawdown_mode": "trailing_eod",
        "max_position": 10,
        "profit_target": D(6000),
        "consistency_pct": D(50),
    },
    "topstep-150k": {
        "daily_loss": D(3000),
        "max_drawdown": D(4500),
        "drawdown_mode": "trailing_eod",
        "max_position": 15,
        "profit_target": D(9000),
        "consistency_pct": D(50),
    },
    "apex-50k": {
        "daily_loss": None,
        "max_drawdown": D(2500),
        "drawdown_mode": "trailing_intraday",
        "max_position": 10,
        "profit_target": None,
    },
    "apex-100k": {
        "daily_loss": None,
        "max_drawdown": D(3000),
        "drawdown_mode": "trailing_intraday",
        "max_position": 14,
        "profit_target": None,
    },
    "apex-150k": {
        "daily_loss": None,
        "max_drawdown": D(5000),
        "drawdown_mode": "trailing_intraday",
        "max_position": 17,
        "profit_target": None,
    },
}
SIZES = {"50k": D(50_000), "100k": D(100_000), "150k": D(150_000)}
TARGETS = {"50k": D(3000), "100k": D(6000), "150k": D(9000)}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_preset_fills_exactly_the_documented_figures(key: str) -> None:
    preset = preset_get(key)
    assert preset is not None
    assert dict(preset.limits) == EXPECTED[key]
    size = key.split("-")[1]
    assert (preset.account_size, preset.firm_target) == (SIZES[size], TARGETS[size])
    assert preset.notes  # the caveats are shown with it


def test_the_presets_are_the_six_documented_and_only_those() -> None:
    assert sorted(p.key for p in PRESETS) == sorted(EXPECTED)
    # The Apex figures not confirmed for 2026 say so on the page.
    for preset in PRESETS:
        unsure = any(note.startswith("Unsure:") for note in preset.notes)
        assert unsure == (preset.firm == "Apex Trader Funding"), preset.key


def test_form_values_are_plain_text_and_empty_for_what_the_firm_lacks() -> None:
    assert preset_form_values(preset_get("topstep-150k")) == {  # type: ignore[arg-type]
        "daily_loss": "3000",
        "max_drawdown": "4500",
        "drawdown_mode": "trailing_eod",
        "max_position": "15",
        "profit_target": "9000",
        "consistency_pct": "50",
    }
    assert preset_form_values(preset_get("apex-50k"))["daily_loss"] == ""  # type: ignore[arg-type]
    assert preset_get("nope") is None


def test_a_preset_with_a_field_that_is_no_preset_field_is_refused() -> None:
    with pytest.raises(ValueError, match="not preset fields: direction"):
        PropPreset("x", "F", "F", D(1), D(1), {"direction": "both"}, ())
    with pytest.raises(ValueError, match="max_drawdown must be > 0"):
        PropPreset("x", "F", "F", D(1), D(1), {"max_drawdown": D(0)}, ())
    assert set(PRESET_FIELDS) >= {k for p in PRESETS for k in p.limits}


# -- on the limits page -------------------------------------------------------------------


@pytest.fixture
def alice_client(route: Route) -> Client:
    return reauthenticated_client(route.owner)


@pytest.mark.django_db
def test_limits_page_offers_every_preset_with_its_data(route: Route, alice_client: Client) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    response = alice_client.get(url)
    page = response.content.decode()
    for preset in PRESETS:
        assert f'data-testid="preset-{preset.key}"' in page
        assert f'href="?preset={preset.key}#presets"' in page
    data = response.context["preset_data"]
    assert data["topstep-50k"]["values"] == preset_form_values(preset_get("topstep-50k"))  # type: ignore[arg-type]
    # Eval 25K's starting balance is 25,000: not the firm's 50,000.
    assert data["topstep-50k"]["size_differs"] is True
    assert '<script id="preset-data" type="application/json">' in page


@pytest.mark.django_db
def test_choosing_a_preset_fills_the_form_and_saves_nothing(
    route: Route, alice_client: Client
) -> None:
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    entries = JournalEntry.objects.count()
    response = alice_client.get(url, {"preset": "apex-100k"})
    form = response.context["form"]
    # The preset's figures over the stored limits (max contracts 5 stays).
    assert {k: form.initial[k] for k in EXPECTED["apex-100k"]} == {
        "daily_loss": "",
        "max_drawdown": "3000",
        "drawdown_mode": "trailing_intraday",
        "max_position": "14",
        "profit_target": "",
    }
    assert form.initial["max_contracts"] == 5
    page = response.content.decode()
    assert "Filled from Apex 100K evaluation (intraday trailing): review" in page
    assert (
        "This account's starting balance is $25,000.00, the firm measures the drawdown "
        "from $100,000" in page
    )
    limit = RiskLimit.objects.get(account=route.small)
    assert (limit.daily_loss, limit.max_drawdown) == (D(375), None)
    assert JournalEntry.objects.count() == entries
    # An unknown preset fills nothing.
    other = alice_client.get(url, {"preset": "nope"})
    assert other.context["preset"] is None and other.context["form"].initial["daily_loss"] == D(375)


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_a_preset_posted_as_filled_saves_exactly_its_figures(
    route: Route, alice_client: Client, key: str
) -> None:
    # Arrange: the form as the page fills it, every other field as stored.
    url = reverse("follower_limits", args=[route.group.pk, route.small_follower.pk])
    form = alice_client.get(url, {"preset": key}).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items() if v is not False}
    # Act
    response = alice_client.post(url, data)
    # Assert
    assert response.status_code == 302
    limit = RiskLimit.objects.get(account=route.small)
    assert {k: getattr(limit, k) for k in EXPECTED[key]} == EXPECTED[key]
    assert limit.max_contracts == 5  # not a preset field: kept
    entry = JournalEntry.objects.filter(event_type=EventType.RISK_LIMIT_CHANGED).last()
    assert entry is not None and entry.actor_label == "alice"
