"""Strict readers for settings taken from the environment (Healthchecks style).

A malformed value raises ``ImproperlyConfigured`` naming the variable, rather
than silently falling back to a default.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def envbool(name: str, default: bool) -> bool:
    """``True``/``False`` exactly (also 1/0, true/false); anything else raises."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, got {raw!r}")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def envdecimal(name: str, default: Decimal) -> Decimal:
    """``NAME`` as a finite ``Decimal`` (``"5"``, ``"2.5"``), else ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc
    if not value.is_finite():
        raise ImproperlyConfigured(f"{name} must be a finite number, got {raw!r}")
    return value


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envsecret(name: str, default: str | None = None) -> str | None:
    """``NAME`` or the contents of the file named by ``NAME_FILE`` (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)
