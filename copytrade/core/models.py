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


class StoredGeneratedField(models.GeneratedField):
    """A column the database computes from others and stores
    (``GeneratedField`` with ``db_persist=True``, always).

    Django's own system check of a generated field asks each database's
    live connection which kinds of generated column it supports, so
    ``manage.py check --deploy`` failed wherever the database cannot be
    reached (a build machine, CI). Both databases this project runs on
    store generated columns (PostgreSQL 12+, SQLite 3.31+: Django's
    ``supports_stored_generated_columns``), so this field's check leaves
    the connections alone; everything else is ``GeneratedField``'s."""

    def __init__(self, *, expression: Any, output_field: models.Field, **kwargs: Any) -> None:
        kwargs["db_persist"] = True
        super().__init__(expression=expression, output_field=output_field, **kwargs)

    def check(self, **kwargs: Any) -> list[Any]:
        return super().check(**{**kwargs, "databases": []})


ZERO = Decimal(0)
