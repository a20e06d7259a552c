"""manage.py bench_ratelimits --quick: the JSON fields, and the fake platforms
counted no limit violation while the unbudgeted control was refused.

No timing targets beyond what the windows force: the burst must wait for
the (shortened) ProjectX window, which is the budget holding it.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from routing.runtime.bench_ratelimits import QUICK_SCALE


def test_quick_run_when_benchmarked_then_no_platform_counted_a_violation() -> None:
    # Arrange
    out = StringIO()
    # Act
    call_command("bench_ratelimits", "--quick", stdout=out)
    # Assert
    result = json.loads(out.getvalue())
    assert result["machine"]["cpu_count"] >= 1 and len(result["machine"]["loadavg"]) == 3
    cases = {case["case"]: case for case in result["cases"]}
    assert set(cases) == {
        "projectx_20_followers_1_logins",
        "projectx_20_followers_20_logins",
        "tradovate_20_followers_1_logins",
        "tradovate_20_followers_20_logins",
        "ib_20_followers_1_logins",
        "ib_20_followers_20_logins",
        "burst",
        "penalty",
        "control",
    }
    assert result["violations"] == 0 and result["all_accepted"] is True
    for name, case in cases.items():
        if name == "control":
            continue
        server = case["server"]
        assert server["rejections"] == 0 and server["late_requests"] == 0, case
        assert case["accepted"] == case["orders"] == server["accepted"], case
        assert case["last_accepted_s"] >= 0 and case["max_wait_s"] >= 0
        for label, seen in server["max_in_window"].items():
            assert seen <= int(label.split("/")[0]), (name, label)
    # 20 followers on one login: one login's window saw all 60 orders; on 20
    # logins, each login's saw its own 3.
    assert cases["projectx_20_followers_1_logins"]["server"]["max_in_window"] == {"200/3s": 60}
    assert cases["projectx_20_followers_20_logins"]["server"]["max_in_window"] == {"200/3s": 3}
    # IB: 60 orders on one login cannot go within one second at 45 per second.
    assert cases["ib_20_followers_1_logins"]["last_accepted_s"] >= 1.0
    # The burst: 300 entries on one ProjectX login, at most 162 (180 less the
    # exit reserve) per window; the rest waited for the window (3 s + 2 s guard).
    burst = cases["burst"]
    assert burst["server"]["max_in_window"]["200/3s"] <= 180
    assert burst["max_wait_s"] >= 60 * QUICK_SCALE + 2.0 - 0.05
    # The penalty: every order was told to wait, none came back early.
    penalty = cases["penalty"]
    assert penalty["server"]["penalties_injected"] == 1
    assert penalty["penalties_seen"] >= 1 and penalty["last_accepted_s"] >= 0.5
    # The control burst without a budget is refused by the server: it enforces.
    control = cases["control"]
    assert control["server"]["rejections"] > 0
    assert control["accepted"] + control["server"]["rejections"] == 300


def test_bad_counts_are_refused_with_the_reason() -> None:
    with pytest.raises(CommandError, match="counts must be >= 1"):
        call_command("bench_ratelimits", "--quick", "--followers", "0", stdout=StringIO())
