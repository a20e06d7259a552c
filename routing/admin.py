"""Admin: every change goes through the routing services with the staff
member as actor and a written reason, and is journaled like a change on the
dashboard (:mod:`copytrade.admin_service`). History (copy orders, leader
events) is read-only; contract specifications come from the committed table
(``contract_specs_sync``) and are read-only too.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.models import User
from copytrade.admin_service import HistoryAdmin, ReasonForm, ServiceAdmin
from routing.engine.limits import RouteLevel
from routing.models import (
    ContractSpec,
    CopyGroup,
    CopyOrder,
    Follower,
    LeaderEvent,
    Quarantine,
    RiskLimit,
)
from routing.services.group_rules import (
    copy_group_pause,
    copy_group_resume,
    copy_group_update,
    follower_pause,
    follower_resume,
    follower_update,
)
from routing.services.quarantines import quarantine_release
from routing.services.risk_limits import RISK_LIMIT_FIELDS, risk_limit_update
from routing.services.route_levels import route_level_set

# Shown, never edited here: fixed at creation (leader, owner), kept by
# their own services (level reason and time, the session review) or set
# when a pilot's route is made (pilot_route).
_GROUP_READONLY = (
    "owner",
    "leader",
    "pilot_route",
    "level_reason",
    "level_changed_at",
    "reviewed_on",
    "reviewed_by",
)


class FollowerInline(admin.TabularInline):
    """The group's followers, shown; each is changed on its own page
    (ratio, sizing, pause), through the services."""

    model = Follower
    extra = 0
    fields = ("account", "ratio", "sizing_basis", "enabled")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CopyGroupForm(ReasonForm):
    class Meta:
        model = CopyGroup
        exclude = _GROUP_READONLY


@admin.register(CopyGroup)
class CopyGroupAdmin(ServiceAdmin):
    """Settings through ``copy_group_update``, the enabled flag through
    pause / resume, the level through ``route_level_set`` (leaving level 4
    needs the reason the form asks for anyway)."""

    form = CopyGroupForm
    list_display = ("name", "owner", "leader", "level", "copy_mode", "copy_value", "enabled")
    list_filter = ("level", "enabled")
    readonly_fields = _GROUP_READONLY
    inlines = [FollowerInline]

    def service_apply(
        self, *, request: HttpRequest, obj: Any, changes: dict[str, Any], reason: str, actor: User
    ) -> None:
        level = changes.pop("level", None)
        enabled = changes.pop("enabled", None)
        if level is not None:
            route_level_set(group=obj, level=RouteLevel(int(level)), actor=actor, reason=reason)
        if enabled is True:
            copy_group_resume(group=obj, actor=actor, reason=reason)
        elif enabled is False:
            copy_group_pause(group=obj, actor=actor, reason=reason)
        if changes:
            copy_group_update(group=obj, actor=actor, data=changes, reason=reason)


class FollowerForm(ReasonForm):
    class Meta:
        model = Follower
        fields = ("ratio", "sizing_basis", "enabled")


@admin.register(Follower)
class FollowerAdmin(ServiceAdmin):
    """Ratio and sizing through ``follower_update``, enabled through pause /
    resume; membership itself is made and ended on the dashboard."""

    form = FollowerForm
    list_display = ("account", "group", "ratio", "sizing_basis", "enabled")
    readonly_fields = ("group", "account")
    fields = ("group", "account", "ratio", "sizing_basis", "enabled", "reason")

    def service_apply(
        self, *, request: HttpRequest, obj: Any, changes: dict[str, Any], reason: str, actor: User
    ) -> None:
        enabled = changes.pop("enabled", None)
        if changes:
            follower_update(follower=obj, actor=actor, data=changes, reason=reason)
        if enabled is True:
            follower_resume(follower=obj, actor=actor, reason=reason)
        elif enabled is False:
            follower_pause(follower=obj, actor=actor, reason=reason)


class RiskLimitForm(ReasonForm):
    class Meta:
        model = RiskLimit
        fields = RISK_LIMIT_FIELDS


@admin.register(RiskLimit)
class RiskLimitAdmin(ServiceAdmin):
    """Every limit through ``risk_limit_update`` (its checks, its journal row)."""

    form = RiskLimitForm
    list_display = ("account", "daily_loss", "max_contracts")
    readonly_fields = ("account",)
    fields = ("account", *RISK_LIMIT_FIELDS, "reason")

    def service_apply(
        self, *, request: HttpRequest, obj: Any, changes: dict[str, Any], reason: str, actor: User
    ) -> None:
        if changes:
            risk_limit_update(account=obj.account, actor=actor, reason=reason, **changes)


class QuarantineForm(ReasonForm):
    release = forms.BooleanField(
        required=False, help_text="Lift it now: the follower's next entry in the symbol is copied."
    )

    class Meta:
        model = Quarantine
        fields = ("release",)


@admin.register(Quarantine)
class QuarantineAdmin(ServiceAdmin):
    """Shown; an active one is released through ``quarantine_release`` with
    the staff member and the reason. Quarantines are started by the engine."""

    form = QuarantineForm
    list_display = ("follower", "symbol", "trading_date", "released_at", "released_by")
    list_filter = ("trading_date",)
    readonly_fields = ("follower", "symbol", "reason_shown", "trading_date", "released_at")
    fields = (*readonly_fields, "release", "reason")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        # The model has its own "reason" (why it was quarantined): only
        # "release" is a model-form field, so the staff reason starts empty
        # and never writes the model's column.
        kwargs["fields"] = ("release",)
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="why quarantined")
    def reason_shown(self, obj: Quarantine) -> str:
        return obj.reason

    def service_apply(
        self, *, request: HttpRequest, obj: Any, changes: dict[str, Any], reason: str, actor: User
    ) -> None:
        if changes.get("release"):
            quarantine_release(
                quarantine=obj, actor_label=actor.username, actor_user_id=actor.pk, reason=reason
            )


@admin.register(ContractSpec)
class ContractSpecAdmin(HistoryAdmin):
    """Reference data from the committed table (``contract_specs_sync``):
    an edit here would be undone by the next sync and would silently change
    every route's sizing meanwhile."""

    list_display = (
        "root",
        "name",
        "exchange",
        "tick_size",
        "tick_value",
        "point_value",
        "micro_of",
    )


@admin.register(CopyOrder)
class CopyOrderAdmin(HistoryAdmin):
    list_display = (
        "created_at",
        "group",
        "account",
        "side",
        "qty",
        "symbol",
        "status",
        "client_order_id",
    )
    list_filter = ("status",)


@admin.register(LeaderEvent)
class LeaderEventAdmin(HistoryAdmin):
    list_display = ("occurred_at", "account", "symbol", "side", "qty", "source")
