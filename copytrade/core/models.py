"""Abstract base model and the project's money / price / quantity fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models

from copytrade.core import lookups  # noqa: F401  (registers ``field__any_of``)


class BaseModel(models.Model):
    """``created_at`` (indexed) and ``updated_at`` on every table (HackSoft)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def money_field(**kwargs: Any) -> models.DecimalField:
    """A dollar amount column: ``Decimal`` with the project-wide precision."""
    kwargs.setdefault("max_digits", settings.AMOUNT_MAX_DIGITS)
    kwargs.setdefault("decimal_places", settings.AMOUNT_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


def price_field(**kwargs: Any) -> models.DecimalField:
    """A price in price points (index points, $/bbl, $/oz)."""
    kwargs.setdefault("max_digits", settings.PRICE_MAX_DIGITS)
    kwargs.setdefault("decimal_places", settings.PRICE_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


ZERO = Decimal(0)
