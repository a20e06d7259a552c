"""Where the pages find the charting library (uPlot).

`make install` copies it from npm (``package-lock.json``) into
``static/vendor/`` (not in git), served with the other static files: no CDN.
Without it the pages keep their tables and say why.
"""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage

CHART_SCRIPT = "vendor/uplot/uPlot.iife.min.js"
CHART_STYLE = "vendor/uplot/uPlot.min.css"


def chart_library() -> dict[str, str] | None:
    """URLs of the charting library's ``script`` and ``style``, or ``None``
    when `make install` has not copied them (npm missing)."""
    if not (finders.find(CHART_SCRIPT) or staticfiles_storage.exists(CHART_SCRIPT)):
        return None
    return {
        "script": staticfiles_storage.url(CHART_SCRIPT),
        "style": staticfiles_storage.url(CHART_STYLE),
    }
