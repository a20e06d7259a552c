"""Admin for plans, pilots and subscriptions.

Staff assign plans here (payment is out of scope, issue 11): the change goes
through :func:`pilots.subscriptions.user_plan_set`, so the plan rules hold
and it is journaled with the staff member who made it and the reason the
form asks for (issue 14). Pilots are reviewed
here (the review desk: a queue of pilots to review, each with its record's
evidence, decided through :func:`pilots.review.pilot_review`); otherwise
pilots and subscriptions are read-only: they change through their services.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from accounts.models import User
from copytrade.admin_service import ReasonForm
from copytrade.core.errors import ApplicationError
from pilots.models import Pilot, Plan, Subscription, UserPlan
from pilots.review import (
    DECISIONS,
    pilot_review,
    pilots_to_review,
    review_evidence,
    reviewer_can_review,
)
from pilots.subscriptions import user_plan_problem, user_plan_set


class UserPlanForm(ReasonForm):
    """Refuses, as a form error, a plan the user's subscriptions exceed; asks
    for the reason the journal keeps with the staff member's name."""

    class Meta:
        model = UserPlan
        fields = ("user", "plan", "reason")

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
        held = user_plan_set(
            user=obj.user,
            plan=obj.plan,
            at=timezone.now(),
            actor=cast(User, request.user),
            reason=form.cleaned_data["reason"],
        )
        obj.pk, obj.started_at, obj.ends_at = held.pk, held.started_at, held.ends_at


class ReviewQueueFilter(admin.SimpleListFilter):
    """The pilots list opens on the review queue (:func:`pilots.review.pilots_to_review`);
    "All pilots" shows every one."""

    title = "review queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("review", "To review"), ("all", "All pilots")]

    def value(self) -> str:
        return super().value() or "review"

    def choices(self, changelist: Any) -> Any:
        # Without this the default "All" link would duplicate "All pilots"
        # while the queue is what an empty query string shows.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Pilot]) -> QuerySet[Pilot]:
        if self.value() == "all":
            return queryset
        return queryset.filter(pk__in=pilots_to_review().values("pk"))


class ReviewForm(forms.Form):
    """One decision on a pilot, with the written reason the pilot will read."""

    decision = forms.ChoiceField(
        choices=[(d.value, d.label) for d in DECISIONS], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Required. The pilot sees this note with the decision.",
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("a review needs a written reason")
        return reason


@admin.register(Pilot)
class PilotAdmin(admin.ModelAdmin):
    """The review desk: the list is the queue (flagged first), the change
    page shows the record's evidence and the review form. Pilots are
    otherwise read-only here: they change through their services."""

    list_display = (
        "display_name",
        "owner",
        "review",
        "flagged",
        "listed",
        "published_at",
        "record_computed_at",
    )
    list_filter = (ReviewQueueFilter, "review", "record__flagged")
    search_fields = ("display_name", "owner__username")
    change_form_template = "admin/pilots/pilot/change_form.html"
    readonly_fields = (
        "display_name",
        "owner",
        "account",
        "markets",
        "nominal_balance",
        "published_at",
        "review",
        "reviewed_at",
        "review_note",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Pilot]:
        return super().get_queryset(request).select_related("owner", "record")

    @admin.display(boolean=True, description="flagged", ordering="record__flagged")
    def flagged(self, obj: Pilot) -> bool | None:
        record = getattr(obj, "record", None)
        return None if record is None else record.flagged

    @admin.display(boolean=True, description="listed", ordering="record__listed")
    def listed(self, obj: Pilot) -> bool | None:
        record = getattr(obj, "record", None)
        return None if record is None else record.listed

    @admin.display(description="record computed", ordering="record__computed_at")
    def record_computed_at(self, obj: Pilot) -> Any:
        record = getattr(obj, "record", None)
        return None if record is None else record.computed_at

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The page is read-only; reviews post to review_view, which checks
        # the change permission itself (reviewer_can_review).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        review = path(
            "<int:pk>/review/",
            self.admin_site.admin_view(self.review_view),
            name="pilots_pilot_review",
        )
        return [review, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        pilot = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if pilot is not None:
            context.setdefault("review_form", ReviewForm())
            context["evidence"] = review_evidence(pilot)
            context["can_review"] = reviewer_can_review(request.user)
            context["review_url"] = reverse("admin:pilots_pilot_review", args=[pilot.pk])
        return super().change_view(request, object_id, form_url, extra_context=context)

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Apply the posted decision through :func:`pilots.review.pilot_review`
        and go back to the queue; a missing reason re-shows the page."""
        pilot = get_object_or_404(Pilot, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:pilots_pilot_change", args=[pk]))
        if not reviewer_can_review(request.user):
            raise PermissionDenied
        form = ReviewForm(request.POST)
        if form.is_valid():
            try:
                pilot = pilot_review(
                    pilot=pilot,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                    actor=cast(User, request.user),  # a staff user: checked above
                    at=timezone.now(),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"{pilot.display_name}: {pilot.get_review_display()}. "
                    "The decision and reason are in the pilot's journal.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:pilots_pilot_changelist"))
        # Shown again as a GET, so the read-only change page renders the errors.
        request.method = "GET"
        return self.change_view(request, str(pk), extra_context={"review_form": form})


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "pilot", "status", "started_at", "watch_ends_at")
    list_filter = ("status",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A subscription ends through its service (journaled), never by a row delete.
        return False
