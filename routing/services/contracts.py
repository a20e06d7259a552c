"""Contract specifications: keep the table equal to routing.contract_specs."""

from __future__ import annotations

from typing import Any

from routing.contract_specs import CME_CONTRACT_SPECS


def contract_specs_sync(*, model: Any = None) -> int:
    """Upsert every row of :data:`CME_CONTRACT_SPECS`; returns the row count.

    ``model`` lets a data migration pass its historical ``ContractSpec``.
    Idempotent.
    """
    if model is None:
        from routing.models import ContractSpec as model
    for spec in CME_CONTRACT_SPECS:
        model.objects.update_or_create(
            root=spec.root,
            defaults={
                "name": spec.name,
                "exchange": spec.exchange,
                "tick_size": spec.tick_size,
                "tick_value": spec.tick_value,
                "point_value": spec.point_value,
                "micro_of": spec.micro_of or "",
                "currency": spec.currency,
                "source": spec.source,
            },
        )
    return len(CME_CONTRACT_SPECS)
