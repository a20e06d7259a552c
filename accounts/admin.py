"""Admin for users and broker accounts.

Broker accounts and logins are shown only: they change on their owner's
accounts page through :mod:`accounts.broker_accounts` and
:mod:`accounts.logins`, whose journal rows name the owner; a staff edit
here would bypass the credential checks and the journal (issue 14).
Users stay on Django's own user admin (staff accounts and permissions;
Django's admin log records those changes).
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import BrokerAccount, BrokerLogin, User
from copytrade.admin_service import HistoryAdmin

admin.site.register(User, UserAdmin)


@admin.register(BrokerAccount)
class BrokerAccountAdmin(HistoryAdmin):
    list_display = ("name", "owner", "platform", "kind", "balance")
    list_filter = ("platform", "kind")


@admin.register(BrokerLogin)
class BrokerLoginAdmin(HistoryAdmin):
    # The secret column is a ciphertext, and the admin has no use for it.
    exclude = ("secret",)
    list_display = ("label", "owner", "platform", "environment", "identity", "enabled")
    list_filter = ("platform", "environment", "enabled")
