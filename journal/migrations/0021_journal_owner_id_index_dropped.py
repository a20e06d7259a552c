"""Drop the journal's index on ``owner_id`` alone: ``journal_owner_recent``
(owner_id, occurred_at) leads with it, and every journal row written paid
for both.

The index is dropped by name, not by ``AlterField``: on SQLite Django
alters a field by rebuilding the table, which would drop the append-only
triggers of migration 0003.
"""

from django.db import migrations, models

INDEX = "journal_journalentry_owner_id_27704def"


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0020_position_close_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="journalentry",
                    name="owner_id",
                    field=models.BigIntegerField(help_text="User whose journal this is."),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=(
                        f'CREATE INDEX IF NOT EXISTS {INDEX} ON "journal_journalentry" ("owner_id")'
                    ),
                ),
            ],
        ),
    ]
