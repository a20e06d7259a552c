"""Forms for the dashboard (Django forms: validation and error display)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from accounts.models import BrokerAccount, User
from journal.importers.base import DEFAULT_TIMEZONE
from routing.engine import types as engine_types
from routing.engine.bounds import MAX_CONTRACTS, quantity_problem
from routing.engine.limits import POSITIVE_LIMITS, RouteLevel
from routing.models import RATIO_MAX, RATIO_MIN, CopyGroup, RiskLimit
from routing.services.risk_limits import RISK_LIMIT_FIELDS
from routing.uploads import format_bytes, upload_size_problem

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text += (
            f" At most {format_bytes(settings.UPLOAD_MAX_BYTES)} and "
            f"{settings.UPLOAD_MAX_ROWS:,} rows; read in the background."
        )

    def clean_file(self) -> UploadedFile:
        # The cap is checked here whatever handler received the file; the
        # upload view's handler has already dropped an oversize file's bytes.
        upload: UploadedFile = self.cleaned_data["file"]
        size = upload.size or 0
        problem = upload_size_problem(upload.name or "", size, settings.UPLOAD_MAX_BYTES)
        if problem is not None:
            raise forms.ValidationError(problem)
        return upload


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
    "static": "Static: from the starting balance",
    "trailing_intraday": "Trailing intraday: open profit raises it (Apex)",
    "trailing_eod": "Trailing end of day: closing balances raise it (Topstep)",
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


# Route limits (issue "The risk engine", Route budget) on the group forms.
ROUTE_LIMIT_FIELDS = (
    "max_accounts",
    "max_contracts_per_account",
    "max_total_contracts",
    "max_session_loss",
    "stop_ticks",
    "slippage_ticks",
    "max_slippage_ticks",
)
# Empty means no limit; a value must be > 0: 0 would read as "no limit"
# downstream, the opposite of what it says (fail closed).
_ROUTE_POSITIVE = (
    "max_accounts",
    "max_contracts_per_account",
    "max_total_contracts",
    "max_session_loss",
    "stop_ticks",
)
_POSITIVE_MESSAGE = "Must be greater than 0 (leave empty for no limit)."


# Fields that count contracts: 1 to 10,000 (routing.engine.bounds, issue 10, defect 8).
_CONTRACT_FIELDS = (
    "max_contracts",
    "max_position",
    "max_contracts_per_account",
    "max_total_contracts",
)


def _bound_contracts(form: forms.BaseForm) -> None:
    """Cap the form's contract-count fields at 10,000 (validator and the input's ``max``).

    Money fields need nothing here: a model form's ``DecimalField`` already
    checks the column's ``max_digits``/``decimal_places``.
    """
    for name in _CONTRACT_FIELDS:
        field = form.fields.get(name)
        if isinstance(field, forms.IntegerField):
            field.max_value = MAX_CONTRACTS
            field.validators.append(_contracts_validator)
            field.widget.attrs["max"] = str(MAX_CONTRACTS)


def _contracts_validator(value: int) -> None:
    # The lower bound (> 0) is ``_positive``'s, with the form's own message.
    problem = quantity_problem(value) if value > MAX_CONTRACTS else None
    if problem is not None:
        raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")


def _positive(form: forms.BaseForm, names: tuple[str, ...]) -> None:
    """Add an error on each of ``names`` whose cleaned value is ≤ 0."""
    for name in names:
        value = form.cleaned_data.get(name)
        if value is not None and value <= 0:
            form.add_error(name, _POSITIVE_MESSAGE)


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
            *ROUTE_LIMIT_FIELDS,
        ]
        help_texts = {
            "leader": "The account whose fills are copied. It cannot change after creation.",
            "copy_value": "Multiplier mode: x leader qty. Fixed mode: contracts per follower.",
            "rounding": "How fractional contracts become whole ones.",
            "sizing_mode": "Notional keeps dollars per point across mini/micro (1 ES = 10 MES).",
            "partial_exit": "Exit with leader ignores scale-outs; exits when the leader is flat.",
            "max_accounts": "Followers that receive entries (the first enabled ones); empty: all.",
            "max_contracts_per_account": "Contracts one follower may hold on this route.",
            "max_total_contracts": "Contracts across all followers (level 2 Reduced needs it).",
            "max_session_loss": "Dollars lost across all followers this session; reached: no "
            "entries.",
            "stop_ticks": "Stop distance in ticks: risk per contract = (stop + slippage ticks) x "
            "tick value. Empty: exposure cannot be computed.",
            "slippage_ticks": "Slippage allowance in ticks, added to the stop distance.",
            "max_slippage_ticks": "A fill further than this from the leader's price locks the "
            "route (level 4).",
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        _bound_contracts(self)
        if "slippage_ticks" in self.fields:
            self.fields["slippage_ticks"].required = False  # empty: no allowance (0)
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

    def clean_slippage_ticks(self) -> int:
        # Optional on the form (empty: no allowance); the column is not null.
        value: int | None = self.cleaned_data.get("slippage_ticks")
        return 0 if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _positive(self, _ROUTE_POSITIVE)
        return cleaned

    def route_limits(self) -> dict[str, Any]:
        """The cleaned route limit fields (for ``copy_group_update`` after a create)."""
        return {name: self.cleaned_data[name] for name in ROUTE_LIMIT_FIELDS}

    def group_settings(self) -> dict[str, Any]:
        """The cleaned fields but the route limits (``copy_group_create``'s arguments)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in ROUTE_LIMIT_FIELDS}


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
    sizing_basis = forms.ChoiceField(
        choices=[
            ("ratio", "Ratio"),
            ("percent_of_balance", "Percent of balance (x its balance / the leader's)"),
        ],
        initial="ratio",
        required=False,  # a form posted without it (a script) keeps the model's default
        help_text="Percent of balance also scales by this account's balance over the leader's.",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = BrokerAccount.objects.filter(owner=owner).order_by("name")
        _offer_only(
            self.fields["account"],  # type: ignore[arg-type]
            valid=own,
            offered=own.filter(memberships__isnull=True, led_groups__isnull=True),
        )

    def clean_sizing_basis(self) -> str:
        return self.cleaned_data.get("sizing_basis") or "ratio"


class RouteLevelForm(forms.Form):
    """A new route level and why (``route_level_set``: leaving 4 needs the reason)."""

    level = forms.TypedChoiceField(
        choices=[(m.value, m.label) for m in RouteLevel],
        coerce=lambda v: RouteLevel(int(v)),
        help_text="0 Off: no entries · 1 Test: 1 contract per follower, no scaling · "
        "2 Reduced: total capped, needs a review each session · 3 Active · 4 Locked.",
    )
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Journaled with the change; required to leave 4 Locked.",
    )


class RiskLimitForm(forms.ModelForm):
    """Every risk limit of one account; ``risk_limit_update`` takes
    ``cleaned_data`` as is (and checks the limits together)."""

    class Meta:
        model = RiskLimit
        fields = list(RISK_LIMIT_FIELDS)
        labels = {
            "daily_loss": "Daily loss limit ($)",
            "daily_profit_target": "Daily profit target ($)",
            "max_contracts": "Max contracts per order",
            "max_position": "Max contracts per position",
            "position_cap_pct": "Position cap (% of balance)",
            "exposure_cap": "Exposure cap ($)",
            "max_drawdown": "Max drawdown ($)",
            "profit_target": "Profit target ($)",
            "consistency_pct": "Consistency (% of profit target per session)",
        }
        help_texts = {
            "daily_profit_target": "Once the session's PnL (realized + unrealized) reaches this, "
            "no new entries until the next session; exits still copy, nothing is closed.",
            "on_breach": "What an entry that breaks a quantity or exposure cap does.",
            "allowed_roots": "Comma-separated product roots (MNQ, ES…); empty: all.",
            "denied_roots": "Comma-separated product roots never copied.",
            "direction": "Which way entries may open positions; exits always pass.",
            "drawdown_mode": "Static: from the starting balance; trailing: from the high-water "
            "mark (intraday or end of day), locking at the starting balance.",
            "profit_target": "The evaluation's target: the base of the consistency lock below "
            "(not a daily stop; that is the daily profit target).",
            "consistency_pct": "Once the session's realized profit exceeds this share of the "
            "profit target, no more entries this session.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _bound_contracts(self)
        for name in ("on_breach", "direction", "drawdown_mode"):
            field = self.fields[name]
            field.choices = [  # type: ignore[attr-defined]
                (code, _label(code))
                for code, _ in field.choices  # type: ignore[attr-defined]
            ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _positive(self, POSITIVE_LIMITS)
        for name in ("position_cap_pct", "consistency_pct"):
            value = cleaned.get(name)
            if value is not None and not 0 < value <= 100:
                self.add_error(name, "A percent greater than 0, at most 100.")
        return cleaned
