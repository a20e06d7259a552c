"""The project's contract spec table: consistent and equal to shared/data's."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from routing.contract_specs import CME_CONTRACT_SPECS, SPECS_BY_ROOT
from routing.models import ContractSpec


@pytest.mark.parametrize("spec", CME_CONTRACT_SPECS, ids=lambda s: s.root)
def test_tick_size_times_point_value_is_tick_value(spec) -> None:
    assert spec.tick_size * spec.point_value == spec.tick_value
    assert spec.source


def test_micro_is_a_tenth_of_its_mini_except_silver() -> None:
    for spec in CME_CONTRACT_SPECS:
        if spec.micro_of:
            ratio = spec.point_value / SPECS_BY_ROOT[spec.micro_of].point_value
            assert ratio == (Decimal("0.2") if spec.root == "SIL" else Decimal("0.1")), spec.root


def test_table_agrees_with_shared_compiled_specs(shared_data: Path) -> None:
    with (shared_data / "contract_specs.csv").open(newline="") as handle:
        rows = {row["symbol"]: row for row in csv.DictReader(handle)}
    for root, row in rows.items():
        spec = SPECS_BY_ROOT[root]
        assert spec.tick_size == Decimal(row["tick_size"]), root
        assert spec.tick_value == Decimal(row["tick_value_usd"]), root
        assert spec.point_value == Decimal(row["point_value_usd"]), root
        assert (spec.micro_of or "") == row["micro_of"], root


@pytest.mark.django_db
def test_migration_seeded_every_spec() -> None:
    assert set(ContractSpec.objects.values_list("root", flat=True)) == set(SPECS_BY_ROOT)
    mnq = ContractSpec.objects.get(root="MNQ").to_engine()
    assert (str(mnq.tick_size), str(mnq.point_value)) == ("0.25", "2")
