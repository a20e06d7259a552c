"""Forms for the settings the route file can set beyond the group form:
contract mappings (a formset of leader -> follower product rows) and a
follower's sizing (ratio and sizing basis). The services check again and
say why they refuse; these forms name the field at fault first."""

from __future__ import annotations

from typing import Any

from django import forms

from routing.models import RATIO_MAX, RATIO_MIN, ContractSpec, Follower

SIZING_BASIS_LABELS = {
    "ratio": "Ratio: leader size x copy value x ratio",
    "percent_of_balance": "Percent of balance: also x this account's balance / the leader's",
}


def _product_choices() -> list[tuple[str, str]]:
    """Every product with a contract specification, ``("NQ", "NQ · E-mini Nasdaq-100")``."""
    rows = ContractSpec.objects.order_by("root").values_list("root", "name")
    return [("", "—")] + [(root, f"{root} · {name}") for root, name in rows]


class ContractMappingForm(forms.Form):
    """One leader -> follower product pair; an empty row is skipped."""

    leader_root = forms.ChoiceField(required=False, label="Leader trades")
    follower_root = forms.ChoiceField(required=False, label="Followers trade")

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("leader_root", "follower_root"):
            self.fields[name].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("DELETE"):
            return cleaned
        leader, follower = cleaned.get("leader_root"), cleaned.get("follower_root")
        if leader and not follower:
            self.add_error("follower_root", "Choose what followers trade (or clear the row).")
        elif follower and not leader:
            self.add_error("leader_root", "Choose what the leader trades (or clear the row).")
        elif leader and leader == follower:
            self.add_error(
                "follower_root",
                f"{leader} to {leader} changes nothing: followers already trade the leader's "
                "product without a mapping.",
            )
        return cleaned


class BaseContractMappingFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    """The group's mapping rows: each leader product at most once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.choices = _product_choices()
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "choices": self.choices}

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, str] = {}
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            leader = form.cleaned_data.get("leader_root")
            if not leader:
                continue
            if leader in seen:
                form.add_error(
                    "leader_root",
                    f"{leader} is already mapped to {seen[leader]}: one row per leader product.",
                )
            else:
                seen[leader] = form.cleaned_data["follower_root"]
        if any(self.errors):
            raise forms.ValidationError("Fix the rows marked below.")

    def pairs(self) -> list[tuple[str, str]]:
        """The (leader root, follower root) pairs kept: filled rows not marked for removal."""
        kept = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            leader = form.cleaned_data.get("leader_root")
            follower = form.cleaned_data.get("follower_root")
            if leader and follower:
                kept.append((leader, follower))
        return kept


ContractMappingFormSet = forms.formset_factory(
    ContractMappingForm,
    formset=BaseContractMappingFormSet,
    extra=2,
    can_delete=True,
    max_num=50,
    validate_max=True,
)


class FollowerSettingsForm(forms.Form):
    """A follower's sizing: ``follower_update`` takes ``cleaned_data`` as is."""

    ratio = forms.DecimalField(
        min_value=RATIO_MIN,
        max_value=RATIO_MAX,
        max_digits=10,
        decimal_places=4,
        help_text=f"{RATIO_MIN} to {RATIO_MAX}.",
    )
    sizing_basis = forms.ChoiceField(
        choices=[
            (code, SIZING_BASIS_LABELS.get(code, code)) for code in Follower.SizingBasis.values
        ],
        widget=forms.RadioSelect,
        help_text="Percent of balance keeps each account's size in proportion to its balance: "
        "a $50,000 follower of a $150,000 leader at ratio 1 copies a third of the leader.",
    )
