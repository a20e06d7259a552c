"""Seed the contract specification table from routing.contract_specs.

Importing the project's table (rather than freezing rows here) keeps one copy
of the figures; a later change to the table comes with its own migration
calling the same upsert (``contract_specs_sync``).
"""

from django.db import migrations


def seed(apps, schema_editor):
    from routing.services.contracts import contract_specs_sync

    contract_specs_sync(model=apps.get_model("routing", "ContractSpec"))


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_route_triggers")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
