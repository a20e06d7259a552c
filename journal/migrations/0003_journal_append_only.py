"""Make journal entries append-only in the database itself.

The model refuses save() on an existing row and delete(); these triggers
refuse UPDATE and DELETE from any other path (raw SQL, bulk queryset calls).
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION journal_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'copytrade: journal entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON journal_journalentry
    FOR EACH ROW EXECUTE FUNCTION journal_entry_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS journal_entry_append_only ON journal_journalentry;
DROP FUNCTION IF EXISTS journal_entry_append_only();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER journal_entry_no_update BEFORE UPDATE ON journal_journalentry
       BEGIN SELECT RAISE(ABORT, 'copytrade: journal entries are append-only'); END""",
    """CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON journal_journalentry
       BEGIN SELECT RAISE(ABORT, 'copytrade: journal entries are append-only'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS journal_entry_no_update",
    "DROP TRIGGER IF EXISTS journal_entry_no_delete",
]


def _run(schema_editor, postgres, sqlite):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(postgres, params=None)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"journal triggers are written for PostgreSQL and SQLite, not {vendor}")


def forward(apps, schema_editor):
    _run(schema_editor, PG_FORWARD, SQLITE_FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, PG_BACKWARD, SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("journal", "0002_initial")]
    operations = [migrations.RunPython(forward, backward)]
