"""Forms for the dashboard (Django forms: validation and error display)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.db.models import QuerySet

from accounts.models import BrokerAccount, User
from journal.importers.base import DEFAULT_TIMEZONE
from routing.engine import types as engine_types
from routing.models import RATIO_MAX, RATIO_MIN, CopyGroup

_ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)
_COMMON = [
    "UTC",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "Asia/Jerusalem",
]


class ExportUploadForm(forms.Form):
    """An export to import and replay into one of the user's groups."""

    file = forms.FileField(
        help_text="Tradovate Fills / Performance / Position History, NinjaTrader 8 "
        "Executions, or a TopstepX trade dump (journal only)."
    )
    timezone = forms.ChoiceField(
        choices=[(z, z) for z in _COMMON] + [(z, z) for z in _ZONES if z not in _COMMON],
        initial=DEFAULT_TIMEZONE,
        help_text="Zone of timestamps that carry none (Tradovate, NinjaTrader write local time).",
    )
    leader_account = forms.CharField(
        required=False,
        max_length=100,
        help_text="For files with several accounts: whose fills lead.",
    )
    interval_ms = forms.IntegerField(
        min_value=0,
        max_value=60_000,
        initial=1000,
        help_text="Milliseconds between replayed leader fills.",
    )


# Readable labels for the model's choice codes (the model labels them with the
# enum names). A code missing here is shown as its own words.
_CHOICE_LABELS = {
    "multiplier": "Multiplier: leader qty x copy value x ratio",
    "fixed": "Fixed: copy value x ratio (leader size ignored)",
    "entry_down_exit_up": "Entry down, exit up",
    "nearest": "Nearest",
    "always_down": "Always down",
    "contracts": "Contracts: the count as is",
    "notional": "Notional: dollars per point preserved",
    "proportional": "Proportional",
    "exit_with_leader": "Exit with leader",
}


def _label(code: str) -> str:
    return _CHOICE_LABELS.get(code, code.replace("_", " ").capitalize())


# The choice fields shown with readable labels (the model labels them by enum name).
_ENGINE_CHOICES: dict[str, type[StrEnum]] = {
    "copy_mode": engine_types.CopyMode,
    "rounding": engine_types.RoundingMode,
    "sizing_mode": engine_types.SizingMode,
    "partial_exit": engine_types.PartialExit,
}


def _account_label(account: BrokerAccount) -> str:
    return f"{account.name} ({account.get_kind_display().lower()})"


def _offer_only(
    field: forms.ModelChoiceField,
    *,
    valid: QuerySet[BrokerAccount],
    offered: QuerySet[BrokerAccount],
) -> None:
    """Accept any of ``valid`` but list only ``offered`` in the select.

    An account that is valid but no longer offered (it became a follower
    since the page loaded) then reaches the service, whose sentence says why
    it is refused, rather than Django's "not one of the available choices".
    """
    field.queryset = valid
    field.widget.choices = [("", field.empty_label or "---------")] + [
        (account.pk, _account_label(account)) for account in offered
    ]


class CopyGroupForm(forms.ModelForm):
    """A new copy group; ``copy_group_create`` takes ``cleaned_data`` as is.

    The leader select offers the owner's accounts that follow no group.
    """

    class Meta:
        model = CopyGroup
        fields = [
            "name",
            "leader",
            "copy_mode",
            "copy_value",
            "sizing_mode",
            "rounding",
            "auto_micro",
            "quarantine",
            "partial_exit",
        ]
        help_texts = {
            "leader": "The account whose fills are copied. It cannot change after creation.",
            "copy_value": "Multiplier mode: x leader qty. Fixed mode: contracts per follower.",
            "rounding": "How fractional contracts become whole ones.",
            "sizing_mode": "Notional keeps dollars per point across mini/micro (1 ES = 10 MES).",
            "partial_exit": "Exit with leader ignores scale-outs; exits when the leader is flat.",
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        for name, enum in _ENGINE_CHOICES.items():
            if name in self.fields:
                field = self.fields[name]
                field.choices = [(m.value, _label(m.value)) for m in enum]  # type: ignore[attr-defined]
        if "leader" in self.fields:
            own = BrokerAccount.objects.filter(owner=owner).order_by("name")
            _offer_only(
                self.fields["leader"],  # type: ignore[arg-type]
                valid=own,
                offered=own.filter(memberships__isnull=True),
            )

    def clean_name(self) -> str:
        # (owner, name) is unique; the model form cannot check it, owner is not a field.
        name: str = self.cleaned_data["name"].strip()
        taken = CopyGroup.objects.filter(owner=self.owner, name=name)
        if self.instance.pk is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"You already have a group named {name!r}.")
        return name

    def clean_copy_value(self) -> Decimal:
        value: Decimal = self.cleaned_data["copy_value"]
        if value <= 0:
            raise forms.ValidationError("Copy value must be greater than 0.")
        return value


class CopyGroupSettingsForm(CopyGroupForm):
    """A group's settings after creation: everything but the leader, which is
    fixed (DESIGN.md); ``copy_group_update`` takes ``cleaned_data`` as is."""

    class Meta(CopyGroupForm.Meta):
        fields = [name for name in CopyGroupForm.Meta.fields if name != "leader"]


class FollowerAddForm(forms.Form):
    """An account to add to a group as a follower, and its ratio.

    The select offers the owner's accounts that neither lead nor follow.
    """

    account = forms.ModelChoiceField(queryset=BrokerAccount.objects.none())
    ratio = forms.DecimalField(
        min_value=RATIO_MIN,
        max_value=RATIO_MAX,
        max_digits=10,
        decimal_places=4,
        initial=Decimal(1),
        help_text=f"Follower size = leader size x copy value x ratio ({RATIO_MIN} to {RATIO_MAX}).",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = BrokerAccount.objects.filter(owner=owner).order_by("name")
        _offer_only(
            self.fields["account"],  # type: ignore[arg-type]
            valid=own,
            offered=own.filter(memberships__isnull=True, led_groups__isnull=True),
        )
