"""Column cast types of bulk statements, worked out once per field.

The cache holds its fields weakly: a field kept alive by it would keep its
model and that model's app registry alive (a model class made at run time,
a migration's historical model).
"""

from __future__ import annotations

import gc
import weakref

from django.db import connection, models

from copytrade.core.bulk import _cast_type


def test_a_cast_type_is_the_columns_type_without_a_length() -> None:
    field = models.CharField(max_length=30)
    field.set_attributes_from_name("symbol")
    assert _cast_type(field, connection) == (
        "varchar" if connection.vendor == "postgresql" else field.db_type(connection)
    )
    assert _cast_type(field, connection) == _cast_type(field, connection)


def test_the_cache_keeps_no_field_alive() -> None:
    field = models.DecimalField(max_digits=12, decimal_places=2)
    field.set_attributes_from_name("price")
    _cast_type(field, connection)
    gone = weakref.ref(field)
    del field
    gc.collect()
    assert gone() is None
