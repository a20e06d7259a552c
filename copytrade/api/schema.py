"""OpenAPI schema helpers for drf-spectacular (``SPECTACULAR_SETTINGS``)."""

from __future__ import annotations

from typing import Any

API_PREFIX = "/api/v1/"


def api_v1_only(endpoints: list[tuple[Any, ...]], **_: Any) -> list[tuple[Any, ...]]:
    """Preprocessing hook: keep the endpoints under ``/api/v1/`` (the pages'
    own JSON views, such as the group snapshot, are not the public API).
    ``endpoints`` are drf-spectacular's ``(path, path_regex, method, callback)``."""
    return [e for e in endpoints if e[0].startswith(API_PREFIX)]
