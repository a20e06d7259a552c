"""Who may call the REST API, and what it leaves to the dashboard.

Every endpoint but the token request needs an authenticated user (token or
session). Object-level access is by scoping, not by a permission check:
each view's queryset holds only the requesting user's rows, so another
user's id answers 404, never 403 (it does not even say the row exists).

Actions the site guards with a re-authentication (accounts/reauth.py:
leaving route level 4 Locked, resuming a paused route or follower) are
refused here with 403 and a message naming the dashboard: a token is a
standing credential and cannot prove the owner is present.
"""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated

__all__ = ["DashboardOnly", "IsAuthenticated"]


class DashboardOnly(PermissionDenied):
    """403: the action needs a recent re-authentication, which only the
    dashboard can ask for. ``what`` says what to do there."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs you to confirm it is you (re-authentication): do it in the "
            "dashboard. The API never does it."
        )
