"""Settings pages beyond the group form, so the dashboard sets everything a
route file can (issue 13): a group's contract mappings, a follower's sizing
(ratio and sizing basis) and an account's risk limits with prop-firm
presets. Views parse, call a service and render; owners only (another
user's group or follower is 404)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from copytrade.core.errors import ApplicationError
from routing.engine.watch import plain
from routing.forms import RiskLimitForm
from routing.models import CopyGroup, Follower, RiskLimit
from routing.prop_presets import COMPILED_ON, PRESETS, preset_form_values, preset_get
from routing.services.contract_mappings import contract_mapping_pairs, contract_mappings_set
from routing.services.group_rules import follower_update
from routing.services.risk_limits import risk_limit_update
from routing.settings_forms import ContractMappingFormSet, FollowerSettingsForm
from routing.view_lookups import RACE_MESSAGE, follower_or_404, group_or_404

# -- contract mappings ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def group_mappings(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET the group's contract mappings as editable rows (plus empty ones);
    POST replaces them through ``contract_mappings_set`` (journaled); bad
    rows are shown with their error (400)."""
    group = group_or_404(request, group_id)
    stored = contract_mapping_pairs(group)
    initial = [{"leader_root": k, "follower_root": v} for k, v in stored.items()]
    if request.method != "POST":
        formset = ContractMappingFormSet(initial=initial, prefix="mappings")
        return _render_mappings(request, group, formset, stored)
    formset = ContractMappingFormSet(request.POST, initial=initial, prefix="mappings")
    if formset.is_valid():
        try:
            changed = contract_mappings_set(
                group=group,
                actor=request.user,  # type: ignore[arg-type]
                pairs=formset.pairs(),
            )
        except ApplicationError as exc:
            formset._non_form_errors = formset.error_class([exc.message])  # type: ignore[attr-defined]
        except IntegrityError:
            formset._non_form_errors = formset.error_class([RACE_MESSAGE])  # type: ignore[attr-defined]
        else:
            if changed:
                messages.success(request, f"Saved the contract mappings of {group.name}.")
            else:
                messages.info(request, f"Nothing changed in the contract mappings of {group.name}.")
            return redirect("group_mappings", group_id=group.pk)
    return _render_mappings(request, group, formset, stored, status=400)


def _render_mappings(
    request: HttpRequest,
    group: CopyGroup,
    formset: Any,
    stored: dict[str, str],
    status: int = 200,
) -> HttpResponse:
    context = {"group": group, "formset": formset, "stored": stored}
    return render(request, "routing/group_mappings.html", context, status=status)


# -- follower sizing --------------------------------------------------------------------


def _factor_text(follower: Follower, group: CopyGroup) -> str:
    """What a leader contract becomes for this follower now, in words."""
    factor = group.copy_value * follower.ratio
    text = f"copy value {plain(group.copy_value)} x ratio {plain(follower.ratio)}"
    if follower.sizing_basis == "percent_of_balance":
        leader = group.leader.balance
        if leader and follower.account.balance:
            factor = factor * follower.account.balance / leader
        text += (
            f" x balance {plain(follower.account.balance or Decimal(0))} / leader balance "
            f"{plain(leader or Decimal(0))}"
        )
    shown = plain(factor.quantize(Decimal("0.0001")))
    return f"{text} = {shown} follower contracts per leader contract, before rounding"


@login_required
@require_http_methods(["GET", "POST"])
def follower_settings(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """GET a follower's sizing (ratio, sizing basis); POST saves it through
    ``follower_update`` (journaled; errors on the field at fault, 400)."""
    group = group_or_404(request, group_id)
    follower = follower_or_404(group, follower_id)
    status = 200
    if request.method != "POST":
        form = FollowerSettingsForm(
            initial={"ratio": plain(follower.ratio), "sizing_basis": follower.sizing_basis}
        )
    else:
        form = FollowerSettingsForm(request.POST)
        if form.is_valid():
            try:
                changed = follower_update(
                    follower=follower,
                    actor=request.user,  # type: ignore[arg-type]
                    data=form.cleaned_data,
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                name = follower.account.name
                if changed:
                    messages.success(request, f"Saved the sizing of {name}.")
                else:
                    messages.info(request, f"Nothing changed in the sizing of {name}.")
                return redirect("group_detail", group_id=group.pk)
        status = 400
    context = {
        "group": group,
        "follower": follower,
        "form": form,
        "factor": _factor_text(follower, group),
    }
    return render(request, "routing/follower_settings.html", context, status=status)


# -- risk limits and prop-firm presets ----------------------------------------------------


def _preset_context(account_size: Decimal | None) -> dict[str, Any]:
    """The presets as the page lists them and its script reads them."""
    return {
        "presets": PRESETS,
        "presets_compiled_on": COMPILED_ON,
        "preset_data": {
            p.key: {
                "label": p.label,
                "values": preset_form_values(p),
                "notes": list(p.notes),
                "account_size": format(p.account_size, "f"),
                "size_differs": account_size is not None and account_size != p.account_size,
            }
            for p in PRESETS
        },
    }


@login_required
@require_http_methods(["GET", "POST"])
def follower_limits(request: HttpRequest, group_id: int, follower_id: int) -> HttpResponse:
    """GET every risk limit of a follower's account (``?preset=KEY`` fills
    the form with a prop firm's figures, unsaved); POST saves them through
    ``risk_limit_update`` (journaled; errors on the field at fault, 400)."""
    group = group_or_404(request, group_id)
    follower = follower_or_404(group, follower_id)
    account = follower.account
    stored = RiskLimit.objects.filter(account=account).first()
    # The form writes into its instance while validating: never the stored row.
    instance = copy.copy(stored) if stored is not None else RiskLimit(account=account)
    preset = None
    status = 200
    if request.method != "POST":
        preset = preset_get(request.GET.get("preset", ""))
        initial = preset_form_values(preset) if preset is not None else None
        form = RiskLimitForm(instance=instance, initial=initial)
    else:
        form = RiskLimitForm(request.POST, instance=instance)
        if form.is_valid():
            try:
                changed = risk_limit_update(
                    account=account,
                    actor=request.user,  # type: ignore[arg-type]
                    **form.cleaned_data,
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if changed:
                    messages.success(request, f"Saved the risk limits of {account.name}.")
                else:
                    messages.info(request, f"Nothing changed in the risk limits of {account.name}.")
                return redirect("group_detail", group_id=group.pk)
        status = 400
    context = {
        "group": group,
        "follower": follower,
        "form": form,
        "preset": preset,
        **_preset_context(account.starting_balance),
    }
    return render(request, "routing/follower_limits.html", context, status=status)
