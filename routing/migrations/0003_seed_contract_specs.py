"""Seed the contract specification table from routing.contract_specs.

Importing the project's table (rather than freezing rows here) keeps one copy
of the figures; a later change to the table comes with its own migration
calling the same upsert.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from routing.contract_specs import CME_CONTRACT_SPECS

    ContractSpec = apps.get_model("routing", "ContractSpec")
    for spec in CME_CONTRACT_SPECS:
        ContractSpec.objects.update_or_create(
            root=spec.root,
            defaults={
                "name": spec.name, "exchange": spec.exchange, "tick_size": spec.tick_size,
                "tick_value": spec.tick_value, "point_value": spec.point_value,
                "micro_of": spec.micro_of or "", "currency": spec.currency, "source": spec.source,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_route_triggers")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
