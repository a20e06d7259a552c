from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import BrokerAccount, BrokerLogin, User

admin.site.register(User, UserAdmin)


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "platform", "kind", "balance")
    list_filter = ("platform", "kind")


@admin.register(BrokerLogin)
class BrokerLoginAdmin(admin.ModelAdmin):
    # The secret column is a ciphertext, but the admin has no use for it:
    # credentials change on the accounts page only.
    exclude = ("secret",)
    readonly_fields = ("connection_state", "connection_detail", "connection_since")
    list_display = ("label", "owner", "platform", "environment", "identity", "enabled")
    list_filter = ("platform", "environment", "enabled")
