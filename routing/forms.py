"""Forms for the dashboard (Django forms: validation and error display)."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms

from journal.importers.base import DEFAULT_TIMEZONE

_ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)
_COMMON = [
    "UTC",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "Asia/Jerusalem",
]


class ExportUploadForm(forms.Form):
    """An export to import and replay into one of the user's groups."""

    file = forms.FileField(
        help_text="Tradovate Fills / Performance / Position History, NinjaTrader 8 "
        "Executions, or a TopstepX trade dump (journal only)."
    )
    timezone = forms.ChoiceField(
        choices=[(z, z) for z in _COMMON] + [(z, z) for z in _ZONES if z not in _COMMON],
        initial=DEFAULT_TIMEZONE,
        help_text="Zone of timestamps that carry none (Tradovate, NinjaTrader write local time).",
    )
    leader_account = forms.CharField(
        required=False,
        max_length=100,
        help_text="For files with several accounts: whose fills lead.",
    )
    interval_ms = forms.IntegerField(
        min_value=0,
        max_value=60_000,
        initial=1000,
        help_text="Milliseconds between replayed leader fills.",
    )
