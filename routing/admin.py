"""Admin: the database constraints and triggers still apply to edits made here."""

from django.contrib import admin

from routing.models import ContractSpec, CopyGroup, CopyOrder, Follower, RiskLimit


class FollowerInline(admin.TabularInline):
    model = Follower
    extra = 0


@admin.register(CopyGroup)
class CopyGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "leader", "copy_mode", "copy_value", "rounding", "enabled")
    inlines = [FollowerInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # The leader is fixed after creation (a trigger refuses the change).
        return ("leader",) if obj is not None else ()


@admin.register(RiskLimit)
class RiskLimitAdmin(admin.ModelAdmin):
    list_display = ("account", "daily_loss", "max_contracts")


@admin.register(ContractSpec)
class ContractSpecAdmin(admin.ModelAdmin):
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
class CopyOrderAdmin(admin.ModelAdmin):
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

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
