"""Template context for every page: the engine's state for the header badge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from routing.selectors import engine_status


def engine_health(request: HttpRequest) -> dict[str, Any]:
    """``engine_health``: :class:`routing.selectors.EngineStatus`, read (one
    query) only when a template uses it, so pages without the badge pay nothing."""
    return {"engine_health": SimpleLazyObject(engine_status)}
