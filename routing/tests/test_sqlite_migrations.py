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
