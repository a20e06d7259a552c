from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import BrokerAccount, User

admin.site.register(User, UserAdmin)


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "platform", "kind", "balance")
    list_filter = ("platform", "kind")
