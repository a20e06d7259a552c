"""The embedded default (SQLite) migrates from scratch with every route trigger.

The suite runs on PostgreSQL; SQLite rebuilds tables to alter them, which once
broke on the route triggers (migration 0005), so this runs the real
``migrate`` on a scratch SQLite file in a child process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.sqlite_child import sqlite_manage

TRIGGERS = {
    "journal_entry_no_delete",
    "journal_entry_no_update",
    "routing_copygroup_leader_fixed",
    "routing_copygroup_leader_not_follower",
    "routing_follower_not_leader",
    "routing_follower_not_leader_update",
}


def test_sqlite_migrates_from_scratch_with_every_trigger(tmp_path: Path) -> None:
    db = tmp_path / "embedded.sqlite3"
    sqlite_manage(db)("migrate", "--noinput", "-v0")
    with sqlite3.connect(db) as conn:
        names = {
            row[0] for row in conn.execute("select name from sqlite_master where type='trigger'")
        }
    assert names >= TRIGGERS


def test_sqlite_journal_keeps_its_owner_index_once(tmp_path: Path) -> None:
    # journal 0021 drops the index on owner_id alone by name (an AlterField
    # would rebuild the table and drop the append-only triggers): the
    # composite index leading with owner_id stays, and so do the triggers.
    db = tmp_path / "embedded.sqlite3"
    sqlite_manage(db)("migrate", "--noinput", "-v0")
    with sqlite3.connect(db) as conn:
        indexes = {
            name: [row[2] for row in conn.execute(f"pragma index_info('{name}')")]
            for (name,) in conn.execute(
                "select name from sqlite_master where type='index' "
                "and tbl_name='journal_journalentry'"
            )
        }
        triggers = {
            row[0] for row in conn.execute("select name from sqlite_master where type='trigger'")
        }
    assert ["owner_id"] not in indexes.values()
    assert indexes["journal_owner_recent"] == ["owner_id", "occurred_at"]
    assert {"journal_entry_no_delete", "journal_entry_no_update"} <= triggers
