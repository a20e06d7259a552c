"""Forms of the following pages: a plan to pick, mirroring to switch on, a
pilot to publish. They parse input only; the rules are the services' (their
refusals come back as form errors with the service's sentence)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from accounts.models import BrokerAccount, User
from pilots.models import Plan
from routing.models import RATIO_MAX, RATIO_MIN, Follower


class SubscribeForm(forms.Form):
    """The paper balance the watch period simulates the pilot on (dollars;
    blank: the pilot's nominal size)."""

    watch_balance = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=14, decimal_places=2,
        label="Paper balance for the watch period ($)",
    )


class PlanPickForm(forms.Form):
    """One of the plans staff created."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("max_pilots", "name"))


class _AccountChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_kind_display()}, {obj.get_platform_display()})"


class MirrorForm(forms.Form):
    """Which of the subscriber's accounts mirrors the pilot, at which ratio.

    Every account of the user but the watch accounts is offered with its
    kind: the service refuses evaluation and funded accounts with the reason
    (prop firms forbid copying another person's trades), which the page shows.
    """

    account = _AccountChoice(
        queryset=BrokerAccount.objects.none(),
        help_text="A personal account: prop-firm accounts may not copy another person's trades.",
    )
    ratio = forms.DecimalField(
        min_value=RATIO_MIN,
        max_value=RATIO_MAX,
        max_digits=10,
        decimal_places=4,
        initial=Decimal(1),
        help_text="Your contracts per contract of the pilot.",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            BrokerAccount.objects.filter(owner=owner)
            .exclude(platform=BrokerAccount.Platform.PAPER, external_id__startswith="watch-")
            .order_by("name")
        )


class PublishForm(forms.Form):
    """A leader account to publish as a pilot, its name, markets and size."""

    account = _AccountChoice(
        queryset=BrokerAccount.objects.none(),
        help_text="One of your accounts that trades on its own (follows no group).",
    )
    display_name = forms.CharField(max_length=60)
    markets = forms.CharField(
        max_length=200,
        help_text="Product roots you trade, separated by commas, e.g. NQ, MNQ.",
    )
    nominal_balance = forms.DecimalField(
        max_digits=16,
        decimal_places=2,
        label="Nominal account size ($)",
        help_text="Returns and drawdowns are measured against it.",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)
        following = Follower.objects.filter(account__owner=owner).values("account_id")
        field.queryset = (
            BrokerAccount.objects.filter(owner=owner)
            .exclude(pk__in=following)
            .exclude(pilot__isnull=False)
            .order_by("name")
        )

    def clean_markets(self) -> list[str]:
        """The roots as a list, upper-cased, blanks dropped."""
        raw: str = self.cleaned_data["markets"]
        markets = [m.strip().upper() for m in raw.replace(";", ",").split(",") if m.strip()]
        if not markets:
            raise forms.ValidationError("Name at least one market, e.g. NQ.")
        return markets
