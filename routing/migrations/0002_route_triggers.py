"""Database triggers for the route rules a row-level constraint cannot express.

* The leader of a copy group never changes after creation.
* An account that leads a group never follows one, and a follower account
  never leads (no cycles, DESIGN.md "Copy group").

On PostgreSQL each trigger first locks the broker account row, so two
transactions racing to make one account a leader and a follower serialise
and the second sees the first's row. SQLite serialises writers already.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION routing_copygroup_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.leader_id IS DISTINCT FROM OLD.leader_id THEN
        RAISE EXCEPTION 'copytrade: the leader of copy group % cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    PERFORM 1 FROM accounts_brokeraccount WHERE id = NEW.leader_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM routing_follower WHERE account_id = NEW.leader_id) THEN
        RAISE EXCEPTION 'copytrade: account % is a follower and cannot lead a copy group', NEW.leader_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER routing_copygroup_guard BEFORE INSERT OR UPDATE ON routing_copygroup
    FOR EACH ROW EXECUTE FUNCTION routing_copygroup_guard();

CREATE OR REPLACE FUNCTION routing_follower_guard() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM accounts_brokeraccount WHERE id = NEW.account_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM routing_copygroup WHERE leader_id = NEW.account_id) THEN
        RAISE EXCEPTION 'copytrade: account % leads a copy group and cannot follow one', NEW.account_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER routing_follower_guard BEFORE INSERT OR UPDATE OF account_id ON routing_follower
    FOR EACH ROW EXECUTE FUNCTION routing_follower_guard();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS routing_follower_guard ON routing_follower;
DROP FUNCTION IF EXISTS routing_follower_guard();
DROP TRIGGER IF EXISTS routing_copygroup_guard ON routing_copygroup;
DROP FUNCTION IF EXISTS routing_copygroup_guard();
"""

SQLITE_FORWARD = [
    """CREATE TRIGGER routing_copygroup_leader_fixed BEFORE UPDATE OF leader_id ON routing_copygroup
       WHEN NEW.leader_id IS NOT OLD.leader_id
       BEGIN SELECT RAISE(ABORT, 'copytrade: the leader of a copy group cannot change'); END""",
    """CREATE TRIGGER routing_copygroup_leader_not_follower BEFORE INSERT ON routing_copygroup
       WHEN EXISTS (SELECT 1 FROM routing_follower WHERE account_id = NEW.leader_id)
       BEGIN SELECT RAISE(ABORT, 'copytrade: a follower account cannot lead a copy group'); END""",
    """CREATE TRIGGER routing_follower_not_leader BEFORE INSERT ON routing_follower
       WHEN EXISTS (SELECT 1 FROM routing_copygroup WHERE leader_id = NEW.account_id)
       BEGIN SELECT RAISE(ABORT, 'copytrade: a leader account cannot follow a copy group'); END""",
    """CREATE TRIGGER routing_follower_not_leader_update BEFORE UPDATE OF account_id ON routing_follower
       WHEN EXISTS (SELECT 1 FROM routing_copygroup WHERE leader_id = NEW.account_id)
       BEGIN SELECT RAISE(ABORT, 'copytrade: a leader account cannot follow a copy group'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS routing_copygroup_leader_fixed",
    "DROP TRIGGER IF EXISTS routing_copygroup_leader_not_follower",
    "DROP TRIGGER IF EXISTS routing_follower_not_leader",
    "DROP TRIGGER IF EXISTS routing_follower_not_leader_update",
]


def _run(schema_editor, postgres: str, sqlite: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(postgres, params=None)
    elif vendor == "sqlite":
        for statement in sqlite:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"route triggers are written for PostgreSQL and SQLite, not {vendor}")


def forward(apps, schema_editor):
    _run(schema_editor, PG_FORWARD, SQLITE_FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, PG_BACKWARD, SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial"), ("accounts", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
