"""The performance figures on the embedded default (SQLite) too.

The suite runs on PostgreSQL; the send times ride in the batched order
update (:func:`copytrade.core.bulk.bulk_set`, written per vendor) and the
percentiles are computed in Python over one query, so this records the
worked session of ``performance_fixtures`` on a scratch SQLite file, in a
child process, and reads the same figures back.
"""

from __future__ import annotations

import json
from pathlib import Path

from routing.tests.performance_fixtures import NOW
from tests.sqlite_child import sqlite_manage

SCRIPT = """
import json
from datetime import date
from decimal import Decimal
from accounts.models import User
from accounts.services import broker_account_create
from conftest import Route
from routing.copy_quality import copy_quality, copy_quality_payload
from routing import equity as equity_module
from routing.equity import group_equity, group_equity_payload
from routing.services.copy_groups import copy_group_create, follower_add
from routing.tests.performance_fixtures import NOW, worked_session

alice = User.objects.create_user("sqlite-alice")
leader = broker_account_create(owner=alice, name="Lead", balance=Decimal(150_000))
small = broker_account_create(owner=alice, name="Eval 25K", balance=Decimal(25_000))
large = broker_account_create(owner=alice, name="Funded 150K", balance=Decimal(150_000))
group = copy_group_create(owner=alice, name="Evals", leader=leader)
route = Route(
    alice, group, leader, small, large,
    follower_add(group=group, account=small, ratio=Decimal("0.5")),
    follower_add(group=group, account=large, ratio=Decimal(3)),
)
worked_session(route)
quality = copy_quality_payload(copy_quality(group=group, at=NOW))
day = date(2026, 3, 10)
equity = group_equity_payload(group_equity(group=group, first=day, last=day, at=NOW))
equity_module.POINTS_MAX = 1  # the fills summed per minute (SQL date truncation)
minutes = group_equity_payload(group_equity(group=group, first=day, last=day, at=NOW))
print(json.dumps({
    "route": quality["route"],
    "small_last": quality["followers"][0]["last"]["slippage_per_contract"],
    "group": equity["group"]["values"],
    "variance": [v["variance"] for v in equity["variance"]],
    "minutes": [minutes["resolution"], minutes["x"][1], minutes["group"]["values"]],
}))
"""


def test_latency_slippage_and_equity_figures_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "embedded.sqlite3"
    manage = sqlite_manage(db)

    manage("migrate", "--noinput", "-v0")
    figures = json.loads(manage("shell", "--no-imports", "-c", SCRIPT).strip().splitlines()[-1])
    # The same figures as on PostgreSQL (test_copy_quality, test_equity).
    assert figures["route"] == {
        "orders": 4,
        "handoff_ms": {"count": 4, "p50": "1.75", "p99": "2.97"},
        "ack_ms": {"count": 4, "p50": "16.13", "p99": "29.7"},
        "slippage_ticks": {"count": 4, "p50": "1.5", "p99": "2"},
        "slippage_dollars": "2.00",
    }
    assert figures["small_last"] == "1.00"
    assert figures["group"] == [0.0, 134.5, 134.5]
    assert figures["variance"] == ["-2.00", "0.00"]
    # The 15:01 UTC minute's three closing fills, shown at its end (15:02).
    assert figures["minutes"] == ["minute", NOW.timestamp(), [0.0, 134.5]]
