"""Admin for plans, pilots and subscriptions.

Staff assign plans here (payment is out of scope, issue 11): the change goes
through :func:`pilots.subscriptions.user_plan_set`, so the plan rules hold
and it is journaled with the staff member who made it. Pilots and
subscriptions are read-only here: they change through their services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from pilots.models import Pilot, Plan, Subscription, UserPlan
from pilots.subscriptions import user_plan_problem, user_plan_set


class UserPlanForm(forms.ModelForm):
    """Refuses, as a form error, a plan the user's subscriptions exceed."""

    class Meta:
        model = UserPlan
        fields = ("user", "plan")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user = data.get("user") or getattr(self.instance, "user", None)
        plan = data.get("plan")
        if user is not None and plan is not None:
            problem = user_plan_problem(user=user, plan=plan)
            if problem is not None:
                self.add_error("plan", problem)
        return data


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "term", "max_pilots")


@admin.register(UserPlan)
class UserPlanAdmin(admin.ModelAdmin):
    list_display = ("user", "plan", "started_at", "ends_at")
    form = UserPlanForm
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: UserPlan, form: Any, change: bool) -> None:
        # Through the service: rules checked again under the user's lock,
        # dates from the plan's term, journaled with the staff member.
        held = user_plan_set(user=obj.user, plan=obj.plan, at=timezone.now(), actor=request.user)
        obj.pk, obj.started_at, obj.ends_at = held.pk, held.started_at, held.ends_at


@admin.register(Pilot)
class PilotAdmin(admin.ModelAdmin):
    list_display = ("display_name", "owner", "published_at", "review", "nominal_balance")
    list_filter = ("review",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "pilot", "status", "started_at", "watch_ends_at")
    list_filter = ("status",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
