"""Project-level app configs."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """``django.contrib.admin`` with :class:`copytrade.admin_site.SecondFactorAdminSite`
    as ``admin.site``, so every ``@admin.register`` lands on the guarded site."""

    default_site = "copytrade.admin_site.SecondFactorAdminSite"
